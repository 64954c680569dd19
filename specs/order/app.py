"""A small checkout saga instrumented with the OpenTelemetry SDK, to run against specmon.

Four services (checkout, inventory, payments, shipping), each with its own
TracerProvider and resource ``service.name``, process N orders. Everything is a
function of ``--seed``: amounts, outcomes, trace and span ids, and event times (a
simulated clock passed as span start/end times, starting 2026-11-01T10:00:00Z), so the
telemetry is reproducible and deadlines are testable. ``--bug`` makes the saga
misbehave in a way the spec (``spec.py``) catches; ``--truth`` writes what it should
catch.

    python specs/order/app.py --orders 40 --seed 1 --file out/orders.jsonl
    python specs/order/app.py --bug double-refund --file out/bad.jsonl --truth out/bad.truth.jsonl
    python specs/order/app.py --start now --otlp-http http://127.0.0.1:4318/v1/traces
    python specs/order/app.py --start now --otlp-grpc 127.0.0.1:4317
    python specs/order/app.py --sample-orders 0.2 --file out/sampled.jsonl

In-process: ``run_shop(processors=[...])`` attaches span processors (for example
``monitor.otel.SpecMonitorProcessor``) to every service's provider and returns the
expected violations. Sampling, ids and the file format live in ``order_otel.py``.

The saga (see README.md): checkout accepts the order (``POST /orders``), its
orchestrator consumes ``order.placed``, reserves stock (inventory), charges the card
(payments; a transient failure is retried once inside payments, a decline never is),
publishes ``order.paid``; shipping consumes it and ships. Compensations run in
``saga.compensate``: refund if charged, release the stock, cancel.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode

# a sibling module: found because a script's directory is on sys.path (in-process users
# put specs/order on sys.path, as tests/specs/order_support.py does)
from order_otel import (  # noqa: F401 - re-exported for in-process users
    OrderIdRatioSampler,
    OtlpJsonLinesExporter,
    SeededIds,
    StageBatcher,
    order_sampler,
    otlp_json_line,
)

SERVICES = ("checkout", "inventory", "payments", "shipping")
#: the simulated clock's default start (a fixed date: samples are reproducible)
START = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
#: the spec's `settles` window (spec.py): shipped or cancelled within 30 minutes
SETTLE_SECONDS = 1800.0

#: --bug choices -> the violation the spec reports for the bugged order
BUGS: dict[str, tuple[str, str]] = {
    "ship-before-charge": ("invariant", "ships_only_paid"),
    "double-refund": ("invariant", "refunds_within_charge"),
    "double-release": ("invariant", "stock_released_once"),
    "retry-declined": ("unexpected", "charge"),
    "no-compensation": ("deadline", "settles"),
    "lost-shipment": ("deadline", "settles"),
}
_BUG_HELP = {
    "ship-before-charge": "orchestrator publishes order.paid when the charge is requested; "
                          "shipping ships before the charge succeeds",
    "double-refund": "after a shipping failure the refund call is retried without an "
                     "idempotency key: refunded twice",
    "double-release": "the stock.release message is redelivered and inventory releases twice",
    "retry-declined": "the orchestrator retries a hard-declined card, and the charge goes through",
    "no-compensation": "the orchestrator crashes after a decline: stock never released, "
                       "order never cancelled",
    "lost-shipment": "the order.paid message is lost: a paid order is never shipped",
}
#: prices in cents; the catalogue of the demo shop
PRICES = (1299, 1500, 2450, 3999, 4999, 8900, 12900)


@dataclass(frozen=True, slots=True)
class Truth:
    key: str
    kind: str
    property: str


# -- the shop ------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """What will happen to one order (drawn from the seed before anything runs)."""

    order_id: str
    amount: int
    items: int
    placed_at: float  # seconds after START
    outcome: str  # shipped | declined | charge_failed | ship_failed | out_of_stock
    transient: bool = False  # first charge attempt times out, the retry decides
    bug: str | None = None


@dataclass(order=True)
class _Stage:
    at: float
    seq: int
    run: Callable[[float], None] = field(compare=False)


class Shop:
    """The four services. Stages of all orders run in simulated-time order and every
    processor is flushed after each stage, so spans leave in (nearly) event-time order:
    a stage lasts under 2 s, well inside specmon's default 5 s lateness."""

    def __init__(self, processors: Sequence[SpanProcessor], *, seed: int = 1,
                 sampler: Sampler | None = None, start: datetime = START) -> None:
        # whole microseconds as integers: a float of epoch nanoseconds would lose the last
        # digits (float64 has ~16 significant digits; epoch nanoseconds need 19)
        self.start_us = round(start.timestamp() * 1e6)
        ids = SeededIds(seed)
        self.rng = random.Random(f"shop-{seed}")
        self.providers: dict[str, TracerProvider] = {}
        self.tracers: dict[str, trace.Tracer] = {}
        for svc in SERVICES:
            resource = Resource({"service.name": svc, "service.namespace": "shop",
                                 "service.version": "1.4.2",
                                 "deployment.environment.name": "demo"})
            provider = TracerProvider(resource=resource, id_generator=ids,
                                      sampler=sampler, shutdown_on_exit=False)
            for p in processors:
                provider.add_span_processor(p)
            self.providers[svc] = provider
            self.tracers[svc] = provider.get_tracer(f"shop.{svc}", "1.4.2")
        self.processors = tuple(processors)
        self._queue: list[_Stage] = []
        self._seq = 0

    # -- scheduling ------------------------------------------------------------------

    def at(self, seconds: float, run: Callable[[float], None]) -> None:
        """Run ``run(seconds)`` when the simulated clock reaches ``seconds``."""
        self._seq += 1
        heapq.heappush(self._queue, _Stage(seconds, self._seq, run))

    def run(self, plans: Sequence[Plan]) -> None:
        for plan in plans:
            self.at(plan.placed_at, lambda t, p=plan: self.place(p, t))
        while self._queue:
            stage = heapq.heappop(self._queue)
            stage.run(stage.at)
            # Simulated time runs a whole day of orders in a second. Flushing after each
            # stage sends telemetry out stage by stage, in event-time order, as real time
            # would (stages are seconds to minutes apart); a batch holding many stages
            # would be regrouped by service and arrive hours out of event-time order.
            for proc in self.processors:
                proc.force_flush()

    # -- spans -----------------------------------------------------------------------

    def span(self, svc: str, name: str, kind: SpanKind, t: float, plan: Plan, *,
             parent: Any = None, links: Sequence[Any] = (), **attrs: Any) -> Any:
        """Start a span at simulated time ``t`` (seconds after the start). A ``parent``
        of the same service is a local parent; one of another service arrives as if
        propagated in a traceparent header (a remote parent)."""
        ctx: Context | None = None
        if parent is not None and _service_of(parent) == svc:
            ctx = trace.set_span_in_context(parent)
        elif parent is not None:
            sc = parent.get_span_context()
            remote = trace.SpanContext(sc.trace_id, sc.span_id, True, sc.trace_flags)
            ctx = trace.set_span_in_context(NonRecordingSpan(remote))
        attributes = {"order.id": plan.order_id, **{k.replace("_", "."): v for k, v in attrs.items()}}
        return self.tracers[svc].start_span(
            name, context=ctx, kind=kind, attributes=attributes,
            links=[Link(s.get_span_context()) for s in links], start_time=self.ns(t))

    def end(self, span: Any, t: float, error: str | None = None) -> float:
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        elif span.is_recording() and span.kind == SpanKind.SERVER:  # sampled out: no kind
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=self.ns(t))
        return t

    def ns(self, t: float) -> int:
        """Simulated time ``t`` (seconds after the start) in epoch nanoseconds."""
        return (self.start_us + round(t * 1e6)) * 1000

    def tick(self, t: float, lo: float = 0.005, hi: float = 0.08) -> float:
        """``t`` plus a seeded duration between ``lo`` and ``hi`` seconds (whole us)."""
        return t + round(self.rng.uniform(lo, hi), 6)

    # -- the saga --------------------------------------------------------------------

    def place(self, plan: Plan, t: float) -> None:
        req = self.span("checkout", "POST /orders", SpanKind.SERVER, t, plan,
                        http_request_method="POST", http_route="/orders",
                        http_response_status_code=202, order_amount=plan.amount,
                        order_currency="EUR", order_items=plan.items)
        t = self.tick(t)
        pub = self.span("checkout", "order.placed publish", SpanKind.PRODUCER, t, plan,
                        parent=req, messaging_system="kafka",
                        messaging_destination_name="order.placed")
        t = self.end(pub, self.tick(t))
        self.end(req, self.tick(t))
        self.at(self.tick(t, 0.5, 2.0), lambda t: self.saga(plan, pub, t))

    def saga(self, plan: Plan, placed: Any, t: float) -> None:
        root = self.span("checkout", "order.placed process", SpanKind.CONSUMER, t, plan,
                         links=[placed], messaging_system="kafka",
                         messaging_destination_name="order.placed")
        t = self.reserve(plan, root, self.tick(t))
        if plan.outcome == "out_of_stock":
            t = self.cancel(plan, root, t)
            self.end(root, self.tick(t))
            return
        if plan.bug == "ship-before-charge":
            t, paid = self.publish_paid(plan, root, t)
            self.end(root, self.tick(t))
            self.at(self.tick(t, 0.5, 1.5), lambda t: self.ship(plan, paid, t))
            self.at(self.tick(t, 3.0, 4.0), lambda t: self.charge_late(plan, t))
            return
        t, ok = self.charge(plan, root, t)
        if plan.bug == "retry-declined":  # the declined card is tried again, and succeeds
            t, ok = self.charge(plan, root, t, force="ok")
        if not ok:
            self.end(root, self.tick(t))
            if plan.bug != "no-compensation":
                self.at(self.tick(t, 1.0, 5.0), lambda t: self.compensate(plan, t, refund=False))
            return
        t, paid = self.publish_paid(plan, root, t)
        self.end(root, self.tick(t))
        if plan.bug != "lost-shipment":
            self.at(self.tick(t, 20.0, 600.0), lambda t: self.ship(plan, paid, t))

    def charge_late(self, plan: Plan, t: float) -> None:
        root = self.span("checkout", "order.charge", SpanKind.INTERNAL, t, plan)
        t, _ = self.charge(plan, root, self.tick(t))
        self.end(root, self.tick(t))

    def reserve(self, plan: Plan, parent: Any, t: float) -> float:
        call = self.span("checkout", "inventory.reserve", SpanKind.CLIENT, t, plan, parent=parent)
        srv = self.span("inventory", "inventory.reserve", SpanKind.SERVER, self.tick(t), plan,
                        parent=call, stock_items=plan.items, stock_warehouse="ber-1")
        error = "out of stock" if plan.outcome == "out_of_stock" else None
        t = self.end(srv, self.tick(t, 0.02, 0.2), error)
        return self.end(call, self.tick(t), error)

    def charge(self, plan: Plan, parent: Any, t: float, force: str | None = None) -> tuple[float, bool]:
        """One charge call from checkout; payments may make two attempts (a transient
        failure is retried once, internally). Returns (time, charged)."""
        call = self.span("checkout", "payments.charge", SpanKind.CLIENT, t, plan, parent=parent)
        attempts = ["timeout"] if plan.transient and force is None else []
        final = force or {"declined": "declined", "charge_failed": "timeout"}.get(plan.outcome, "ok")
        attempts.append(final)
        for outcome in attempts:
            t = self.tick(t)
            srv = self.span("payments", "payments.charge", SpanKind.SERVER, t, plan, parent=call,
                            payment_amount=plan.amount, payment_currency="EUR",
                            payment_method="card")
            t = self.tick(t, 0.05, 0.4)
            if outcome == "declined":
                srv.add_event("payment.declined", {"payment.decline_code": "insufficient_funds"},
                              timestamp=self.ns(t))
                t = self.end(srv, self.tick(t, 0.001, 0.005), "card declined")
            elif outcome == "timeout":
                srv.add_event("exception", {"exception.type": "GatewayTimeout",
                                            "exception.message": "acquirer did not answer in 2s"},
                              timestamp=self.ns(t))
                t = self.end(srv, self.tick(t, 0.001, 0.005), "GatewayTimeout")
            else:
                srv.set_attribute("payment.id", f"pay-{plan.order_id[4:]}-{len(attempts)}")
                t = self.end(srv, t)
        ok = attempts[-1] == "ok"
        return self.end(call, self.tick(t), None if ok else f"charge {attempts[-1]}"), ok

    def publish_paid(self, plan: Plan, parent: Any, t: float) -> tuple[float, Any]:
        pub = self.span("checkout", "order.paid publish", SpanKind.PRODUCER, t, plan,
                        parent=parent, messaging_system="kafka",
                        messaging_destination_name="order.paid")
        return self.end(pub, self.tick(t)), pub

    def ship(self, plan: Plan, paid: Any, t: float) -> None:
        root = self.span("shipping", "order.paid process", SpanKind.CONSUMER, t, plan,
                         links=[paid], messaging_system="kafka",
                         messaging_destination_name="order.paid", shipping_carrier="dhl")
        t = self.tick(t, 0.1, 0.8)
        if plan.outcome == "ship_failed":
            root.add_event("exception", {"exception.type": "CarrierRejected",
                                         "exception.message": "address not deliverable"},
                           timestamp=self.ns(t))
            t = self.end(root, self.tick(t), "carrier rejected the parcel")
            self.at(self.tick(t, 1.0, 5.0), lambda t: self.compensate(plan, t, refund=True))
            return
        root.set_attribute("shipping.tracking_id", f"trk-{plan.order_id[4:]}")
        self.end(root, t)

    def compensate(self, plan: Plan, t: float, *, refund: bool) -> None:
        root = self.span("checkout", "saga.compensate", SpanKind.INTERNAL, t, plan,
                         saga_reason="shipping failed" if refund else "payment failed")
        t = self.tick(t)
        for _ in range(2 if plan.bug == "double-refund" else int(refund)):
            call = self.span("checkout", "payments.refund", SpanKind.CLIENT, t, plan, parent=root)
            srv = self.span("payments", "payments.refund", SpanKind.SERVER, self.tick(t), plan,
                            parent=call, payment_amount=plan.amount, payment_currency="EUR")
            t = self.end(srv, self.tick(t, 0.05, 0.3))
            t = self.end(call, self.tick(t))
        pub = self.span("checkout", "stock.release publish", SpanKind.PRODUCER, t, plan,
                        parent=root, messaging_system="kafka",
                        messaging_destination_name="stock.release")
        t = self.end(pub, self.tick(t))
        for _ in range(2 if plan.bug == "double-release" else 1):
            t = self.tick(t, 0.05, 0.3)
            con = self.span("inventory", "stock.release process", SpanKind.CONSUMER, t, plan,
                            parent=pub, messaging_system="kafka",
                            messaging_destination_name="stock.release")
            t = self.tick(t)
            con.add_event("stock.released", {"stock.items": plan.items}, timestamp=self.ns(t))
            t = self.end(con, self.tick(t))
        t = self.cancel(plan, root, t)
        self.end(root, self.tick(t))

    def cancel(self, plan: Plan, parent: Any, t: float) -> float:
        span = self.span("checkout", "order.cancel", SpanKind.INTERNAL, self.tick(t), plan,
                         parent=parent, order_cancel_reason=plan.outcome)
        return self.end(span, self.tick(self.tick(t)))

    def force_flush(self) -> None:
        for provider in self.providers.values():
            provider.force_flush()


