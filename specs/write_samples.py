"""Write the samples of spec directories from their scripted incidents:

    python specs/write_samples.py lease [k8s_reconcile ...] [--out DIR]

`specs/NAME/scenarios.py` defines `SAMPLES = {sample: (make, truth)}`: `make()` returns
a log whose `text()` is the sample's JSON lines, and `truth` lists the violations the
monitor must report as (key, kind, property). This writes `samples/SAMPLE.jsonl` and
`samples/SAMPLE.truth.jsonl` (sorted by key) for each, into the spec's own `samples/`
directory, or into `DIR/NAME/` with `--out`. The same bytes on every run: a test checks
that the committed samples are what this writes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

SPECS = Path(__file__).resolve().parent


def load_scenarios(name: str):
    """Import specs/NAME/scenarios.py (spec directories are not packages)."""
    path = SPECS / name / "scenarios.py"
    if not path.is_file():
        raise SystemExit(f"{path}: missing; a spec with scripted samples needs a scenarios.py")
    module_name = f"specmon_scenarios_{name}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    loader.loader.exec_module(module)
    return module


def write(name: str, out: Path) -> list[Path]:
    """Write every sample of spec NAME into `out`; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sample, (make, truth) in load_scenarios(name).SAMPLES.items():
        log, expected = out / f"{sample}.jsonl", out / f"{sample}.truth.jsonl"
        log.write_text(make().text())
        expected.write_text("".join(
            json.dumps({"key": k, "kind": kind, "property": p}, separators=(",", ":")) + "\n"
            for k, kind, p in sorted(truth)))
        written += [log, expected]
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write spec samples from specs/NAME/scenarios.py.")
    ap.add_argument("names", nargs="+", metavar="NAME", help="spec directory under specs/")
    ap.add_argument("--out", type=Path, help="write into OUT/NAME/ instead of specs/NAME/samples/")
    args = ap.parse_args(argv)
    for name in args.names:
        out = args.out / name if args.out else SPECS / name / "samples"
        print(f"{name}: {len(write(name, out))} files -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
