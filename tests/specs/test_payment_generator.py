"""The payment log generator: deterministic, and its ground truth is what both the
hand-written checker and specmon find (three independent implementations agree)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from monitor.replay import replay
from monitor.specdir import load_specdir

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate = _load("payment_generate", ROOT / "specs/payment/generate.py")
handwritten = _load("bench_handwritten", ROOT / "bench/handwritten.py")


def _write(tmp_path: Path, seed: int, **kw) -> tuple[Path, list[tuple[str, str, str]]]:
    lines, truth = generate.generate(3000, 60, seed=seed, violations=0.2, **kw)
    log = tmp_path / f"log-{seed}.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    return log, sorted((t["key"], t["kind"], t["property"]) for t in truth)


def test_the_generator_is_deterministic_for_a_seed():
    assert generate.generate(500, 20, seed=3) == generate.generate(500, 20, seed=3)
    assert generate.generate(500, 20, seed=3) != generate.generate(500, 20, seed=4)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truth_equals_the_handwritten_checker_and_specmon_with_duplicates_and_shuffling(
        tmp_path, seed):
    log, truth = _write(tmp_path, seed, duplicates=0.05, shuffle=4.0)
    assert truth, "the scenario injects violations"
    assert {k for _, k, _ in truth} >= {"unexpected", "invariant"}
    assert handwritten.check(str(log)) == truth
    result = replay(load_specdir(ROOT / "specs/payment"), [str(log)])
    found = sorted((r["key"], r["kind"], r["property"])
                   for r in map(json.loads, result.reports))
    assert found == truth
    assert result.engine["duplicate"] > 0 and result.engine["late"] == 0


def test_events_of_one_payment_are_at_least_ten_seconds_apart():
    lines, _truth = generate.generate(2000, 30, seed=5, shuffle=4.0)
    last: dict[str, float] = {}
    from datetime import datetime

    for line in lines:
        ev = json.loads(line)
        t = datetime.fromisoformat(ev["time"]).timestamp()
        prev = last.get(ev["subject"])
        if prev is not None and prev != t:  # equal time: a re-delivered duplicate
            assert abs(t - prev) >= 10.0
        last[ev["subject"]] = t


@pytest.mark.parametrize("sample", ["clean", "unexpected", "invariant", "deadline"])
def test_each_sample_truth_matches_the_handwritten_checker(sample):
    path = ROOT / "specs/payment/samples" / f"{sample}.jsonl"
    truth = sorted(
        (t["key"], t["kind"], t["property"])
        for t in map(json.loads, (path.parent / f"{sample}.truth.jsonl").read_text().splitlines())
    )
    assert handwritten.check(str(path)) == truth