def _service_of(span: Any) -> str | None:
    """The service that started ``span``; None for a span sampled out (not recording)."""
    resource = getattr(span, "resource", None)
    return None if resource is None else resource.attributes.get("service.name")


# -- planning ------------------------------------------------------------------------

#: clean outcomes and their weights (out of 100)
OUTCOMES = (("shipped", 70), ("declined", 10), ("charge_failed", 5), ("ship_failed", 10),
            ("out_of_stock", 5))
#: outcome a bug needs in the order it hits
_BUG_OUTCOME = {"ship-before-charge": "shipped", "double-refund": "ship_failed",
                "double-release": "declined", "retry-declined": "declined",
                "no-compensation": "declined", "lost-shipment": "shipped"}


def plan_orders(orders: int, seed: int, bugs: Sequence[str] = (),
                bug_rate: float = 0.2) -> list[Plan]:
    """The orders, their outcomes and their bugs. A bug whose verdict is a deadline only
    goes to orders placed more than 30 minutes (plus a margin) before the last one, so
    that later telemetry moves event time past the deadline."""
    rng = random.Random(f"plan-{seed}")
    plans, t = [], 0.0
    names, weights = zip(*OUTCOMES)
    for i in range(orders):
        plans.append(Plan(order_id=f"ord-{seed:02d}{i + 1:04d}", amount=rng.choice(PRICES),
                          items=rng.randint(1, 4), placed_at=round(t, 3),
                          outcome=rng.choices(names, weights)[0],
                          transient=rng.random() < 0.1))
        t += rng.uniform(30.0, 150.0)
    for n, bug in enumerate(bugs):
        kind = BUGS[bug][0]
        last = plans[-1].placed_at if plans else 0.0
        eligible = [p for p in plans[n::max(1, len(bugs))] if p.bug is None and (
            kind != "deadline" or p.placed_at + SETTLE_SECONDS + 120 < last)]
        if not eligible:
            raise ValueError(f"--bug {bug}: no order to put it in; give more --orders "
                             f"(a deadline bug needs orders spanning over 32 minutes)")
        chosen = [p for p in eligible if rng.random() < bug_rate] or [rng.choice(eligible)]
        for p in chosen:
            p.bug, p.outcome = bug, _BUG_OUTCOME[bug]
            if bug in ("retry-declined", "ship-before-charge"):
                p.transient = False
    return plans


