"""``specmon generate``: test scenarios (JSON lines, ITF) and synthetic telemetry for
them; ``specmon itf``: violation reports as ITF traces. See docs/generate.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec

from monitor.cli import positive_int, print_json

__all__ = ["add_commands", "explore", "write_bytes", "write_json"]


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "generate", help="test scenarios with expected verdicts, and telemetry for them",
        description="Explore the spec's reachable states and write scenarios: positive "
        "ones that together take every transition at least once, and negative ones that "
        "break each guard (require) and each invariant once. Each step carries the verdict "
        "the monitor must give. Exit 0, 1 when the spec's own code raised while exploring, "
        "2 on bad usage or config (or a mapping that cannot express a step).",
    )
    p.add_argument("specdir", help="spec directory (spec.py + mapping.yaml)")
    p.add_argument("-o", "--out", metavar="FILE",
                   help="write scenarios as JSON lines to FILE (default: stdout, unless --json)")
    p.add_argument("--itf", metavar="DIR", help="write one ITF trace per scenario to DIR")
    p.add_argument("--telemetry", choices=["json", "otlp"],
                   help="also write, per scenario, the records mapping.yaml maps back to its "
                   "steps: json (the events: section, JSON lines) or otlp (the spans: "
                   "section, OTLP JSON lines as the Collector's file exporter writes them)")
    p.add_argument("--telemetry-dir", metavar="DIR",
                   help="where --telemetry writes <scenario>.jsonl and all.jsonl")
    p.add_argument("--max-states", type=positive_int, default=100_000, metavar="N",
                   help="bound on the states explored (default 100000)")
    p.add_argument("--max-depth", type=positive_int, metavar="N", help="bound on path length")
    p.add_argument("--max-steps", type=positive_int, default=40, metavar="N",
                   help="start a new positive scenario after about N steps (default 40)")
    p.add_argument("--max-total-steps", type=positive_int, default=100_000, metavar="N",
                   help="stop writing positive scenarios after N steps in all (default "
                   "100000): covering a long chain of states costs the square of its length")
    p.add_argument("--hidden-steps", type=int, default=2, metavar="N",
                   help="hidden steps the monitor may insert (as in replay; default 2)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run_generate)

    i = sub.add_parser(
        "itf", help="violation reports as ITF traces",
        description="Convert violation reports (JSON lines from `specmon replay --report`) "
        "to ITF traces (the Apalache/Quint trace format), one file per report.")
    i.add_argument("specdir", help="the spec directory the reports came from")
    i.add_argument("reports", help="violation reports, JSON lines")
    i.add_argument("-o", "--out", metavar="DIR", required=True, help="directory for the traces")
    i.add_argument("--json", action="store_true", help="print the written files as JSON")
    i.set_defaults(handler=run_itf)


def run_generate(args: argparse.Namespace) -> int:
    from monitor.errors import ConfigError
    from monitor.explore.scenarios import generate_scenarios
    from monitor.explore.traces import scenario_to_itf
    from monitor.specdir import load_specdir

    if args.telemetry and not args.telemetry_dir:
        raise ConfigError("--telemetry needs --telemetry-dir DIR (where to write the records)")
    if args.hidden_steps < 0:
        raise ConfigError(f"--hidden-steps must be >= 0, got {args.hidden_steps}")
    sd = load_specdir(args.specdir)
    graph = explore(sd.model, args.max_states, args.max_depth)
    gen = generate_scenarios(graph, hidden_steps=args.hidden_steps, max_steps=args.max_steps,
                             max_total_steps=args.max_total_steps)
    lines = [msgspec.json.encode(s) for s in gen.scenarios]
    if args.out:
        write_bytes(Path(args.out), b"".join(line + b"\n" for line in lines))
    elif not args.json:
        sys.stdout.buffer.write(b"".join(line + b"\n" for line in lines))
        sys.stdout.flush()
    if args.itf:
        for s in gen.scenarios:
            write_json(Path(args.itf) / f"{s.id}.itf.json", scenario_to_itf(s, sd.model))
    telemetry = _telemetry(args, sd, gen.scenarios) if args.telemetry else None
    kinds = {"positive": 0, "negative": 0}
    for s in gen.scenarios:
        kinds[s.kind] += 1
    summary = {
        "spec": sd.name, "states": gen.states, "edges": gen.edges, "covered": gen.covered,
        "coverage": round(gen.covered / gen.edges, 4) if gen.edges else 1.0,
        "complete": gen.complete, "stopped_at_max_total_steps": gen.budget_hit,
        "scenarios": kinds,
        "steps": sum(len(s.steps) for s in gen.scenarios),
        "guards": gen.guards, "unreachable": gen.unreachable, "spec_errors": graph.errors,
        "unexplored_actions": list(graph.unexplored),
        "out": args.out, "itf": args.itf, "telemetry": telemetry,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"spec {sd.name}: {gen.states} states, {gen.edges} transitions "
              f"({'complete' if gen.complete else 'cut by a bound'}); {kinds['positive']} "
              f"positive scenarios cover {gen.covered}; {kinds['negative']} negative "
              f"scenarios for {len(gen.guards)} guards"
              + (f"; not shown: {', '.join(gen.unreachable)}" if gen.unreachable else "")
              + ("; stopped at --max-total-steps" if gen.budget_hit else ""),
              file=sys.stderr)
        for e in graph.errors:
            print(f"specmon: spec error while exploring: {e}", file=sys.stderr)
    return 1 if graph.errors else 0


def _telemetry(args: argparse.Namespace, sd: Any, scenarios: list[Any]) -> dict[str, Any]:
    from monitor.errors import ConfigError

    section = "events" if args.telemetry == "json" else "spans"
    mapper = getattr(sd.mapping, section, None)
    if mapper is None:
        raise ConfigError(f"{sd.path}/mapping.yaml has no `{section}:` section, so there is "
                          f"nothing to invert for --telemetry {args.telemetry}")
    if args.telemetry == "json":
        from monitor.explore.telemetry import event_records

        def records(s: Any) -> list[dict[str, Any]]:
            return event_records(s, mapper, sd.model)
    else:
        from monitor.explore.span_telemetry import span_records
        from monitor.sources.otlp_json import decode_otlp_view

        def records(s: Any) -> list[dict[str, Any]]:
            return span_records(s, mapper, sd.model, decode_otlp_view)

    out = Path(args.telemetry_dir)
    every: list[bytes] = []
    for s in scenarios:
        lines = [msgspec.json.encode(r) for r in records(s)]
        write_bytes(out / f"{s.id}.jsonl", b"".join(line + b"\n" for line in lines))
        every.extend(lines)
    write_bytes(out / "all.jsonl", b"".join(line + b"\n" for line in every))
    return {"format": args.telemetry, "dir": str(out), "records": len(every)}


def run_itf(args: argparse.Namespace) -> int:
    from monitor.errors import ConfigError
    from monitor.explore.traces import report_to_itf
    from monitor.specdir import load_specdir

    sd = load_specdir(args.specdir)
    written = []
    try:
        raw = Path(args.reports).read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"{args.reports}: cannot read: {exc.strerror}") from None
    for n, line in enumerate(raw, 1):
        if not line.strip():
            continue
        try:
            report = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise ConfigError(f"{args.reports}:{n}: not JSON: {exc}") from None
        if not isinstance(report, dict) or report.get("type") != "violation":
            continue  # spec_error reports have no trace
        path = Path(args.out) / f"violation-{n}.itf.json"
        write_json(path, report_to_itf(report, sd.model))
        written.append(str(path))
    if args.json:
        print_json({"written": written})
    else:
        print(f"{len(written)} ITF traces written to {args.out}")
    return 0


def explore(model: Any, max_states: int, max_depth: int | None) -> Any:
    """The state graph, with a progress line on stderr when it is a terminal."""
    from monitor.explore import explore_graph

    if not sys.stderr.isatty():
        return explore_graph(model, max_states=max_states, max_depth=max_depth)

    def progress(states: int, depth: int, edges: int) -> None:
        sys.stderr.write(f"\rexploring: {states} states, depth {depth}, {edges} transitions")
        sys.stderr.flush()

    graph = explore_graph(model, max_states=max_states, max_depth=max_depth,
                          progress=progress)
    sys.stderr.write("\n")
    return graph


def write_json(path: Path, obj: Any) -> None:
    import json

    write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def write_bytes(path: Path, data: bytes) -> None:
    """Write a file, creating its directory; an OS error is a ``ConfigError`` naming it."""
    from monitor.errors import ConfigError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None
