"""`specmon replay` and `specmon validate` end to end on real files."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from monitor.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"
SAMPLES = PAYMENT / "samples"


def _truth(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            d = json.loads(line)
            out.append((d["key"], d["kind"], d["property"]))
    return sorted(out)


def _reports(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_clean_sample_exits_zero_and_writes_no_report(tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    rc = main(["replay", str(PAYMENT), str(SAMPLES / "clean.jsonl"), "--report", str(report)])
    assert rc == 0
    assert report.read_text() == ""
    assert "violations: 0" in capsys.readouterr().out


@pytest.mark.parametrize("sample", ["unexpected", "invariant", "deadline"])
def test_each_violating_sample_reports_exactly_its_ground_truth(sample, tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    rc = main(["replay", str(PAYMENT), str(SAMPLES / f"{sample}.jsonl"), "--report", str(report)])
    assert rc == 1
    got = sorted((r["key"], r["kind"], r["property"]) for r in _reports(report))
    assert got == _truth(SAMPLES / f"{sample}.truth.jsonl")
    assert {k for _, k, _ in got} == {sample}


def test_report_carries_record_origin_history_and_states_before(tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    main(["replay", str(PAYMENT), str(SAMPLES / "unexpected.jsonl"), "--report", str(report)])
    r = _reports(report)[0]
    assert r["type"] == "violation" and r["spec"] == "payment"
    assert r["origin"]["file"].endswith("unexpected.jsonl") and r["origin"]["line"] >= 1
    line = (SAMPLES / "unexpected.jsonl").read_text().splitlines()[r["origin"]["line"] - 1]
    assert r["record"] == json.loads(line)
    assert r["history"], "a violation on a known payment has history"
    assert all(set(h) == {"time", "action", "args", "states"} for h in r["history"])
    assert r["states_before"] == r["history"][-1]["states"]


def test_json_summary_counts_outcomes_and_violations(tmp_path, capsys):
    rc = main(["replay", str(PAYMENT), str(SAMPLES / "invariant.jsonl"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    lines = [x for x in (SAMPLES / "invariant.jsonl").read_text().splitlines() if x.strip()]
    assert summary["records"] == len(lines)
    assert summary["violations"]["invariant"]["refunds_within_captures"] == len(
        _truth(SAMPLES / "invariant.truth.jsonl"))
    assert summary["violation_count"] == len(_truth(SAMPLES / "invariant.truth.jsonl"))
    assert summary["outcomes"]["unmatched"] == 0


def test_gzip_input_gives_the_same_verdicts_as_plain(tmp_path, capsys):
    gz = tmp_path / "log.jsonl.gz"
    gz.write_bytes(gzip.compress((SAMPLES / "unexpected.jsonl").read_bytes()))
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main(["replay", str(PAYMENT), str(SAMPLES / "unexpected.jsonl"), "--report", str(plain)])
    main(["replay", str(PAYMENT), str(gz), "--report", str(packed)])
    strip = lambda rs: [{k: v for k, v in r.items() if k != "origin"} for r in rs]  # noqa: E731
    assert strip(_reports(plain)) == strip(_reports(packed))


def test_a_cut_off_gzip_log_is_read_up_to_the_damage_and_the_rest_counted_malformed(tmp_path, capsys):
    lines = (SAMPLES / "unexpected.jsonl").read_bytes()
    packed = gzip.compress(lines)
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(packed[: len(packed) * 2 // 3])
    rc = main(["replay", str(PAYMENT), str(gz), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    assert summary["invalid"] == {"malformed": 1}
    assert 0 < summary["records"] < len([x for x in lines.splitlines() if x.strip()]) + 1


def test_bad_records_are_counted_by_cause_sampled_with_file_and_line_and_skipped(tmp_path, capsys):
    src = (SAMPLES / "clean.jsonl").read_text().splitlines()
    bad = [
        "{not json",
        json.dumps({"type": "payment.captured", "subject": "p-x", "time": "2026-11-01T00:00:00Z",
                    "id": "bad-1", "data": {"amount": "lots"}}),
        json.dumps({"type": "payment.captured", "time": "2026-11-01T00:00:00Z", "id": "bad-2",
                    "data": {"amount": 5}}),
        json.dumps({"type": "something.else", "subject": "p-y", "time": "2026-11-01T00:00:00Z"}),
    ]
    log = tmp_path / "mixed.jsonl"
    log.write_text("\n".join(bad + src) + "\n")
    rc = main(["replay", str(PAYMENT), str(log), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert rc == 0
    assert summary["invalid"] == {"malformed": 1, "bad_arg": 1, "missing_key": 1}
    assert summary["outcomes"]["unmatched"] == 1
    assert summary["records"] == len(src) + 4
    assert f"{log}:1" in captured.err and f"{log}:2" in captured.err


def test_sharded_replay_reports_the_same_violations_as_one_process(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    truth = tmp_path / "truth.jsonl"
    subprocess.run([sys.executable, str(PAYMENT / "generate.py"), "--events", "4000", "--live",
                    "80", "--violations", "0.2", "--duplicates", "0.05", "--shuffle", "4",
                    "--out", str(log), "--truth", str(truth)], check=True, capture_output=True)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["replay", str(PAYMENT), str(log), "--report", str(one)]) == 1
    assert main(["replay", str(PAYMENT), str(log), "--workers", "2", "--report", str(two)]) == 1
    key = lambda r: (r["time"], r["key"], r["kind"])  # noqa: E731
    assert sorted(_reports(one), key=key) == sorted(_reports(two), key=key)
    assert sorted((r["key"], r["kind"], r["property"]) for r in _reports(two)) == _truth(truth)


def test_missing_spec_directory_is_a_usage_error(tmp_path, capsys):
    rc = main(["replay", str(tmp_path / "nope"), str(SAMPLES / "clean.jsonl")])
    assert rc == 2
    assert "nope: not a directory" in capsys.readouterr().err


def test_mapping_naming_an_unknown_action_stops_with_file_and_field(tmp_path, capsys):
    spec = tmp_path / "payment"
    shutil.copytree(PAYMENT, spec, ignore=shutil.ignore_patterns("samples"))
    text = (spec / "mapping.yaml").read_text().replace("action: void", "action: cancel")
    (spec / "mapping.yaml").write_text(text)
    rc = main(["validate", str(spec)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "mapping.yaml" in err and "$.events.rules[" in err and "cancel" in err


def test_a_spec_that_raises_is_reported_as_a_spec_error_not_a_violation(tmp_path, capsys):
    spec = tmp_path / "buggy"
    spec.mkdir()
    (spec / "spec.py").write_text(
        "from monitor import Spec, action, require\n"
        "class Buggy(Spec):\n"
        "    n: int = 0\n"
        "    @action\n"
        "    def tick(self, by: int):\n"
        "        self.n += 10 // by\n"
    )
    (spec / "mapping.yaml").write_text(
        "events:\n  key: subject\n  rules:\n"
        "    - when: {type: tick}\n      action: tick\n      args: {by: data.by}\n"
    )
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(
        json.dumps({"type": "tick", "subject": "a", "id": str(i), "time": 1000 + i,
                    "data": {"by": by}}) for i, by in enumerate([1, 0, 2])) + "\n")
    report = tmp_path / "r.jsonl"
    rc = main(["replay", str(spec), str(log), "--json", "--report", str(report)])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert summary["spec_errors"] == 1 and summary["violation_count"] == 0
    (r,) = _reports(report)
    assert r["type"] == "spec_error" and "ZeroDivisionError" in r["message"]
    assert r["where"] == "Buggy.tick"


def test_validate_prints_ok_for_the_payment_spec(capsys):
    assert main(["validate", str(PAYMENT)]) == 0
    assert "ok" in capsys.readouterr().out


def test_console_script_runs_and_exit_code_signals_violations(tmp_path):
    exe = Path(sys.executable).parent / "specmon"
    proc = subprocess.run(
        [str(exe), "replay", str(PAYMENT), str(SAMPLES / "deadline.jsonl"), "--json"],
        capture_output=True, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert msgspec.json.decode(proc.stdout)["violations"]["deadline"]["settles"] >= 1
