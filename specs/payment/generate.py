"""Generate synthetic payment logs (CloudEvents JSON lines) with ground truth.

    python specs/payment/generate.py --events 1000000 --live 10000 --out log.jsonl.gz \\
        --truth truth.jsonl [--violations 0.01] [--duplicates 0.01] [--shuffle 4] [--seed 7]

About ``--live`` payments are open at any time. Each payment follows a script: clean
lifecycles (authorize -> capture(s) -> refund(s), authorize -> void, partial captures)
or, for a ``--violations`` fraction, exactly one injected violation: double authorize,
capture above the authorization, capture after void, void after capture, refund before
capture (``unexpected``), refund above the captured amount (``invariant``), or an
authorization never settled (``deadline``, only where the log runs on for 7 more days).
Events of one payment are spread far apart (≥ 10 s), so ``--shuffle`` (local reordering
of arrival within that many seconds) never reorders one payment's events, and
``--duplicates`` re-sends events with the same id. The truth file lists
``{"key", "kind", "property"}`` per expected violation, sorted by key, computed from the
scripts themselves (not by running specmon).
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import random
import sys
from datetime import datetime, timezone
from typing import IO, Any

import msgspec

START = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
WEEK = 7 * 86400.0
AMOUNTS = [100, 137, 250, 500, 1000, 2999]

Step = tuple[str, int | None]  # (event type suffix, amount)


def clean_script(rng: random.Random) -> list[Step]:
    a = rng.choice(AMOUNTS)
    shape = rng.randrange(5)
    if shape == 0:
        return [("authorized", a), ("captured", a), ("refunded", a)]
    if shape == 1:
        return [("authorized", a), ("voided", None)]
    if shape == 2:
        half = a // 2
        return [("authorized", a), ("captured", half), ("captured", a - half)]
    if shape == 3:
        r1 = a // 3
        return [("authorized", a), ("captured", a), ("refunded", r1), ("refunded", a - r1)]
    return [("authorized", a), ("captured", max(1, a // 4))]


#: kind -> (script, kind, property); the violation is the script's last step
KINDS = {
    "unexpected": ["double_auth", "over_capture", "capture_after_void", "void_after_capture",
                   "refund_before_capture"],
    "invariant": ["over_refund"],
    "deadline": ["deadline"],
}


def violating_script(rng: random.Random, deadline_ok: bool, only: str | None = None,
                     ) -> tuple[list[Step], str, str] | None:
    a = rng.choice(AMOUNTS)
    kinds = [k for kind, ks in KINDS.items() if only in (None, kind) for k in ks
             if k != "deadline" or deadline_ok]
    if not kinds:
        return None
    k = rng.choice(kinds)
    if k == "double_auth":
        return [("authorized", a), ("authorized", a)], "unexpected", "authorize"
    if k == "over_capture":
        return [("authorized", a), ("captured", a + 1)], "unexpected", "capture"
    if k == "capture_after_void":
        return [("authorized", a), ("voided", None), ("captured", a)], "unexpected", "capture"
    if k == "void_after_capture":
        return [("authorized", a), ("captured", a), ("voided", None)], "unexpected", "void"
    if k == "refund_before_capture":
        return [("authorized", a), ("refunded", a)], "unexpected", "refund"
    if k == "over_refund":
        return [("authorized", a), ("captured", a // 2), ("refunded", a)], "invariant", \
            "refunds_within_captures"
    return [("authorized", a)], "deadline", "settles"


class Writer:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.enc = msgspec.json.Encoder()
        self.n = 0

    def line(self, ev_id: str, typ: str, key: str, t: float, amount: int | None) -> bytes:
        data: dict[str, Any] = {"payment_id": key}
        if amount is not None:
            data["amount"] = amount
        ts = datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")
        return self.enc.encode({
            "specversion": "1.0", "id": ev_id, "source": "payments-api",
            "type": f"payment.{typ}", "subject": key, "time": ts.replace("+00:00", "Z"),
            "data": data,
        })


def generate(events: int, live: int, *, violations: float = 0.01, duplicates: float = 0.0,
             shuffle: float = 0.0, seed: int = 7, span_days: float = 30.0,
             only: str | None = None) -> tuple[list[bytes], list[dict[str, str]]]:
    rng = random.Random(seed)
    span = span_days * 86400.0
    end = START + span
    dt = span / max(events, 1)
    mean_gap = max(live * dt, 30.0)  # keeps ~live payments open at one event per tick
    w = Writer(sys.stdout.buffer)
    due: list[tuple[float, int, str]] = []  # (due time, tie, key)
    scripts: dict[str, list[Step]] = {}
    truth: list[dict[str, str]] = []
    out: list[tuple[float, float, int, bytes]] = []  # (arrival, time, seq, line)
    made = 0
    t = START
    seq = 0

    def start_payment(now: float) -> None:
        nonlocal made
        made += 1
        key = f"pay-{made:07d}"
        deadline_ok = now + WEEK + 3600 < end
        bad = violating_script(rng, deadline_ok, only) if rng.random() < violations else None
        if bad is not None:
            script, kind, prop = bad
            truth.append({"key": key, "kind": kind, "property": prop})
            if kind != "deadline" and rng.random() < 0.5:
                script = script + [("captured", 1)]  # after the alarm: quarantined, silent
        else:
            script = clean_script(rng)
        scripts[key] = script
        heapq.heappush(due, (now, made, key))

    while seq < events:
        while len(scripts) < live:
            start_payment(t + rng.uniform(0, mean_gap))
        _due, _tie, key = heapq.heappop(due)
        typ, amount = scripts[key].pop(0)
        seq += 1
        line = w.line(f"evt-{seq:08d}", typ, key, t, amount)
        out.append((t + rng.uniform(0, shuffle), t, seq, line))
        if duplicates and rng.random() < duplicates and seq < events:
            out.append((t + rng.uniform(0, shuffle), t, seq, line))  # same id: a re-delivery
        if scripts[key]:
            heapq.heappush(due, (t + rng.uniform(max(10.0, 0.5 * mean_gap), 1.5 * mean_gap),
                                 seq, key))
        else:
            del scripts[key]
        t += dt
    # deadlines fire only if the log runs past them (watermark = last time - 5 s lateness)
    last = t - dt
    truth = [x for x in truth if x["kind"] != "deadline" or _auth_time(out, x["key"]) + WEEK
             < last - 5.0]
    # a violation whose script did not get to its violating step before the end: drop it
    truth = [x for x in truth if x["kind"] == "deadline" or x["key"] not in scripts
             or _reached(scripts[x["key"]])]
    out.sort()
    return [line for *_ignored, line in out], sorted(truth, key=lambda x: x["key"])


def _reached(rest: list[Step]) -> bool:
    # the violating step is the last of the script, or followed by one quarantined step
    return rest == [("captured", 1)]


def _auth_time(out: list[tuple[float, float, int, bytes]], key: str) -> float:
    needle = f'"subject":"{key}"'.encode()
    for _arr, t, _seq, line in out:
        if needle in line:
            return t
    return float("inf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--live", type=int, default=1000)
    ap.add_argument("--violations", type=float, default=0.01)
    ap.add_argument("--duplicates", type=float, default=0.0)
    ap.add_argument("--shuffle", type=float, default=0.0, help="seconds of arrival jitter (< 5)")
    ap.add_argument("--span-days", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", choices=sorted(KINDS), help="inject only this kind of violation")
    ap.add_argument("--out", required=True)
    ap.add_argument("--truth", required=True)
    args = ap.parse_args(argv)
    lines, truth = generate(args.events, args.live, violations=args.violations,
                            duplicates=args.duplicates, shuffle=args.shuffle, seed=args.seed,
                            span_days=args.span_days, only=args.only)
    opener = gzip.open if args.out.endswith(".gz") else open
    with opener(args.out, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    enc = msgspec.json.Encoder()
    with open(args.truth, "wb") as f:
        for x in truth:
            f.write(enc.encode(x) + b"\n")
    print(f"{len(lines)} lines, {len(truth)} violations -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
