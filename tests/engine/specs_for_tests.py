"""Small specs used by the engine tests, besides the payment example."""

from __future__ import annotations

from monitor import Spec, action, choose, invariant, require, within


class Job(Spec):
    """Hidden steps, choose, an invariant that can break, a deadline, terminal."""

    phase: str = "idle"  # idle | queued | running | done | failed
    tries: int = 0

    @action
    def submit(self):
        require(self.phase == "idle", "already submitted")
        self.phase = "queued"

    @action(hidden=True)
    def start(self):
        require(self.phase == "queued", "not queued")
        self.phase = "running"

    @action
    def finish(self):
        require(self.phase == "running", "not running")
        self.phase = choose(["done", "failed"])

    @action
    def retry(self):
        require(self.phase == "failed", "not failed")
        self.tries += 1
        self.phase = "queued"

    @action(ok=[True, False])
    def report(self, ok: bool):
        require(self.phase in ("done", "failed"), "not finished")
        require((self.phase == "done") == ok, "report disagrees with the outcome")

    @invariant
    def at_most_two_retries(self):
        return self.tries <= 2

    finishes = within(100, start=lambda s: s.phase == "queued",
                      end=lambda s: s.phase in ("done", "failed"))

    def terminal(self):
        return self.phase == "done"
