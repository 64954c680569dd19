"""A hand-written dict-and-if checker of the payment rules: the speed baseline for
``bench/replay.py``. It implements what ``specs/payment/spec.py`` says, directly:

- authorize once; capture only while authorized and never above the authorization in
  total; void only before any capture; refund only after a capture (``unexpected``,
  property = the action);
- refunds never above captures, checked after the refund (``invariant``,
  ``refunds_within_captures``);
- settle (capture or void) within 7 days of the authorization's event time
  (``deadline``, ``settles``): a heap of deadlines fires when the max event time seen
  minus 5 s (the allowed lateness) passes them, and a payment's own deadline fires
  before its next event if that event comes after it;
- duplicates dropped by event id, remembered for 1 h of event time; records older than
  the watermark (max time - 5 s) are late and dropped;
- one alarm per payment: after a violation the payment is quarantined;
- finished payments (voided, or everything captured refunded) are evicted to a bounded
  table of final states, so an event after the end is still checked;
- a first event that is not an authorization is tolerated (the checker may have joined
  mid-stream): the payment is ignored.

Unlike specmon it has no reorder buffer: it relies on one payment's events arriving in
event-time order (true for the generator's logs, whose shuffling stays well inside the
spacing of one payment's events). It reads the same CloudEvents JSON lines (plain or
gzip) with one msgspec decoder into a small view Struct.

    python bench/handwritten.py LOG   # prints the violation count and events/s
"""

from __future__ import annotations

import gzip
import sys
import time
from collections import deque
from datetime import datetime
from heapq import heappop, heappush

import msgspec

WEEK = 7 * 86400.0
LATENESS = 5.0
DEDUP_WINDOW = 3600.0
MAX_FINISHED = 100_000

NEW, AUTHORIZED, VOIDED, QUARANTINED, IGNORED = range(5)


class Data(msgspec.Struct):
    amount: int = 0


class Ev(msgspec.Struct):
    type: str
    id: str
    subject: str
    time: str
    data: Data = msgspec.field(default_factory=Data)


def _open(path: str):
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b" or path.endswith(".gz"):
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f


def check(path: str) -> list[tuple[str, str, str]]:
    """The violations in the log at `path`, as sorted (key, kind, property)."""
    decode = msgspec.json.Decoder(Ev).decode
    fromiso = datetime.fromisoformat
    # payment -> [status, authorized, captured, refunded, authorized at]
    pay: dict[str, list] = {}
    finished: dict[str, list] = {}  # terminal payments' final states, first in first out
    finished_order: deque[str] = deque()
    seen: dict[str, float] = {}  # event id -> max time when first seen
    seen_order: deque[tuple[float, str]] = deque()
    deadlines: list[tuple[float, str]] = []
    found: list[tuple[str, str, str]] = []

    def fire(wm: float) -> None:
        """Deadlines the watermark has passed, for payments still open."""
        while deadlines and deadlines[0][0] < wm:
            due, k = heappop(deadlines)
            p = pay.get(k)
            if p is not None and p[0] == AUTHORIZED and p[2] == 0 and p[4] + WEEK == due:
                p[0] = QUARANTINED
                found.append((k, "deadline", "settles"))
    max_t = float("-inf")

    with _open(path) as f:
        for line in f:
            e = decode(line)
            eid = e.id
            if eid in seen:
                continue  # a re-delivery
            t = fromiso(e.time).timestamp()
            if t > max_t:
                max_t = t
                horizon = t - DEDUP_WINDOW
                while seen_order and seen_order[0][0] < horizon:
                    del seen[seen_order.popleft()[1]]
                wm = t - LATENESS
                fire(wm)
            elif t < max_t - LATENESS:
                continue  # late: dropped
            seen[eid] = max_t
            seen_order.append((max_t, eid))

            k = e.subject
            p = pay.get(k)
            if p is None:
                p = finished.pop(k, None)
                if p is None:
                    if e.type == "payment.authorized":
                        a = e.data.amount
                        pay[k] = [AUTHORIZED, a, 0, 0, t]
                        heappush(deadlines, (t + WEEK, k))
                    else:
                        pay[k] = [IGNORED, 0, 0, 0, t]  # joined mid-stream
                    continue
                pay[k] = p  # an event after the end: resume from the final state
            st = p[0]
            if st >= QUARANTINED:
                continue
            if st == AUTHORIZED and p[2] == 0 and p[4] + WEEK < t:
                p[0] = QUARANTINED  # its own deadline passed before this event
                found.append((k, "deadline", "settles"))
                continue
            typ = e.type
            if typ == "payment.captured":
                a = e.data.amount
                if st == AUTHORIZED and p[2] + a <= p[1]:
                    p[2] += a
                else:
                    p[0] = QUARANTINED
                    found.append((k, "unexpected", "capture"))
                    continue
            elif typ == "payment.refunded":
                if p[2] > 0:
                    p[3] += e.data.amount
                    if p[3] > p[2]:
                        p[0] = QUARANTINED
                        found.append((k, "invariant", "refunds_within_captures"))
                        continue
                else:
                    p[0] = QUARANTINED
                    found.append((k, "unexpected", "refund"))
                    continue
            elif typ == "payment.voided":
                if st == AUTHORIZED and p[2] == 0:
                    p[0] = VOIDED
                else:
                    p[0] = QUARANTINED
                    found.append((k, "unexpected", "void"))
                    continue
            elif typ == "payment.authorized":
                p[0] = QUARANTINED  # authorized once only
                found.append((k, "unexpected", "authorize"))
                continue
            else:
                continue  # not a payment event
            if p[0] == VOIDED or (p[2] > 0 and p[3] == p[2]):  # terminal: evict
                del pay[k]
                finished[k] = p
                finished_order.append(k)
                if len(finished) > MAX_FINISHED:
                    while finished_order:
                        if finished.pop(finished_order.popleft(), None) is not None:
                            break

    fire(max_t - LATENESS)  # end of input: deadlines the watermark has passed
    return sorted(found)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/handwritten.py LOG(.jsonl|.jsonl.gz)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = check(argv[0])
    dt = time.perf_counter() - t0
    with _open(argv[0]) as f:
        lines = sum(1 for _ in f)
    print(f"{len(result)} violations, {lines / dt:,.0f} events/s ({lines} lines in {dt:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
