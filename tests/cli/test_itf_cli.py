"""ITF in and out through the command line: reports -> ITF -> replay gives the same
violations; traces from other tools are checked without the mapping."""

from __future__ import annotations

import gzip
import json

from monitor.cli import main
from tests.cli.test_generate_cli import PAYMENT, SAMPLES, lines


def test_reports_exported_as_itf_replay_to_the_same_violations(tmp_path, capsys):
    first = tmp_path / "r1.jsonl"
    assert main(["replay", str(PAYMENT), str(SAMPLES / "invariant.jsonl"), "--report",
                 str(first), "--late-join", "strict"]) == 1
    assert main(["itf", str(PAYMENT), str(first), "-o", str(tmp_path / "itf")]) == 0
    traces = sorted((tmp_path / "itf").glob("*.itf.json"))
    for trace in traces:  # each trace is checked as the instance it came from
        doc = json.loads(trace.read_text())
        key = doc["#meta"]["violation"]["key"]
        again = tmp_path / f"{trace.name}.r.jsonl"
        assert main(["replay", str(PAYMENT), str(trace), "--key", key, "--report",
                     str(again), "--late-join", "strict"]) == 1
        (report,) = lines(again)
        (original,) = [r for r in lines(first) if r["key"] == key]
        for field in ("kind", "property", "message", "time", "action", "args", "history"):
            assert report[field] == original[field], field
    assert len(traces) == len(lines(first)) > 0
    capsys.readouterr()


def test_an_itf_trace_is_detected_and_its_key_is_the_file_name(tmp_path, capsys):
    trace = {"vars": ["mbt::actionTaken", "mbt::nondetPicks"], "states": [
        {"mbt::actionTaken": "init", "mbt::nondetPicks": {}},
        {"mbt::actionTaken": "capture",
         "mbt::nondetPicks": {"amount": {"tag": "Some", "value": {"#bigint": "50"}}}}]}
    path = tmp_path / "run_7.itf.json.gz"
    path.write_bytes(gzip.compress(json.dumps(trace).encode()))
    report = tmp_path / "r.jsonl"
    assert main(["replay", str(PAYMENT), str(path), "--late-join", "strict", "--report",
                 str(report), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["violations"]["unexpected"]["capture"] == 1
    (r,) = lines(report)
    assert (r["key"], r["time"], r["origin"]) == ("run_7", 1.0, {"file": str(path), "state": 1})


def test_a_file_that_is_not_a_usable_trace_is_counted_invalid_and_skipped(tmp_path, capsys):
    bad = tmp_path / "bad.itf.json"
    bad.write_text('{"vars": [], "states": [{}, {"mbt::actionTaken": "launch"}]}')
    good = tmp_path / "good.itf.json"
    good.write_text('{"vars": [], "states": [{}, {"mbt::actionTaken": "authorize", '
                    '"mbt::nondetPicks": {"amount": {"#bigint": "100"}}}]}')
    assert main(["replay", str(PAYMENT), str(bad), str(good), "--format", "itf",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["invalid"] == {"unknown_action": 1}
    assert summary["outcomes"]["applied"] == 1
    assert "'launch' is not an action of Payment" in err
