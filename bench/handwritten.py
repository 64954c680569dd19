"""A hand-written dict-and-if checker of the payment rules: the speed baseline for
``bench/replay.py``. It implements what the payment spec says, directly:

authorize once; capture only while authorized and never above the authorization;
void only before any capture; refund only after a capture; refunds never above
captures (checked after the refund); settle (capture or void) within 7 days of the
authorization; duplicates dropped by id within an hour; nothing reported twice for
one payment; finished payments remembered; a first event that is not an
authorization is tolerated (the checker may have joined mid-stream).

It reads the same CloudEvents JSON lines (plain or gzip) with one msgspec decoder
into a small view Struct, like any careful hand-written consumer would.
"""

from __future__ import annotations

import gzip
import heapq
import sys
import time
from datetime import datetime

import msgspec

WEEK = 7 * 86400.0
LATENESS = 5.0
DEDUP = 3600.0


class Data(msgspec.Struct, frozen=True):
    amount: int = 0


class Ev(msgspec.Struct):
    id: str
    type: str
    subject: str
    time: str
    data: Data = Data()


def _open(path: str):
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f


def check(path: str) -> list[tuple[str, str, str]]:
    dec = msgspec.json.Decoder(Ev)
    # payment -> [status, authorized, captured, refunded, auth_time]
    pay: dict[str, list] = {}
    bad: set[str] = set()
    seen: dict[str, float] = {}
    seen_order: list[str] = []
    seen_head = 0
    deadlines: list[tuple[float, str, float]] = []
    found: list[tuple[str, str, str]] = []
    # reorder buffer: events wait until max time - lateness passes them
    pending: list[tuple[float, int, Ev]] = []
    max_t = float("-inf")
    n = 0

    def fire(until: float) -> None:
        while deadlines and deadlines[0][0] < until:
            _d, k, opened = heapq.heappop(deadlines)
            p = pay.get(k)
            if p is not None and k not in bad and p[0] == "authorized" and p[2] == 0 \
                    and p[4] == opened:
                bad.add(k)
                found.append((k, "deadline", "settles"))

    def apply(t: float, e: Ev) -> None:
        k = e.subject
        if k in bad:
            return
        p = pay.get(k)
        typ = e.type
        a = e.data.amount
        if typ == "payment.authorized":
            if p is None:
                pay[k] = [("authorized"), a, 0, 0, t]
                heapq.heappush(deadlines, (t + WEEK, k, t))
            else:
                bad.add(k)
                found.append((k, "unexpected", "authorize"))
        elif p is None:
            pay[k] = ["unknown", 0, 0, 0, t]  # joined mid-stream: tolerate
        elif typ == "payment.captured":
            if p[0] == "authorized" and p[2] + a <= p[1]:
                p[2] += a
            elif p[0] != "unknown":
                bad.add(k)
                found.append((k, "unexpected", "capture"))
        elif typ == "payment.voided":
            if p[0] == "authorized" and p[2] == 0:
                p[0] = "voided"
            elif p[0] != "unknown":
                bad.add(k)
                found.append((k, "unexpected", "void"))
        elif typ == "payment.refunded":
            if p[2] > 0:
                p[3] += a
                if p[3] > p[2]:
                    bad.add(k)
                    found.append((k, "invariant", "refunds_within_captures"))
            elif p[0] != "unknown":
                bad.add(k)
                found.append((k, "unexpected", "refund"))

    with _open(path) as f:
        for line in f:
            e = dec.decode(line)
            t = datetime.fromisoformat(e.time).timestamp()
            if e.id in seen:
                continue
            now = t if t > max_t else max_t
            seen[e.id] = now
            seen_order.append(e.id)
            while seen[seen_order[seen_head]] < now - DEDUP:
                del seen[seen_order[seen_head]]
                seen_head += 1
            if seen_head > 100_000:
                del seen_order[:seen_head]
                seen_head = 0
            if t < max_t - LATENESS:
                continue  # late: dropped
            if t > max_t:
                max_t = t
            n += 1
            heapq.heappush(pending, (t, n, e))
            wm = max_t - LATENESS
            while pending and pending[0][0] <= wm:
                et, _n, ev = heapq.heappop(pending)
                fire(et)
                apply(et, ev)
            fire(wm)
    while pending:
        et, _n, ev = heapq.heappop(pending)
        fire(et)
        apply(et, ev)
    fire(max_t)
    return sorted(found)


if __name__ == "__main__":
    t0 = time.perf_counter()
    result = check(sys.argv[1])
    dt = time.perf_counter() - t0
    lines = sum(1 for _ in _open(sys.argv[1]))
    print(f"{len(result)} violations, {lines / dt:,.0f} events/s")
