"""The scripted incidents behind the idempotency samples: `python specs/write_samples.py
idempotency` writes them to samples/*.jsonl, with their expected violations in
samples/*.truth.jsonl.

Each sample merges, in time order, the API gateway's access log (a `request` record
when a request arrives and a `response` record when it is answered, both with the
request's Idempotency-Key and X-Retry-Count headers) and the payment service's charge
log (`charge.succeeded`, `charge.declined`), for a handful of checkout payments.
Deterministic: the same bytes on every run (a test checks the committed samples).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 5, 14, 0, 0, tzinfo=timezone.utc)
_rng = random.Random(11)
#: one Idempotency-Key per scripted payment
KEYS = {n: f"ik_{_rng.getrandbits(64):016x}"
        for n in ("plain", "timeout", "inflight", "declined", "crash", "spare", "other")}


class Log:
    """Records with their time; written sorted by time, then by creation."""

    def __init__(self) -> None:
        self.records: list[tuple[float, int, str]] = []
        self.rng = random.Random(11)
        self.request_ids: dict[tuple[str, int], str] = {}

    def add(self, sec: float, rec: dict) -> None:
        n = len(self.records) + 1
        t = (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        rec = {"timestamp": t, "log_id": f"{rec['service'][:3]}-{n:06d}", **rec}
        self.records.append((sec, n, json.dumps(rec, separators=(",", ":"))))

    def request(self, sec: float, key: str, retry: int) -> None:
        rid = self.request_ids[key, retry] = f"req_{self.rng.getrandbits(48):012x}"
        self.add(sec, {"service": "api-gateway", "event": "request", "request_id": rid,
                       "method": "POST", "route": "/v1/charges", "client_ip": "203.0.113.7",
                       "headers": {"idempotency-key": key, "x-retry-count": str(retry),
                                   "user-agent": "checkout-web/4.2"}})

    def response(self, sec: float, key: str, retry: int, status: int, ms: int) -> None:
        self.add(sec, {"service": "api-gateway", "event": "response",
                       "request_id": self.request_ids[key, retry], "method": "POST",
                       "route": "/v1/charges", "status": status, "duration_ms": ms,
                       "headers": {"idempotency-key": key, "x-retry-count": str(retry)}})

    def charge(self, sec: float, key: str, ok: bool = True) -> None:
        rec = {"service": "payment-service",
               "event": "charge.succeeded" if ok else "charge.declined",
               "idempotency_key": key, "charge_id": f"ch_{self.rng.getrandbits(40):010x}",
               "amount": 4200, "currency": "eur"}
        if not ok:
            rec["decline_code"] = "insufficient_funds"
        self.add(sec, rec)

    def text(self) -> str:
        return "".join(line + "\n" for _, _, line in sorted(self.records))


def _prologue(log: Log) -> None:
    plain, timeout, declined = KEYS["plain"], KEYS["timeout"], KEYS["declined"]
    log.request(0.0, plain, 0)
    log.charge(0.9, plain)
    log.response(1.0, plain, 0, 201, 1000)
    # the gateway gives up after 10 s, but the service did process the request (the
    # processor was slow); the client's retry gets the stored 201 replayed
    log.request(5.0, timeout, 0)
    log.response(15.0, timeout, 0, 504, 10000)
    log.charge(16.2, timeout)
    log.request(17.0, timeout, 1)
    log.response(17.1, timeout, 1, 201, 95)
    # a decline is stored and replayed like a success
    log.request(20.0, declined, 0)
    log.charge(20.6, declined, ok=False)
    log.response(20.7, declined, 0, 402, 700)
    log.request(21.5, declined, 1)
    log.response(21.6, declined, 1, 402, 80)
    log.add(22.0, {"service": "api-gateway", "event": "request", "request_id": "req_get",
                   "method": "GET", "route": "/v1/charges/{id}", "headers": {}})


def _retried_in_flight() -> tuple[Log, str]:
    """The prologue, then a payment whose client times out after 3 s and retries while
    the first attempt is still in flight: (the log, that payment's key)."""
    log = Log()
    _prologue(log)
    inflight = KEYS["inflight"]
    log.request(30.0, inflight, 0)
    log.request(33.0, inflight, 1)
    return log, inflight


def clean() -> Log:
    log, inflight = _retried_in_flight()
    crash = KEYS["crash"]
    # the retry finds the key locked (409); the first attempt completes; a later retry
    # is a replay
    log.response(33.1, inflight, 1, 409, 60)
    log.charge(34.5, inflight)
    log.response(34.6, inflight, 0, 201, 4600)
    log.request(36.0, inflight, 2)
    log.response(36.1, inflight, 2, 201, 70)
    # the service dies before the idempotency check (502); the retry executes afresh
    log.request(40.0, crash, 0)
    log.response(40.4, crash, 0, 502, 400)
    log.request(41.0, crash, 1)
    log.charge(41.8, crash)
    log.response(41.9, crash, 1, 201, 900)
    log.records.append(log.records[-2])  # the log shipper delivered the charge twice
    return log


def double_charge() -> Log:
    """Production runs the draft middleware: the retry of an in-flight request is
    executed again and the card is charged twice."""
    log, inflight = _retried_in_flight()
    log.charge(34.5, inflight)
    log.response(34.6, inflight, 0, 201, 4600)
    log.charge(35.9, inflight)
    log.response(36.0, inflight, 1, 201, 3000)
    return log


def stuck_lock() -> Log:
    """A worker dies (OOM) after locking the key and before storing an outcome: every
    retry gets 409, for minutes."""
    log = Log()
    _prologue(log)
    crash, other = KEYS["crash"], KEYS["other"]
    log.request(40.0, crash, 0)
    log.response(42.0, crash, 0, 502, 2000)
    log.request(43.0, crash, 1)
    log.response(43.1, crash, 1, 409, 50)
    log.request(60.0, crash, 2)
    log.response(60.1, crash, 2, 409, 50)
    log.request(150.0, other, 0)
    log.charge(150.7, other)
    log.response(150.8, other, 0, 201, 800)
    return log


def premature_success() -> Log:
    """The middleware stores a placeholder when it locks a key, and a retry replays the
    placeholder as 201 before anything was charged."""
    log, inflight = _retried_in_flight()
    log.response(33.1, inflight, 1, 201, 60)
    log.charge(34.5, inflight)
    log.response(34.6, inflight, 0, 201, 4600)
    return log


#: sample -> (its log, the violations the monitor must report: (key, kind, property))
SAMPLES = {
    "clean": (clean, []),
    "double_charge": (double_charge, [(KEYS["inflight"], "unexpected", "charged")]),
    "stuck_lock": (stuck_lock, [(KEYS["crash"], "deadline", "lock_released")]),
    "premature_success": (premature_success, [(KEYS["inflight"], "unexpected", "responded")]),
}

