"""Generate synthetic payment logs (CloudEvents 1.0 JSON lines) with their ground truth.

    python specs/payment/generate.py --events 1000000 --live 10000 --violations 0.01 \\
        --duplicates 0.01 --shuffle 4 --seed 7 --out log.jsonl.gz --truth truth.jsonl

About ``--live`` payments are open at any time: when one finishes its script, a new one
starts. Each payment follows a script: a clean lifecycle (authorize -> capture in one or
several parts, partial or full -> refunds, partial or full; authorize -> void) or, for a
``--violations`` fraction of payments, one with exactly one injected violation:

    unexpected  double authorize, capture above the authorization, capture after void,
                void after capture, refund before capture
    invariant   refunds above what was captured (``refunds_within_captures``)
    deadline    an authorization neither captured nor voided within 7 days (``settles``);
                only injected where the log runs on long enough for it to fire

Half of the violating payments send one more event after the violation, which the
monitor must not report (the payment is quarantined).

Time: the log starts at 2026-11-01T00:00:00Z; the gaps between one payment's events are
sized so that the log spans about ``--span-days`` (default 30) days; they are never
below 12 s and never above 3 days (so clean payments settle well inside 7 days and no
instance outlives the monitor's TTL). Within one payment, events are therefore far apart
and ``--shuffle`` (each record arrives up to that many seconds late, at most the
monitor's 5 s allowed lateness) never reorders one payment's events.
``--duplicates`` re-delivers that fraction of records (same ``id``, same bytes).

The truth file has one ``{"key", "kind", "property"}`` per expected violation, sorted
by key. It is computed by simulating the spec's rules over the emitted events (not by
running specmon), and cross-checked against what the scripts were meant to inject.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import msgspec

START_MS = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()) * 1000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WEEK_MS = 7 * DAY_MS  # the spec's `settles` window
LATENESS_MS = 5_000  # the monitor's default allowed lateness
MIN_GAP_MS = 12_000  # one payment's events are at least this far apart (> 10 s)
MAX_MEAN_GAP_MS = 2 * DAY_MS  # gaps are uniform in [0.5, 1.5] x mean: at most 3 days
MEAN_LEN = 2.9  # mean events per payment (clean scripts), for sizing the gaps
AMOUNTS = (100, 137, 250, 500, 1000, 2999)

AUTH, CAPT, VOID, REFD = "authorized", "captured", "voided", "refunded"

#: (event type, amount or None, delay after the previous event in ms or None = usual gap)
Step = tuple[str, "int | None", "int | None"]

#: violation kind -> the scripts injecting it
KINDS: dict[str, tuple[str, ...]] = {
    "unexpected": ("double_authorize", "capture_above_authorization", "capture_after_void",
                   "void_after_capture", "refund_before_capture"),
    "invariant": ("refund_above_captured",),
    "deadline": ("authorization_left_open",),
}
PROPERTY = {"double_authorize": "authorize", "capture_above_authorization": "capture",
            "capture_after_void": "capture", "void_after_capture": "void",
            "refund_before_capture": "refund", "refund_above_captured":
            "refunds_within_captures", "authorization_left_open": "settles"}


# --------------------------------------------------------------------------- scripts

def _ri(rng: random.Random, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi] (like randint, several times faster)."""
    return lo + int(rng.random() * (hi - lo + 1))


