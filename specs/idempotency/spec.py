"""Retries with an Idempotency-Key on a payment API (`POST /v1/charges`): one instance
per key.

A client sends a charge request with an `Idempotency-Key` header and retries it with
the same key after a timeout or a 5xx, counting its retries in `X-Retry-Count`. The
payment service's idempotency middleware looks the key up before doing anything:
unknown key -> lock it and execute the charge; locked (a request with this key is still
in flight) -> 409 Conflict; stored -> replay the stored response. The middleware does
not log its decision (`check` is hidden): what is seen is the gateway's requests and
responses and the service's charge outcomes. A request the gateway timed out (504) may
still be executing in the service and charge the card later. The gateway may also
re-send a request upstream on its own (a proxy retry on a connection reset, `resend`,
hidden too): a duplicate delivery the client never made.

Safety: the card is charged at most once per key (`charged_at_most_once`); a success
(201) or decline (402) is answered only once the outcome is stored. Liveness: a key
that is known to be locked (a 409 was answered) is released within 1 minute
(`lock_released`); a lock that outlives its request (a worker crashed between locking
and storing) turns every retry into a 409.

`IdempotencyDraft` is the first draft: the middleware checks for a *stored* response
but takes no lock, so a retry whose first attempt is still in flight is executed as a
new request and the card is charged twice.
`specmon check specs/idempotency --spec IdempotencyDraft` finds it in six steps.
"""

from monitor import Spec, action, invariant, require, within

#: finite domains for exploring the model: the client makes at most 3 attempts
RETRIES = (0, 1, 2)
STATUSES = (201, 402, 409, 500, 504)


class Idempotency(Spec):
    record: str = "none"  # the service's idempotency record: none | locked | stored
    outcome: str = ""  # stored outcome: charged | declined
    last_retry: int = -1  # the highest X-Retry-Count seen
    sent: int = 0  # requests the gateway forwarded with this key
    queued: int = 0  # requests forwarded to the service, not yet past the idempotency check
    running: int = 0  # requests past the check, executing the charge
    charges: int = 0  # charges made at the card processor under this key
    waiting: int = 0  # requests the gateway has not answered yet
    resent: int = 0  # requests the gateway re-sent upstream on its own

    @action(retry=RETRIES)
    def request(self, retry: int):
        """The gateway forwarded a request with this key (retry number `retry`)."""
        require(retry > self.last_retry,
                f"X-Retry-Count {retry} after {self.last_retry}: one client's retries count "
                "up; is another client reusing the key?")
        self.last_retry = retry
        self.sent += 1
        self.queued += 1
        self.waiting += 1

    @action(hidden=True)
    def check(self):
        """The middleware looks the key up (not logged)."""
        require(self.queued > 0, "no request is waiting for the idempotency check")
        self.queued -= 1
        self._decide()

    @action(hidden=True)
    def resend(self):
        """The gateway re-sends an unanswered request upstream after a connection reset
        (a proxy retry, at most once per request): a duplicate delivery its access log
        does not show."""
        require(self.waiting > 0 and self.resent < self.sent,
                "nothing unanswered to re-send, or every request was re-sent once")
        self.resent += 1
        self.queued += 1

    def _decide(self) -> None:
        if self.record == "none":  # new key: lock it and execute
            self.record = "locked"
            self.running += 1
        # locked: answered 409; stored: the stored response is replayed

    def _finish(self, outcome: str, what: str) -> None:
        require(self.running > 0,
                f"no request is executing under this key (record {self.record}, "
                f"{self.charges} charge(s) so far): a second {what} for one Idempotency-Key")
        self.running -= 1
        self.record, self.outcome = "stored", outcome

    @action
    def charged(self):
        """The service charged the card and stored the response."""
        self._finish("charged", "charge")
        self.charges += 1

    @action
    def declined(self):
        """The processor declined the card; the decline is stored as the response."""
        self._finish("declined", "decline")

    @action(status=STATUSES)
    def responded(self, status: int):
        """The gateway answered one request with this key."""
        require(self.waiting > 0, f"a {status} response with no open request for this key")
        if status == 201:
            require(self.outcome == "charged",
                    f"201 Created, but no charge is stored for this key (record {self.record})")
        elif status == 402:
            require(self.outcome == "declined",
                    f"402 declined, but no decline is stored for this key (record {self.record})")
        elif status == 409:
            require(self.record != "none", "409 Conflict, but no request had locked the key")
        self.waiting -= 1  # 5xx and 504: the request may still be executing

    @invariant
    def charged_at_most_once(self):
        return self.charges <= 1

    #: a key known to be locked is released (an outcome stored) within a minute
    lock_released = within("1m", start=lambda s: s.record == "locked",
                           end=lambda s: s.record == "stored")


class IdempotencyDraft(Idempotency):
    """The first draft of the middleware: `if store.get(key): return replay(key)`, then
    execute. Nothing marks the key while the first attempt is in flight."""

    def _decide(self) -> None:
        if self.record != "stored":  # the bug: "locked" is not a reason to stop
            self.record = "locked"
            self.running += 1
