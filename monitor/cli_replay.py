"""``specmon replay`` and ``specmon validate``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monitor.cli import duration_arg, positive_int, print_json

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "replay", help="check recorded logs against a spec",
        description="Replay recorded telemetry (plain or gzip) through a spec: JSON-lines "
        "events, OTLP JSON lines, length-prefixed OTLP protobuf or a Jaeger JSON export, "
        "detected per file. Exit 0 when clean, 1 when violations or spec errors were "
        "found, 2 on bad usage or config.",
    )
    p.add_argument("specdir", help="spec directory (spec.py + mapping.yaml)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="input files (.gz ok)")
    p.add_argument("--format", dest="input_format", default="auto",
                   choices=["auto", *input_formats(), "itf"],
                   help="input format (default auto: detected from each file's first "
                   "bytes): " + "; ".join(f"{k}: {v}" for k, v in input_formats().items())
                   + "; itf: ITF traces (Apalache, quint run --out-itf), one per file, "
                   "steps taken as actions without the mapping")
    p.add_argument("--key", help="itf: the instance key of the traces (default: file name)")
    p.add_argument("--coverage-out", metavar="FILE",
                   help="write transition coverage (how often each transition was taken) "
                   "for `specmon diagram --coverage`")
    p.add_argument("--report", metavar="FILE", help="write violation reports as JSON lines")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="processes, sharding instances by key hash (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal")
    add_engine_flags(p)
    p.set_defaults(handler=run_replay)

    v = sub.add_parser("validate", help="load and check a spec and its mapping",
                       description="Load spec.py and mapping.yaml; exit 0 if both are valid.")
    v.add_argument("specdir")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    v.set_defaults(handler=run_validate)


def input_formats() -> dict[str, str]:
    """Name -> description of every ``--format`` (the registry in trace_files)."""
    from monitor.sources.trace_files import FORMATS

    return {name: fmt.help for name, fmt in FORMATS.items()}


def add_engine_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--lateness", type=duration_arg, metavar="DURATION",
                   help="allowed out-of-order lateness in event time (default 5s)")
    g.add_argument("--late-events", choices=["drop", "apply"])
    g.add_argument("--late-join", choices=["strict", "adopt", "ignore"],
                   help="first event of an unknown key that the initial state does not allow")
    g.add_argument("--after-violation", choices=["quarantine", "restart"])
    g.add_argument("--hidden-steps", type=int, metavar="N")
    g.add_argument("--max-states", type=positive_int, metavar="N")
    g.add_argument("--dedup-window", type=duration_arg, metavar="DURATION")
    g.add_argument("--ttl", type=duration_arg, metavar="DURATION", help="instance TTL")
    g.add_argument("--history", type=positive_int, metavar="N", help="steps kept per instance")


def engine_config(args: argparse.Namespace) -> Any:
    from monitor.engine import EngineConfig

    fields = {
        "allowed_lateness": args.lateness, "late_events": args.late_events,
        "late_join": args.late_join, "after_violation": args.after_violation,
        "hidden_steps": args.hidden_steps, "max_states": args.max_states,
        "dedup_window": args.dedup_window, "instance_ttl": args.ttl, "history": args.history,
    }
    return EngineConfig(**{k: v for k, v in fields.items() if v is not None})


def run_replay(args: argparse.Namespace) -> int:
    from monitor.replay import replay, where
    from monitor.specdir import load_specdir

    specdir = load_specdir(args.specdir)
    config = engine_config(args)
    bar = _ProgressBar() if sys.stderr.isatty() and not args.no_progress else None

    def on_bad(cause: str, origin: Any, message: str) -> None:
        print(f"specmon: skipped {cause} record at {where(origin)}: {message}", file=sys.stderr)

    from monitor.replay_itf import is_itf, replay_itf

    if args.input_format == "itf" or (args.input_format == "auto" and all(
            is_itf(p) for p in args.inputs)):
        result = replay_itf(specdir, args.inputs, config, key=args.key, on_bad=on_bad)
    else:
        from monitor.gc_tuning import tune_gc

        # a log replays in one long run holding every live instance, as the daemon
        # does: the same collector settings (this is the command's process, not a
        # library caller's; workers inherit them when forked)
        tune_gc()
        result = replay(specdir, args.inputs, config, workers=args.workers, on_bad=on_bad,
                        progress=bar, input_format=args.input_format)
    if bar:
        bar.close()
    if args.report:
        with open(args.report, "wb") as f:
            for line in result.reports:
                f.write(line + b"\n")
    summary = result.summary()
    if args.report:
        summary["report"] = args.report
    if args.coverage_out:
        write_coverage(args.coverage_out, specdir, result)
        summary["coverage"] = args.coverage_out
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary, result.reports)
    return result.exit_code


def write_coverage(path: str, specdir: Any, result: Any) -> None:
    from pathlib import Path

    from monitor.cli_generate import write_json
    from monitor.explore.coverage import canonical, coverage_doc

    counts: dict[Any, int] = {}
    for src, action, args, dst, n in result.transitions:
        k = (canonical(src), action, canonical(args), canonical(dst))
        counts[k] = counts.get(k, 0) + n
    uncounted = {k: int(result.engine.get(f"transitions_{k}", 0))
                 for k in ("ambiguous", "overflow")}
    write_json(Path(path), coverage_doc(specdir.name, specdir.model.fields, counts,
                                        uncounted=uncounted))


def _print_summary(s: dict[str, Any], reports: list[bytes]) -> None:
    out = sys.stdout
    rps = s["records_per_second"]
    out.write(f"spec {s['spec']}: {s['records']} records in {s['seconds']}s"
              + (f" ({rps}/s)" if rps else "") + "\n")
    out.write("  outcomes:  " + ", ".join(f"{k}={v}" for k, v in s["outcomes"].items()) + "\n")
    if s["invalid"]:
        out.write("  invalid:   " + ", ".join(f"{k}={v}" for k, v in s["invalid"].items()) + "\n")
    out.write("  instances: " + ", ".join(f"{k}={v}" for k, v in s["instances"].items()) + "\n")
    out.write(f"  violations: {s['violation_count']}\n")
    for kind, props in s["violations"].items():
        for prop, n in props.items():
            if n:
                out.write(f"    {kind:<11} {prop:<28} {n}\n")
    if s["spec_errors"]:
        out.write(f"  spec errors: {s['spec_errors']} (bugs in the spec's own code; see reports)\n")
    if reports:
        import msgspec

        first = msgspec.json.decode(reports[0])
        out.write("\nfirst report:\n")
        out.write(explain(first))
    if "report" in s:
        out.write(f"\nreports written to {s['report']}\n")


def explain(r: dict[str, Any]) -> str:
    """A violation as a short, numbered counterexample for people."""
    lines = []
    if r.get("type") == "spec_error":
        lines.append(f"  SPEC ERROR in {r['where']} for key {r['key']}: {r['message']}")
        return "\n".join(lines) + "\n"
    lines.append(f"  {r['kind'].upper()} {r['property']} for key {r['key']}: {r['message']}")
    origin = r.get("origin")
    if isinstance(origin, dict) and "line" in origin:
        lines.append(f"  at {origin['file']}:{origin['line']}")
    elif isinstance(origin, dict) and "file" in origin:
        lines.append("  at " + " ".join([origin["file"]] + [f"{k} {v}" for k, v in
                                                           origin.items() if k != "file"]))
    elif origin:
        lines.append(f"  at {origin}")
    if r.get("trace_id"):
        lines.append(f"  trace {r['trace_id']}" + (f" span {r['span_id']}"
                                                   if r.get("span_id") else ""))
    for i, h in enumerate(r.get("history", []), 1):
        args = ", ".join(f"{k}={v!r}" for k, v in h["args"].items())
        lines.append(f"   {i}. {h['action']}({args})  -> {_states(h['states'])}")
    if r.get("action"):
        args = ", ".join(f"{k}={v!r}" for k, v in (r.get("args") or {}).items())
        lines.append(f"   {len(r.get('history', [])) + 1}. {r['action']}({args})  -> VIOLATION")
    return "\n".join(lines) + "\n"


def _states(states: list[dict[str, Any]]) -> str:
    shown = ["{" + ", ".join(f"{k}={v!r}" for k, v in s.items()) + "}" for s in states[:3]]
    more = f" (+{len(states) - 3} more)" if len(states) > 3 else ""
    return " | ".join(shown) + more


def run_validate(args: argparse.Namespace) -> int:
    from monitor.specdir import load_specdir

    sd = load_specdir(args.specdir)
    info = {
        "spec": sd.name, "class": sd.model.name, "fields": list(sd.model.fields),
        "actions": {a.name: {"params": list(a.params), "hidden": a.hidden}
                    for a in sd.model.actions.values()},
        "invariants": [n for n, _ in sd.model.invariants],
        "deadlines": {w.name: w.seconds for w in sd.model.withins},
        # which inputs the mapping can read: events (JSON records), spans (OTLP)
        "sections": [n for n in ("events", "spans") if getattr(sd.mapping, n) is not None],
        "ok": True,
    }
    if args.json:
        print_json(info)
    else:
        print(f"{sd.path}: ok — spec {sd.model.name}: {len(info['actions'])} actions, "
              f"{len(info['invariants'])} invariants, {len(info['deadlines'])} deadlines; "
              f"maps {' and '.join(info['sections'])}")
    return 0


class _ProgressBar:
    def __init__(self) -> None:
        import time

        self.start = time.perf_counter()
        self.clock = time.perf_counter

    def __call__(self, done: int, total: int, records: int) -> None:
        rate = records / max(self.clock() - self.start, 1e-9)
        frac = done / total if total else 0.0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r[{bar:<30}] {records:>10} records {rate:>9.0f}/s")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