def truth_of(plans: Sequence[Plan]) -> list[Truth]:
    """The violations the spec must report: one per bugged order."""
    return sorted((Truth(p.order_id, *BUGS[p.bug]) for p in plans if p.bug),
                  key=lambda x: x.key)


def run_shop(orders: int = 40, seed: int = 1, bugs: Sequence[str] = (), *,
             processors: Sequence[SpanProcessor] = (), sampler: Sampler | None = None,
             bug_rate: float = 0.2, start: datetime = START) -> list[Truth]:
    """Run the shop with ``processors`` attached to every service's TracerProvider and
    return the expected violations. Flushes the providers; the caller shuts its
    processors down."""
    plans = plan_orders(orders, seed, bugs, bug_rate)
    shop = Shop(processors, seed=seed, sampler=sampler, start=start)
    shop.run(plans)
    shop.force_flush()
    return truth_of(plans)


# -- command line --------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="specs/order/app.py",
        description="A checkout saga (checkout, inventory, payments, shipping) instrumented "
        "with the OpenTelemetry SDK. Deterministic for a --seed; --bug makes it misbehave.",
        epilog="bugs:\n" + "\n".join(f"  {k:20} {v} -> {BUGS[k][0]} {BUGS[k][1]}"
                                      for k, v in _BUG_HELP.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=40, help="orders to process (default 40)")
    p.add_argument("--seed", type=int, default=1, help="everything follows from it (default 1)")
    p.add_argument("--bug", action="append", choices=sorted(BUGS), default=[],
                   help="misbehave (repeatable); see below")
    p.add_argument("--bug-rate", type=float, default=0.2,
                   help="fraction of eligible orders a bug hits, at least one (default 0.2)")
    p.add_argument("--file", metavar="PATH",
                   help="write OTLP JSON lines, as the Collector's file exporter does")
    p.add_argument("--otlp-http", metavar="URL",
                   help="export with the SDK's OTLP/HTTP exporter, e.g. http://127.0.0.1:4318/v1/traces")
    p.add_argument("--otlp-grpc", metavar="HOST:PORT",
                   help="export with the SDK's OTLP/gRPC exporter, e.g. 127.0.0.1:4317")
    p.add_argument("--start", type=_start_time, default=START, metavar="TIME",
                   help="the simulated clock's start: RFC 3339 (default 2026-11-01T10:00:00Z) "
                   "or 'now' (for a live monitor, whose watermark also follows the wall clock)")
    p.add_argument("--truth", metavar="PATH",
                   help="write the expected violations (key, kind, property) as JSON lines")
    sampling = p.add_mutually_exclusive_group()
    sampling.add_argument("--sample-orders", type=float, metavar="RATE",
                          help="keep this fraction of orders, whole (hash of order.id)")
    sampling.add_argument("--sample-traces", type=float, metavar="RATE",
                          help="keep this fraction of traces (TraceIdRatioBased): breaks "
                          "orders apart, see docs/otel.md")
    return p


