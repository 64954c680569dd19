"""``specmon diagram``: the reachable state graph as Mermaid or Graphviz DOT, with
optional production coverage. See docs/generate.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from monitor.cli import positive_int, print_json

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "diagram", help="the reachable state graph as Mermaid or DOT",
        description="Draw the spec's reachable states and transitions (bounded by "
        "--max-states). With --coverage, each transition shows how often production took "
        "it (from `specmon replay --coverage-out`), and transitions never taken are dashed "
        "and red. Exit 0; 1 when a coverage file leaves transitions unseen and "
        "--fail-unseen is given; 2 on bad usage.")
    p.add_argument("specdir", help="spec directory (spec.py + mapping.yaml)")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid",
                   help="output format (default mermaid)")
    p.add_argument("--max-states", type=positive_int, default=200, metavar="N",
                   help="draw at most N states (default 200; the diagram says when cut)")
    p.add_argument("--max-depth", type=positive_int, metavar="N", help="bound on path length")
    p.add_argument("--coverage", action="append", metavar="FILE", default=[],
                   help="coverage file(s) from `specmon replay --coverage-out`; counts add up")
    p.add_argument("--labels", choices=["diff", "all"], default="diff",
                   help="state labels: fields that differ from the initial state, or all")
    p.add_argument("-o", "--out", metavar="FILE", help="write the diagram to FILE")
    p.add_argument("--fail-unseen", action="store_true",
                   help="exit 1 when some transition was never taken (with --coverage)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON object with the diagram text and its counts")
    p.set_defaults(handler=run_diagram)


def run_diagram(args: argparse.Namespace) -> int:
    import json

    from monitor.cli_generate import explore, write_bytes
    from monitor.errors import ConfigError
    from monitor.explore.coverage import Coverage, read_coverage
    from monitor.explore.diagram import render
    from monitor.specdir import load_specdir

    sd = load_specdir(args.specdir)
    coverage: Coverage | None = None
    for path in args.coverage:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"{path}: not JSON: {exc}") from None
        coverage = read_coverage(doc, sd.model.fields, where=path, into=coverage)
    graph = explore(sd.model, args.max_states, args.max_depth)
    d = render(graph, fmt=args.format, coverage=coverage, labels=args.labels)
    if args.out:
        write_bytes(Path(args.out), d.text.encode())
    if args.json:
        print_json({"spec": sd.name, "format": args.format, "states": d.states,
                    "transitions": d.edges, "drawn_edges": d.drawn, "complete": d.complete,
                    "coverage": None if coverage is None else {
                        "seen": d.seen, "unseen": d.unseen, "outside_graph": d.outside},
                    "out": args.out, "text": d.text})
    elif not args.out:
        sys.stdout.write(d.text)
    if coverage is not None and not args.json:
        print(f"coverage: {d.seen} of {d.edges} transitions seen"
              + (f"; {d.outside} observed transitions are outside the drawn graph"
                 if d.outside else ""), file=sys.stderr)
    return 1 if args.fail_unseen and coverage is not None and d.unseen else 0
