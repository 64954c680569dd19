"""``specmon check``: explore a spec on its own and print the shortest counterexample.

Exit 0 when nothing was found, 1 on a counterexample (or a bug in the spec's code),
2 on bad usage. A search cut by a bound that found nothing exits 0 but says it was
bounded (the JSON has ``"complete": false``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from monitor.cli import duration_arg, positive_int, print_json, whole_number

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="explore a spec: invariants, deadlocks, deadlines",
        description="Explore every reachable state of a spec breadth-first (actions over "
        "their declared domains, hidden ones too, choose forks) and report invariant "
        "violations, deadlocks and within windows that can never close, each with the "
        "shortest counterexample. Exit 0 clean, 1 counterexample found, 2 bad usage.",
    )
    p.add_argument("specdir", help="spec directory (its spec.py), or a spec.py file")
    p.add_argument("--spec", metavar="CLASS",
                   help="the Spec class to check when spec.py holds several")
    p.add_argument("--max-states", type=positive_int, default=1_000_000, metavar="N",
                   help="stop adding states past N (default 1000000); the result says "
                   "the search was bounded")
    p.add_argument("--max-depth", type=whole_number, metavar="N",
                   help="explore at most N steps from the initial state (random walks: "
                   "the walk length, default 100)")
    p.add_argument("--random", type=positive_int, metavar="N",
                   help="N seeded random walks instead of the exhaustive search, for specs "
                   "too large to exhaust (counterexamples then not necessarily shortest)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random walks (default 0)")
    p.add_argument("--step-time", type=duration_arg, metavar="DURATION",
                   help="logical clock: every step takes DURATION (e.g. 1m); also report "
                   "within windows that even the fastest continuation cannot close in time")
    p.add_argument("--deadlocks", choices=["auto", "error", "ok"], default="auto",
                   help="is a non-terminal state with no enabled action wrong? auto "
                   "(default): yes when the spec defines terminal()")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress line on a terminal")
    p.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from monitor.explore import explore
    from monitor.specdir import find_spec_class

    cls = find_spec_class(args.specdir, args.spec)
    show = None if args.no_progress or not sys.stderr.isatty() else _Progress(args.random)
    t0 = time.perf_counter()
    result = explore(cls, max_states=args.max_states, max_depth=args.max_depth,
                     random=args.random, seed=args.seed, step_time=args.step_time,
                     deadlocks={"auto": None, "error": True, "ok": False}[args.deadlocks],
                     progress=show)
    seconds = time.perf_counter() - t0
    if show is not None:
        show.close()
    summary = result.to_dict()
    summary["path"] = str(args.specdir)
    summary["seconds"] = round(seconds, 3)
    summary["states_per_second"] = round(result.states / seconds) if seconds > 0 else None
    if args.json:
        print_json(summary)
    else:
        sys.stdout.write(describe(result, summary))
    return 0 if result.ok else 1


def describe(result: Any, s: dict[str, Any]) -> str:
    """The summary and every counterexample, for people."""
    what = "random walks" if result.mode == "random" else "breadth-first"
    lines = [f"spec {result.spec} ({s['path']}), {what}: {result.states} states, "
             f"{result.edges} {'steps' if result.mode == 'random' else 'edges'}, depth "
             f"{result.depth}, {s['seconds']:.3f}s ({s['states_per_second'] or '-'} states/s)"]
    if result.mode == "random":
        lines.append(f"  walks: {result.walks} (seed {result.seed}, at most {result.max_depth} "
                     "steps each)")
    if not result.complete:
        lines.append("  search: " + _bounded_reason(result))
    if result.unexplored:
        lines.append(f"  not explored (no finite domain): {', '.join(result.unexplored)}")
    if result.unexplored:
        lines.append("  deadlocks and deadlines: not checked (an unexplored action might "
                     "be enabled anywhere)")
    elif not result.deadlocks_checked:
        lines.append("  deadlocks: not checked (the spec has no terminal(); "
                     "--deadlocks error to check them)")
    verdict = {
        "ok": "ok: no invariant violation, deadlock or unmeetable deadline",
        "bounded": "no violation found within the bounds (not a proof: the search was "
                   "incomplete)",
        "violations": f"{len(result.findings)} finding(s); the shortest first",
        "spec_errors": "the spec's own code raised (a bug in the spec, not a violation)",
    }[result.result]
    lines.append(f"result: {verdict}")
    for f in result.findings + result.spec_errors:
        lines.append("")
        lines.append(f.describe())
    return "\n".join(lines) + "\n"


def _bounded_reason(result: Any) -> str:
    if result.mode == "random":
        return "random walks (never exhaustive)"
    reasons = []
    if result.states >= result.max_states:
        reasons.append(f"--max-states {result.max_states} reached")
    if result.max_depth is not None:
        reasons.append(f"--max-depth {result.max_depth}")
    if result.unexplored:
        reasons.append("actions without domains")
    return "incomplete (" + (", ".join(reasons) or "bounded") + ")"


class _Progress:
    """One line on stderr, rewritten in place: states, depth, states/s."""

    def __init__(self, random: int | None) -> None:
        self.random = random
        self.t0 = time.perf_counter()

    def __call__(self, states: int, depth: int, edges: int) -> None:
        rate = states / max(time.perf_counter() - self.t0, 1e-9)
        if self.random:
            line = f"{depth}/{self.random} walks, {edges} steps, {states} distinct states"
        else:
            line = f"{states} states, depth {depth}, {edges} edges, {rate:,.0f} states/s"
        sys.stderr.write(f"\r{line:<78}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