def _start_time(text: str) -> datetime:
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an RFC 3339 time like 2026-11-01T10:00:00Z, or 'now'; got {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    if not 0.0 <= args.bug_rate <= 1.0:
        parser.error("--bug-rate must be within [0, 1]")
    if not (args.file or args.otlp_http or args.otlp_grpc or args.truth):
        parser.error("nothing to do: give --file, --otlp-http, --otlp-grpc and/or --truth")
    sampler = None
    try:
        if args.sample_orders is not None:
            sampler = order_sampler(args.sample_orders)
        elif args.sample_traces is not None:
            sampler = ParentBased(root=TraceIdRatioBased(args.sample_traces))
    except ValueError as exc:
        parser.error(str(exc))
    processors: list[SpanProcessor] = []
    out = None
    if args.file:
        out = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8")  # noqa: SIM115
        processors.append(StageBatcher(OtlpJsonLinesExporter(out)))
    if args.otlp_http:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.otlp_http)))
    if args.otlp_grpc:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        processors.append(BatchSpanProcessor(GrpcExporter(endpoint=args.otlp_grpc, insecure=True)))
    try:
        truth = run_shop(args.orders, args.seed, args.bug, processors=processors,
                         sampler=sampler, bug_rate=args.bug_rate, start=args.start)
    except ValueError as exc:
        parser.error(str(exc))
    finally:
        for proc in processors:
            proc.shutdown()
        if out is not None and out is not sys.stdout:
            out.close()
    if args.truth:
        with open(args.truth, "w", encoding="utf-8") as f:
            for t in truth:
                f.write(json.dumps({"key": t.key, "kind": t.kind, "property": t.property},
                                   separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `--file - | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
