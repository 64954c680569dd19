"""A Kubernetes controller's reconcile loop for one custom resource (a `Widget`).

The API server bumps `metadata.generation` by one on every spec change. The
controller reads the Widget from its informer cache (which lags the API server: the
cache catching up is a hidden step), writes the child Deployment from the spec it
read, annotated with that spec's generation, then writes `status.observedGeneration`.
Tools such as `kubectl rollout status`, Argo CD and Flux read
`observedGeneration == generation` as "the controller has acted on the latest spec",
so observedGeneration must name the spec that was actually applied
(`observed_was_applied`), and it must catch up with the generation within 5 minutes
(`converges`). Deleting the Widget ends the lifecycle.

`ReconcileDraft` is the first draft: it writes the status inside a retry-on-conflict
loop that re-reads the Widget from the API server and copies its *latest*
`metadata.generation`, while the spec it applied came from the (stale) cache. The newer
spec is then marked observed and never applied.
`specmon check specs/k8s_reconcile --spec ReconcileDraft` finds it in five steps.
"""

from monitor import Spec, action, choose, invariant, require, within

#: finite domains for exploring the model; production generations are any integers
GENERATIONS = (1, 2, 3)


class Reconcile(Spec):
    phase: str = "absent"  # absent | live | deleted
    generation: int = 0  # metadata.generation at the API server
    cached: int = 0  # the generation the controller's informer cache holds
    applied: int = 0  # the generation whose spec the child Deployment was last written from
    observed: int = 0  # status.observedGeneration

    @action
    def create(self):
        """Created, or re-created under the same name after a delete: a new lifecycle."""
        require(self.phase != "live", "the Widget already exists")
        self.phase, self.generation, self.cached, self.applied, self.observed = "live", 1, 0, 0, 0

    @action(generation=GENERATIONS[1:])
    def update(self, generation: int):
        """An update of the Widget (spec or metadata); a spec change bumps the generation."""
        require(self.phase == "live", f"update of a Widget that is {self.phase}")
        require(generation in (self.generation, self.generation + 1),
                f"metadata.generation went from {self.generation} to {generation}: the API "
                "server bumps it by one per spec change (audit events missing?)")
        self.generation = generation

    @action(hidden=True)
    def informer_sync(self):
        """The informer receives watch events it lagged behind on (not logged)."""
        require(self.phase == "live" and self.cached < self.generation,
                "the informer cache is already current")
        self.cached = choose(range(self.cached + 1, self.generation + 1))

    @action(generation=GENERATIONS)
    def apply(self, generation: int):
        """The controller wrote the child Deployment from the spec of `generation`."""
        require(self.phase == "live", f"the controller wrote a child of a Widget that is {self.phase}")
        require(generation == self.cached,
                f"the controller applied generation {generation}, but its informer cache "
                f"held {self.cached} (API server at {self.generation}): two controller "
                "replicas reconciling, or a cache that went back in time")
        self.applied = generation

    @action(observed_generation=GENERATIONS)
    def write_status(self, observed_generation: int):
        require(self.phase == "live", f"status write to a Widget that is {self.phase}")
        require(self.applied > 0, "status written before the controller ever applied the Widget")
        self._check_status(observed_generation)
        self.observed = observed_generation

    def _check_status(self, observed_generation: int) -> None:
        require(observed_generation == self.applied,
                f"status.observedGeneration={observed_generation}, but the child Deployment "
                f"was last written from generation {self.applied} (API server at "
                f"{self.generation}): observedGeneration must name the spec that was applied")

    @action
    def delete(self):
        require(self.phase == "live", f"delete of a Widget that is {self.phase}")
        self.phase = "deleted"

    @invariant
    def observed_was_applied(self):
        return self.observed <= self.applied

    @invariant
    def observed_not_ahead(self):
        return self.observed <= self.generation

    #: the controller acts on every spec change (and on creation) within 5 minutes
    converges = within("5m", start=lambda s: s.phase == "live" and s.observed < s.generation,
                       end=lambda s: s.phase != "live" or s.observed == s.generation)

    def terminal(self):
        return self.phase == "deleted"


class ReconcileDraft(Reconcile):
    """The first draft: `retry.RetryOnConflict(func() { latest := get(); latest.Status.
    ObservedGeneration = latest.Generation; updateStatus(latest) })` — the status copies
    the API server's latest generation, not the one whose spec was applied."""

    def _check_status(self, observed_generation: int) -> None:
        require(observed_generation == self.generation,
                f"the draft writes the latest metadata.generation ({self.generation})")