def clean_script(rng: random.Random) -> list[Step]:
    a = AMOUNTS[int(rng.random() * len(AMOUNTS))]
    shape = int(rng.random() * 8)
    if shape == 0:  # captured in full
        return [(AUTH, a, None), (CAPT, a, None)]
    if shape == 1:  # voided
        return [(AUTH, a, None), (VOID, None, None)]
    if shape == 2:  # partially captured
        return [(AUTH, a, None), (CAPT, _ri(rng, 1, a - 1), None)]
    if shape == 3:  # captured in two or three parts, not always all of it
        c1 = _ri(rng, 1, a // 2)
        c2 = _ri(rng, 1, a - c1)
        steps = [(AUTH, a, None), (CAPT, c1, None), (CAPT, c2, None)]
        if c1 + c2 < a and rng.random() < 0.5:
            steps.append((CAPT, _ri(rng, 1, a - c1 - c2), None))
        return steps
    c = a if rng.random() < 0.5 else _ri(rng, 2, a - 1)
    if shape == 4:  # refunded in full (terminal)
        return [(AUTH, a, None), (CAPT, c, None), (REFD, c, None)]
    if shape == 5:  # partially refunded
        return [(AUTH, a, None), (CAPT, c, None), (REFD, _ri(rng, 1, c - 1), None)]
    if shape == 6:  # refunded in two parts, in full (terminal)
        r1 = _ri(rng, 1, c - 1)
        return [(AUTH, a, None), (CAPT, c, None), (REFD, r1, None), (REFD, c - r1, None)]
    # captured in two parts, then refunded once
    c1 = _ri(rng, 1, a - 1)
    c2 = _ri(rng, 1, a - c1)
    return [(AUTH, a, None), (CAPT, c1, None), (CAPT, c2, None),
            (REFD, _ri(rng, 1, c1 + c2), None)]


def violating_script(rng: random.Random, name: str) -> tuple[list[Step], int]:
    """The steps and the index of the violating step (deadline: the authorization)."""
    a = rng.choice(AMOUNTS)
    if name == "double_authorize":
        pre = [(AUTH, a, None)]
        if rng.random() < 0.5:
            pre.append((CAPT, _ri(rng, 1, a), None))
        return pre + [(AUTH, rng.choice(AMOUNTS), None)], len(pre)
    if name == "capture_above_authorization":
        if rng.random() < 0.5:
            return [(AUTH, a, None), (CAPT, a + _ri(rng, 1, a), None)], 1
        c = _ri(rng, 1, a - 1)
        return [(AUTH, a, None), (CAPT, c, None), (CAPT, a - c + _ri(rng, 1, 50), None)], 2
    if name == "capture_after_void":
        return [(AUTH, a, None), (VOID, None, None), (CAPT, _ri(rng, 1, a), None)], 2
    if name == "void_after_capture":
        c = _ri(rng, 2, a)
        pre = [(AUTH, a, None), (CAPT, c, None)]
        if rng.random() < 0.3:
            pre.append((REFD, _ri(rng, 1, c - 1), None))
        return pre + [(VOID, None, None)], len(pre)
    if name == "refund_before_capture":
        return [(AUTH, a, None), (REFD, _ri(rng, 1, a), None)], 1
    if name == "refund_above_captured":
        c = _ri(rng, 2, a)
        if rng.random() < 0.5:
            return [(AUTH, a, None), (CAPT, c, None), (REFD, c + _ri(rng, 1, 50), None)], 2
        r1 = _ri(rng, 1, c - 1)
        return [(AUTH, a, None), (CAPT, c, None), (REFD, r1, None),
                (REFD, c - r1 + _ri(rng, 1, 50), None)], 3
    if name == "authorization_left_open":
        late = WEEK_MS + _ri(rng, HOUR_MS, DAY_MS)  # settled, but too late (or never)
        tail = rng.choice([[], [(CAPT, _ri(rng, 1, a), late)], [(VOID, None, late)]])
        return [(AUTH, a, None)] + tail, 0
    raise ValueError(name)


def _after_violation(rng: random.Random) -> Step:
    """One more event after the violation: the payment is quarantined, so it is silent."""
    return rng.choice([(CAPT, 1, None), (REFD, 1, None), (VOID, None, None),
                       (AUTH, rng.choice(AMOUNTS), None)])


# --------------------------------------------------------------------------- ground truth

class Truth:
    """The monitoring rules, simulated directly over events in event-time order:
    state per payment (status, authorized, captured, refunded); `unexpected` when the
    action's `require` fails, `invariant` when refunded > captured after a refund,
    `deadline` when the watermark passes authorization + 7 days with nothing captured
    and no void; quarantine after a violation; terminal payments remembered with their
    final state; a first event that is not an authorization is adopted (never
    reported). Duplicates never reach it (the generator feeds each event once)."""

    def __init__(self) -> None:
        self.state: dict[str, list] = {}  # key -> [status, authorized, captured, refunded, auth_t]
        self.quarantined: set[str] = set()
        self.adopted: set[str] = set()
        self.deadlines: list[tuple[int, str]] = []
        self.found: list[tuple[str, str, str]] = []

    def _violate(self, key: str, kind: str, prop: str) -> None:
        self.quarantined.add(key)
        self.found.append((key, kind, prop))

    def fire(self, watermark: int) -> None:
        dl = self.deadlines
        while dl and dl[0][0] < watermark:
            due, key = heapq.heappop(dl)
            s = self.state.get(key)
            if key not in self.quarantined and s[0] == AUTH and s[2] == 0 \
                    and s[4] + WEEK_MS == due:
                self._violate(key, "deadline", "settles")

    def apply(self, t: int, key: str, typ: str, amount: int | None) -> None:
        self.fire(t - LATENESS_MS)  # the watermark; one payment's own events are far apart
        if key in self.quarantined or key in self.adopted:
            return
        s = self.state.get(key)
        if s is None:
            if typ != AUTH:
                self.adopted.add(key)  # late join: the monitor may have missed the start
                return
            s = self.state[key] = ["new", 0, 0, 0, 0]
        if typ == AUTH:
            if s[0] != "new":
                return self._violate(key, "unexpected", "authorize")
            s[0], s[1], s[4] = AUTH, amount, t
            heapq.heappush(self.deadlines, (t + WEEK_MS, key))
        elif typ == CAPT:
            if s[0] != AUTH or s[2] + amount > s[1]:
                return self._violate(key, "unexpected", "capture")
            s[2] += amount
        elif typ == VOID:
            if s[0] != AUTH or s[2] != 0:
                return self._violate(key, "unexpected", "void")
            s[0] = VOID
        else:
            if s[2] <= 0:
                return self._violate(key, "unexpected", "refund")
            s[3] += amount
            if s[3] > s[2]:
                return self._violate(key, "invariant", "refunds_within_captures")

    def finish(self, last: int) -> list[tuple[str, str, str]]:
        self.fire(last - LATENESS_MS)
        return sorted(self.found)


# --------------------------------------------------------------------------- generation

_DAYS: dict[int, str] = {}


def _time(ms: int) -> str:
    day, rem = divmod(ms, DAY_MS)
    prefix = _DAYS.get(day)
    if prefix is None:
        prefix = _DAYS[day] = datetime.fromtimestamp(day * 86400, timezone.utc).strftime(
            "%Y-%m-%dT")
    s, milli = divmod(rem, 1000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"


def mean_gap_ms(events: int, live: int, span_days: float) -> int:
    """The mean gap between one payment's events so that `events` span ~`span_days`
    with `live` payments open (a payment lives (len - 1) gaps plus half a gap before
    it starts), clamped to [2 x MIN_GAP_MS, MAX_MEAN_GAP_MS]."""
    g = span_days * DAY_MS * live * MEAN_LEN / (max(events, 1) * (MEAN_LEN - 0.5))
    return int(min(max(g, 2 * MIN_GAP_MS), MAX_MEAN_GAP_MS))


def iter_log(events: int, live: int, *, violations: float = 0.01, duplicates: float = 0.0,
             shuffle: float = 0.0, seed: int = 7, span_days: float = 30.0,
             only: str | None = None, truth: list[dict[str, str]] | None = None,
             ) -> Iterator[str]:
    """Yield the log's lines (without newline) in arrival order; when exhausted, `truth`
    (if given) holds the expected violations sorted by key."""
    if live < 1 or events < 0:
        raise ValueError("need live >= 1 and events >= 0")
    if not 0 <= shuffle <= LATENESS_MS / 1000:
        raise ValueError(f"shuffle must be within the allowed lateness "
                         f"(0..{LATENESS_MS / 1000:g} s)")
    if only is not None and only not in KINDS:
        raise ValueError(f"unknown violation kind {only!r}")
    rng = random.Random(seed)
    gap = mean_gap_ms(events, live, span_days)
    lo_gap, hi_gap = max(MIN_GAP_MS, gap // 2), max(MIN_GAP_MS, gap * 3 // 2)
    kwidth = max(6, len(str(events + live)))
    iwidth = max(8, len(str(events)))
    shuffle_ms = shuffle * 1000.0
    names = [n for k, ns in KINDS.items() if only in (None, k) for n in ns]
    fallback = [n for n in names if n != "authorization_left_open"]
    planned_span = events * gap * (MEAN_LEN - 0.5) / (live * MEAN_LEN)

    sim = Truth()
    intended: dict[str, tuple[str, int]] = {}  # key -> (script name, violating step index)
    payments: dict[int, list] = {}  # pid -> [key, steps, next index]
    due: list[tuple[int, int, int]] = []  # (event time, tie, pid)
    ties = 0
    made = 0
    emitted = 0
    now = START_MS

    def start(at: int) -> None:
        nonlocal made, ties
        made += 1
        key = f"pay-{made:0{kwidth}d}"
        name = rng.choice(names) if names and rng.random() < violations else None
        if name == "authorization_left_open":
            # inject only where the log surely runs on past the deadline (+ a day)
            if emitted >= 1000 and now > START_MS:
                end = now + (events - emitted) * (now - START_MS) / emitted
            else:
                end = START_MS + planned_span
            if at + WEEK_MS + DAY_MS >= end:
                name = rng.choice(fallback) if fallback else None
        if name is not None:
            steps, vi = violating_script(rng, name)
            if name != "authorization_left_open" and rng.random() < 0.5:
                steps.append(_after_violation(rng))
            intended[key] = (name, vi)
        else:
            steps = clean_script(rng)
        payments[made] = [key, steps, 0]
        ties += 1
        heapq.heappush(due, (at, ties, made))

    for _ in range(live):
        start(START_MS + int(rng.random() * gap))

    pending: list[tuple[float, int, str]] = []  # (arrival, tie, line): the shuffle buffer
    emitted_of: dict[str, int] = {}
    auth_time: dict[str, int] = {}
    while emitted < events and due:
        now, _tie, pid = heapq.heappop(due)
        p = payments[pid]
        key, steps, i = p
        typ, amount, _delay = steps[i]
        emitted += 1
        if amount is None:
            data = f'{{"payment_id":"{key}"}}'
        else:
            data = f'{{"payment_id":"{key}","amount":{amount}}}'
        line = (f'{{"specversion":"1.0","id":"evt-{emitted:0{iwidth}d}","source":"payments-api",'
                f'"type":"payment.{typ}","subject":"{key}","time":"{_time(now)}","data":{data}}}')
        sim.apply(now, key, typ, amount)
        if key in intended:
            emitted_of[key] = i + 1
            if i == 0:
                auth_time[key] = now
        copies = 2 if duplicates and rng.random() < duplicates else 1
        if shuffle_ms:
            while pending and pending[0][0] < now:
                yield heapq.heappop(pending)[2]
            for _ in range(copies):
                ties += 1
                heapq.heappush(pending, (now + rng.random() * shuffle_ms, ties, line))
        else:
            for _ in range(copies):
                yield line
        i += 1
        if i < len(steps):
            p[2] = i
            delay = steps[i][2]
            ties += 1
            heapq.heappush(due, (now + (delay if delay is not None
                                        else _ri(rng, lo_gap, hi_gap)), ties, pid))
        else:
            del payments[pid]
            start(now + int(rng.random() * gap))
    while pending:
        yield heapq.heappop(pending)[2]

    found = sim.finish(now)
    expected = []
    for key, (name, vi) in intended.items():
        n = emitted_of.get(key, 0)
        if name == "authorization_left_open":
            hit = n >= 1 and auth_time[key] + WEEK_MS < now - LATENESS_MS
        else:
            hit = n > vi
        if hit:
            kind = next(k for k, ns in KINDS.items() if name in ns)
            expected.append((key, kind, PROPERTY[name]))
    if sorted(expected) != found:  # two derivations of the truth disagree: a generator bug
        raise RuntimeError(f"ground truth mismatch: simulated {len(found)}, "
                           f"injected {len(expected)}: "
                           f"{sorted(set(found) ^ set(expected))[:5]}")
    if truth is not None:
        truth.extend({"key": k, "kind": kind, "property": prop} for k, kind, prop in found)


def generate(events: int, live: int, **kw) -> tuple[list[bytes], list[dict[str, str]]]:
    """The whole log in memory: (lines in arrival order, expected violations by key)."""
    truth: list[dict[str, str]] = []
    lines = [line.encode() for line in iter_log(events, live, truth=truth, **kw)]
    return lines, truth


def write(out: str, truth_path: str, events: int, live: int,
          progress: Callable[[int], None] | None = None, **kw) -> tuple[int, int]:
    """Write the log (gzip when `out` ends in .gz) and the truth file; (lines, violations)."""
    truth: list[dict[str, str]] = []
    n = 0
    if out.endswith(".gz"):
        f = gzip.open(out, "wb", compresslevel=6)
    else:
        f = open(out, "wb")
    with f:
        chunk: list[str] = []
        for line in iter_log(events, live, truth=truth, **kw):
            chunk.append(line)
            if len(chunk) >= 20_000:
                chunk.append("")
                f.write("\n".join(chunk).encode())
                n += len(chunk) - 1
                chunk = []
                if progress is not None:
                    progress(n)
        if chunk:
            chunk.append("")
            f.write("\n".join(chunk).encode())
            n += len(chunk) - 1
    enc = msgspec.json.Encoder()
    with open(truth_path, "wb") as tf:
        for x in truth:
            tf.write(enc.encode(x) + b"\n")
    return n, len(truth)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="generate.py",
        description="Generate a synthetic payment log (CloudEvents JSON lines) and the "
                    "violations a monitor must report on it.")
    ap.add_argument("--events", type=int, default=100_000,
                    help="number of distinct events (re-deliveries come on top; default 100000)")
    ap.add_argument("--live", type=int, default=1000,
                    help="about this many payments open at any time (default 1000)")
    ap.add_argument("--violations", type=float, default=0.01,
                    help="fraction of payments with one injected violation (default 0.01)")
    ap.add_argument("--duplicates", type=float, default=0.0,
                    help="fraction of records delivered twice with the same id (default 0)")
    ap.add_argument("--shuffle", type=float, default=0.0,
                    help="seconds (0..5) by which records may arrive late: local reordering "
                         "within the allowed lateness (default 0)")
    ap.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    ap.add_argument("--span-days", type=float, default=30.0,
                    help="target event-time span of the log (default 30)")
    ap.add_argument("--only", choices=sorted(KINDS),
                    help="inject violations of this kind only")
    ap.add_argument("--out", required=True, help="the log (.gz suffix: gzip)")
    ap.add_argument("--truth", required=True, help="expected violations, JSON lines")
    args = ap.parse_args(argv)
    for name in ("violations", "duplicates"):
        if not 0 <= getattr(args, name) <= 1:
            ap.error(f"--{name} must be a fraction in [0, 1]")
    if not 0 <= args.shuffle <= LATENESS_MS / 1000:
        ap.error(f"--shuffle must be in [0, {LATENESS_MS / 1000:g}] s (the allowed lateness); "
                 "more would make records late and change the verdicts")
    if args.live < 1 or args.events < 0:
        ap.error("--live must be >= 1 and --events >= 0")
    tty = sys.stderr.isatty()
    t0 = time.perf_counter()

    def progress(n: int) -> None:
        if tty:
            print(f"\r{n:,} lines", end="", file=sys.stderr, flush=True)

    lines, found = write(args.out, args.truth, args.events, args.live, progress=progress,
                         violations=args.violations, duplicates=args.duplicates,
                         shuffle=args.shuffle, seed=args.seed, span_days=args.span_days,
                         only=args.only)
    if tty:
        print("\r", end="", file=sys.stderr)
    print(f"{lines} lines, {found} violations -> {args.out}, {args.truth} "
          f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
