"""Small specs used by the engine tests besides the payment example. Each exercises
something Payment does not: hidden steps and ``choose`` (Job), two ``within`` windows on
one instance and a reopened lifecycle (Ticket)."""

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


class Ticket(Spec):
    """Two deadlines on one instance (acknowledge within 60 s, resolve within 200 s), a
    reopen that restarts both, and a terminal state."""

    state: str = "new"  # new | open | acked | resolved | closed
    reopened: int = 0

    @action
    def open(self):
        require(self.state == "new", "already opened")
        self.state = "open"

    @action
    def ack(self):
        require(self.state == "open", "ack needs an open ticket")
        self.state = "acked"

    @action
    def resolve(self):
        require(self.state in ("open", "acked"), "nothing to resolve")
        self.state = "resolved"

    @action
    def reopen(self):
        require(self.state == "resolved", "only a resolved ticket reopens")
        require(self.reopened == 0, "reopened once already")
        self.reopened += 1
        self.state = "open"

    @action
    def close(self):
        require(self.state == "resolved", "close needs a resolved ticket")
        self.state = "closed"

    acknowledged = within(60, start=lambda s: s.state == "open", end=lambda s: s.state != "open")
    resolved_in_time = within(200, start=lambda s: s.state in ("open", "acked"),
                              end=lambda s: s.state in ("resolved", "closed"))

    def terminal(self):
        return self.state == "closed"
