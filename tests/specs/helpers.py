"""Shared checks of a spec directory (specs/<name>/): its samples replay to their
truth files, `specmon validate` and `specmon check` on it, one step of its model, and
a draft's counterexample fed to the monitor."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from monitor.cli import main
from monitor.engine import Engine, Event
from monitor.replay import ReplayResult, replay
from monitor.spec import model_of
from monitor.spec.model import SpecModel, Step
from monitor.specdir import load_spec_class, load_specdir

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"

Verdicts = list[tuple[str, str, str]]


def sample_names(spec: str) -> list[str]:
    """Every sample log of a spec directory, by stem (clean, then the others)."""
    stems = sorted(p.stem for p in (SPECS / spec / "samples").glob("*.jsonl")
                   if not p.name.endswith(".truth.jsonl"))
    return sorted(stems, key=lambda s: s != "clean")


def regenerated_differences(spec: str, out: Path) -> list[str]:
    """Run specs/write_samples.py for SPEC into `out`: the sample files whose bytes
    differ from the committed ones, and those only one side has."""
    name = "specmon_write_samples"
    loader = importlib.util.spec_from_file_location(name, SPECS / "write_samples.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    loader.loader.exec_module(module)
    assert module.main([spec, "--out", str(out)]) == 0
    committed, written = SPECS / spec / "samples", out / spec
    names = {p.name for p in committed.iterdir()} | {p.name for p in written.iterdir()}
    return sorted(n for n in names if not (committed / n).is_file()
                  or not (written / n).is_file()
                  or (committed / n).read_bytes() != (written / n).read_bytes())


def read_truth(spec: str, sample: str) -> Verdicts:
    path = SPECS / spec / "samples" / f"{sample}.truth.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return sorted((r["key"], r["kind"], r["property"]) for r in rows)


def replay_sample(spec: str, sample: str) -> tuple[ReplayResult, Verdicts]:
    """Replay one sample with the default engine settings: (result, verdicts by key)."""
    result = replay(load_specdir(SPECS / spec), [str(SPECS / spec / "samples" / f"{sample}.jsonl")])
    found = sorted((r["key"], r["kind"], r["property"]) for r in map(json.loads, result.reports))
    return result, found


def reports(result: ReplayResult) -> list[dict[str, Any]]:
    return [json.loads(r) for r in result.reports]


def cli(capsys, *argv: str) -> tuple[int, str]:
    """Run `specmon ARGV...` in process: (exit code, stdout)."""
    capsys.readouterr()
    rc = main(list(argv))
    return rc, capsys.readouterr().out


def check_json(capsys, spec: str, cls: str) -> tuple[int, dict[str, Any]]:
    """`specmon check specs/SPEC --spec CLS --json`: (exit code, the JSON result)."""
    rc, out = cli(capsys, "check", str(SPECS / spec), "--spec", cls, "--json", "--no-progress")
    return rc, json.loads(out)


def trail(finding: dict[str, Any]) -> list[tuple[str, tuple[Any, ...], bool]]:
    """A finding's counterexample as (action, args, hidden) per step."""
    return [(s["action"], tuple(s["args"].values()), s["hidden"]) for s in finding["steps"]]


def model(spec: str, cls: str) -> SpecModel:
    return model_of(load_spec_class(SPECS / spec / "spec.py", cls))


def state(m: SpecModel, **fields: Any) -> tuple[Any, ...]:
    """The initial state with some fields replaced."""
    unknown = set(fields) - set(m.fields)
    assert not unknown, f"not fields of {m.name}: {unknown}"
    return tuple(fields.get(f, v) for f, v in zip(m.fields, m.initial))


def step(m: SpecModel, s: tuple[Any, ...], action: str, *args: Any) -> Step:
    out = m.step(s, m.actions[action], args)
    assert not out.errors, out.errors
    return out


def fields(m: SpecModel, s: tuple[Any, ...]) -> dict[str, Any]:
    return m.as_dict(s)


def monitor_trail(m: SpecModel, key: str, steps: list[tuple[str, tuple[Any, ...], bool]]
                  ) -> list[tuple[str, str, str | None]]:
    """Feed the observed steps of a counterexample (the hidden ones are the monitor's to
    infer) to an engine running `m`, one second apart: (kind, property, action) per
    report."""
    engine = Engine(m)
    events = [Event(key, 1_800_000_000.0 + i, action, args, f"e{i}")
              for i, (action, args, hidden) in enumerate(steps) if not hidden]
    out = engine.feed_many(events) + engine.flush()
    return [(r.kind, r.property, getattr(r, "action", None)) for r in out]

