"""The scripted incidents behind the lease samples: `python specs/write_samples.py
lease` writes them to samples/*.jsonl, with their expected violations in
samples/*.truth.jsonl.

Each sample is a scripted incident on the `scheduler-leader` lease, written as the two
logs the mapping reads, merged in time order: coordd's CloudEvents (`lease.acquired`,
`lease.renewed`, `lease.released`, and `lease.renew_failed`, which no rule maps) and the
job store's (`write.accepted`, `write.rejected`, with the writer's fencing token).
Deterministic: the same bytes on every run (a test checks the committed samples).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 3, 9, 0, 0, tzinfo=timezone.utc)
LEASE = "scheduler-leader"


class Log:
    """Records with their event time; written sorted by time, then by creation."""

    def __init__(self) -> None:
        self.records: list[tuple[float, int, str]] = []

    def event(self, sec: float, source: str, typ: str, subject: str, data: dict) -> None:
        n = len(self.records) + 1
        t = (T0 + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.records.append((sec, n, json.dumps(
            {"specversion": "1.0", "id": f"{source}-{n:06d}", "source": source, "type": typ,
             "subject": subject, "time": t, "data": data}, separators=(",", ":"))))

    def coord(self, sec: float, what: str, holder: str, term: int, **extra) -> None:
        self.event(sec, "coordd", f"lease.{what}", LEASE,
                   {"holder": holder, "term": term, "ttl_seconds": 10, **extra})

    def renewals(self, start: float, end: float, holder: str, term: int) -> None:
        t = start
        while t < end:  # every 3 s, a third of the 10 s TTL
            self.coord(t, "renewed", holder, term)
            t += 3.0

    def write(self, sec: float, accepted: bool, client: str, token: int, obj: str) -> None:
        data = {"client": client, "fencing_token": token, "object": obj}
        if not accepted:
            data["reason"] = "stale fencing token"
        self.event(sec, "jobstore", "write.accepted" if accepted else "write.rejected", obj, data)

    def text(self) -> str:
        return "".join(line + "\n" for _, _, line in sorted(self.records))


def _prologue(log: Log) -> None:
    """scheduler-0 leads term 1; a GC pause from 19 s to 41 s lets its 10 s TTL lapse
    (~28 s, not logged) and scheduler-1 acquires term 2 at 30.5 s."""
    log.coord(0.0, "acquired", "scheduler-0", 1)
    log.write(1.2, True, "scheduler-0", 1, "queue/job-0001")
    log.renewals(3.0, 20.0, "scheduler-0", 1)
    log.write(8.4, True, "scheduler-0", 1, "queue/job-0002")
    log.write(15.9, True, "scheduler-0", 1, "queue/job-0003")
    log.coord(30.5, "acquired", "scheduler-1", 2)
    log.write(31.7, True, "scheduler-1", 2, "queue/job-0004")


def clean() -> Log:
    log = Log()
    _prologue(log)
    log.renewals(33.5, 60.0, "scheduler-1", 2)
    log.event(41.0, "coordd", "lease.renew_failed", LEASE,
              {"holder": "scheduler-0", "term": 1, "reason": "lease expired"})
    log.write(41.2, False, "scheduler-0", 1, "queue/job-0003")  # the woken leader is fenced out
    log.write(44.0, True, "scheduler-1", 2, "queue/job-0005")
    log.coord(60.0, "released", "scheduler-1", 2)  # rolling deploy
    log.coord(62.3, "acquired", "scheduler-2", 3)
    log.write(63.0, True, "scheduler-2", 3, "queue/job-0006")
    log.renewals(65.3, 90.0, "scheduler-2", 3)
    log.write(70.4, False, "scheduler-1", 2, "queue/job-0007")  # a late flush, fenced out
    log.write(75.1, True, "scheduler-2", 3, "queue/job-0007")
    return log


def two_leaders() -> Log:
    """coordd bug: scheduler-1 stalls at 47 s; when its lease lapses, coordd re-grants
    term 2 to scheduler-2 (a lock whose counter is not bumped on expiry). Both hold
    token 2, so the store accepts both."""
    log = Log()
    _prologue(log)
    log.renewals(33.5, 47.0, "scheduler-1", 2)
    log.write(44.0, True, "scheduler-1", 2, "queue/job-0005")
    log.coord(58.2, "acquired", "scheduler-2", 2)
    log.write(59.0, True, "scheduler-2", 2, "queue/job-0006")
    log.write(59.4, True, "scheduler-1", 2, "queue/job-0006")
    log.renewals(61.2, 80.0, "scheduler-2", 2)
    return log


def unfenced_write() -> Log:
    """jobstore bug: the token check was lost in a refactor; the woken scheduler-0
    overwrites job-0003 with token 1 after the store accepted token 2."""
    log = Log()
    _prologue(log)
    log.renewals(33.5, 60.0, "scheduler-1", 2)
    log.write(41.2, True, "scheduler-0", 1, "queue/job-0003")
    log.write(44.0, True, "scheduler-1", 2, "queue/job-0005")
    return log


def no_failover() -> Log:
    """scheduler-1 releases at 60 s; scheduler-2 cannot reach coordd (an expired client
    certificate) until 181.5 s: two minutes without a leader."""
    log = Log()
    _prologue(log)
    log.renewals(33.5, 60.0, "scheduler-1", 2)
    log.write(44.0, True, "scheduler-1", 2, "queue/job-0005")
    log.coord(60.0, "released", "scheduler-1", 2)
    log.coord(181.5, "acquired", "scheduler-2", 3)
    log.write(182.0, True, "scheduler-2", 3, "queue/job-0006")
    return log


#: sample -> (its log, the violations the monitor must report: (key, kind, property))
SAMPLES = {
    "clean": (clean, []),
    "two_leaders": (two_leaders, [(LEASE, "unexpected", "acquire")]),
    "unfenced_write": (unfenced_write, [(LEASE, "unexpected", "write_accepted")]),
    "no_failover": (no_failover, [(LEASE, "deadline", "failover")]),
}

