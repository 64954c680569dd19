"""The scripted incidents behind the k8s_reconcile samples: `python specs/write_samples.py
k8s_reconcile` writes them to samples/*.jsonl, with their expected violations in
samples/*.truth.jsonl.

Each sample is a scripted stretch of the API server's audit log (audit.k8s.io/v1
events, stage ResponseComplete) for three Widgets in namespace `shop` and their child
Deployments: users create and edit Widgets with kubectl, the widget-controller writes
the Deployments and the Widgets' status. Reads and failed requests are audited too and
match no rule. Deterministic: the same bytes on every run (a test checks the committed
samples).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 4, 10, 0, 0, tzinfo=timezone.utc)
CONTROLLER = "system:serviceaccount:widget-system:widget-controller"
CONTROLLER_UA = "widget-controller/v0.9.1"
KUBECTL = ("alice@example.com", "kubectl/v1.30.2")


def _ts(sec: float) -> str:
    return (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Log:
    """Audit events with their stage time; written sorted by time. Tracks each Widget's
    generation and observedGeneration as the API server would."""

    def __init__(self) -> None:
        self.records: list[tuple[float, int, str]] = []
        self.rng = random.Random(4)
        self.generation: dict[str, int] = {}
        self.observed: dict[str, int] = {}
        self.resource_version = 1000

    def audit(self, sec: float, verb: str, resource: str, name: str, code: int, user: str,
              agent: str, request=None, response=None, sub: str | None = None,
              group: str = "example.com") -> None:
        self.resource_version += 1
        ref = {"resource": resource, "namespace": "shop", "name": name, "apiGroup": group,
               "apiVersion": "v1"}
        uri = f"/apis/{group}/v1/namespaces/shop/{resource}"
        if verb != "create":
            uri += f"/{name}"
        if sub:
            ref["subresource"] = sub
            uri += f"/{sub}"
        ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
              "auditID": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
              "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
              "user": {"username": user}, "sourceIPs": ["10.42.0.17"], "userAgent": agent,
              "objectRef": ref, "responseStatus": {"metadata": {}, "code": code}}
        if request is not None:
            ev["requestObject"] = request
        if response is not None:
            ev["responseObject"] = response
        ev["requestReceivedTimestamp"] = _ts(sec - 0.004)
        ev["stageTimestamp"] = _ts(sec)
        self.records.append((sec, len(self.records), json.dumps(ev, separators=(",", ":"))))

    def widget(self, name: str, replicas: int) -> dict:
        g = self.generation[name]
        body = {"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}",
                             "generation": g, "resourceVersion": str(self.resource_version)},
                "spec": {"replicas": replicas, "image": f"registry.example.com/{name}:1.{g}"},
                "status": {}}
        if name in self.observed:
            body["status"] = {"observedGeneration": self.observed[name]}
        return body

    def create(self, sec: float, name: str, replicas: int = 2) -> None:
        self.generation[name] = 1
        self.observed.pop(name, None)
        self.audit(sec, "create", "widgets", name, 201, *KUBECTL,
                   response=self.widget(name, replicas))

    def edit(self, sec: float, name: str, replicas: int, spec_change: bool = True,
             who: tuple[str, str] = KUBECTL) -> None:
        if spec_change:
            self.generation[name] += 1
        self.audit(sec, "patch", "widgets", name, 200, *who, response=self.widget(name, replicas))

    def apply(self, sec: float, name: str, generation: int, replicas: int = 2,
              verb: str = "patch") -> None:
        """The controller writes the child Deployment from the spec of `generation`."""
        image = f"registry.example.com/{name}:1.{generation}"
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": "shop",
                            "annotations": {"widgets.example.com/generation": str(generation)},
                            "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Widget",
                                                 "name": name, "uid": f"uid-{name}",
                                                 "controller": True}]},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                   {"name": "app", "image": image}]}}}}
        self.audit(sec, verb, "deployments", name, 201 if verb == "create" else 200,
                   CONTROLLER, CONTROLLER_UA, request=dep, response=dep, group="apps")

    def status(self, sec: float, name: str, observed: int, replicas: int = 2,
               code: int = 200) -> None:
        if code == 200:
            self.observed[name] = observed
            body = self.widget(name, replicas)
            body["status"] = {"observedGeneration": observed, "readyReplicas": replicas}
        else:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "Conflict", "code": code}
        self.audit(sec, "update", "widgets", name, code, CONTROLLER, CONTROLLER_UA,
                   response=body, sub="status")

    def delete(self, sec: float, name: str) -> None:
        self.audit(sec, "delete", "widgets", name, 200, *KUBECTL,
                   response={"kind": "Status", "apiVersion": "v1", "status": "Success",
                             "details": {"name": name, "group": "example.com",
                                         "kind": "widgets"}})

    def get(self, sec: float, name: str) -> None:
        self.audit(sec, "get", "widgets", name, 200, "bob@example.com", "kubectl/v1.30.2",
                   response=self.widget(name, 2))

    def text(self) -> str:
        return "".join(line + "\n" for _, _, line in sorted(self.records))


def _prologue(log: Log) -> None:
    """Three Widgets created and reconciled; checkout edited twice 0.4 s apart, so the
    controller's cache still holds generation 2 when it reconciles; its first status
    update is refused with 409 (stale resourceVersion), the retry goes through."""
    for t, name in ((0.0, "checkout"), (2.0, "cart"), (3.5, "search")):
        log.create(t, name)
        log.apply(t + 0.6, name, 1, verb="create")
        log.status(t + 0.9, name, 1)
    log.edit(60.0, "checkout", 3)
    log.edit(60.4, "checkout", 4)
    log.apply(60.7, "checkout", 2, replicas=3)
    log.status(60.9, "checkout", 2, replicas=3, code=409)
    log.status(61.0, "checkout", 2, replicas=3)
    log.apply(61.3, "checkout", 3, replicas=4)
    log.status(61.5, "checkout", 3, replicas=4)
    log.get(75.0, "checkout")


def _checkout_scaled(log: Log, at: float) -> None:
    log.edit(at, "checkout", 5)
    log.apply(at + 1.0, "checkout", 4, replicas=5)
    log.status(at + 1.2, "checkout", 4, replicas=5)


def clean() -> Log:
    log = Log()
    _prologue(log)
    log.edit(120.0, "cart", 2, spec_change=False,  # Argo CD adds a label: same generation
             who=("argocd", "argocd-application-controller/v2.12"))
    log.edit(130.0, "cart", 3)
    log.apply(130.6, "cart", 2, replicas=3)
    log.status(130.8, "cart", 2, replicas=3)
    log.delete(200.0, "search")
    log.create(230.0, "search")  # re-created under the same name: a new lifecycle
    log.apply(230.5, "search", 1, verb="create")
    log.status(230.8, "search", 1)
    _checkout_scaled(log, 240.0)
    return log


def stale_status() -> Log:
    """cart is edited; the controller's cache still holds generation 1, so it re-applies
    spec 1, then (RetryOnConflict with a fresh GET) copies metadata.generation 2 into
    the status. Spec 2 is never applied."""
    log = Log()
    _prologue(log)
    log.edit(130.0, "cart", 3)
    log.apply(130.6, "cart", 1, replicas=2)
    log.status(130.8, "cart", 2, replicas=2)
    _checkout_scaled(log, 240.0)
    return log


def stuck() -> Log:
    """cart is edited at 130 s and the controller's workqueue for it is stuck: nothing
    more for cart, while checkout keeps being reconciled."""
    log = Log()
    _prologue(log)
    log.edit(130.0, "cart", 3)
    _checkout_scaled(log, 240.0)
    log.get(500.0, "checkout")
    log.edit(600.0, "checkout", 6)
    log.apply(600.5, "checkout", 5, replicas=6)
    log.status(600.7, "checkout", 5, replicas=6)
    return log


def apply_after_delete() -> Log:
    """A reconcile that read search from a stale cache re-creates its Deployment after
    the Widget was deleted (the garbage collector then deletes it again)."""
    log = Log()
    _prologue(log)
    log.delete(200.0, "search")
    log.apply(200.3, "search", 1, verb="create")
    _checkout_scaled(log, 240.0)
    return log


#: sample -> (its log, the violations the monitor must report: (key, kind, property))
SAMPLES = {
    "clean": (clean, []),
    "stale_status": (stale_status, [("shop/cart", "unexpected", "write_status")]),
    "stuck": (stuck, [("shop/cart", "deadline", "converges")]),
    "apply_after_delete": (apply_after_delete, [("shop/search", "unexpected", "apply")]),
}

