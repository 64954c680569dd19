"""`specmon generate` and `specmon itf` end to end on real files."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.cli import main
from monitor.explore.itf import read_trace

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"
SAMPLES = PAYMENT / "samples"


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_generate_writes_scenarios_itf_and_telemetry_and_summarises_as_json(tmp_path, capsys):
    rc = main(["generate", str(PAYMENT), "-o", str(tmp_path / "s.jsonl"), "--itf",
               str(tmp_path / "itf"), "--telemetry", "json", "--telemetry-dir",
               str(tmp_path / "tel"), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    scenarios = lines(tmp_path / "s.jsonl")
    assert summary["scenarios"]["positive"] + summary["scenarios"]["negative"] == len(scenarios)
    assert summary["coverage"] == 1.0 and summary["covered"] == summary["edges"] == 63
    assert summary["telemetry"]["records"] == summary["steps"] == sum(
        len(s["steps"]) for s in scenarios)
    for s in scenarios:
        trace = read_trace(json.loads((tmp_path / "itf" / f"{s['id']}.itf.json").read_text()))
        assert [st.action for st in trace.steps] == [st["action"] for st in s["steps"]]
        assert len(lines(tmp_path / "tel" / f"{s['id']}.jsonl")) == len(s["steps"])


def test_the_generated_telemetry_replays_to_exactly_the_negative_verdicts(tmp_path, capsys):
    assert main(["generate", str(PAYMENT), "-o", str(tmp_path / "s.jsonl"), "--telemetry",
                 "json", "--telemetry-dir", str(tmp_path / "tel")]) == 0
    capsys.readouterr()
    rc = main(["replay", str(PAYMENT), str(tmp_path / "tel" / "all.jsonl"), "--late-join",
               "strict", "--lateness", "0", "--json"])
    assert rc == 1
    summary = json.loads(capsys.readouterr().out)
    wanted: dict[str, dict[str, int]] = {}
    for s in lines(tmp_path / "s.jsonl"):
        for st in s["steps"]:
            if st["expect"] in ("unexpected", "invariant"):
                props = wanted.setdefault(st["expect"], {})
                props[st["property"]] = props.get(st["property"], 0) + 1
    assert {k: {p: n for p, n in v.items() if n} for k, v in summary["violations"].items()
            if any(v.values())} == wanted


def test_generate_prints_scenarios_to_stdout_and_a_summary_to_stderr(capsys):
    assert main(["generate", str(PAYMENT), "--max-steps", "5"]) == 0
    out, err = capsys.readouterr()
    first = json.loads(out.splitlines()[0])
    assert set(first) == {"id", "kind", "spec", "key", "steps", "target", "new_edges"}
    assert err.startswith("spec payment: 37 states, 63 transitions (complete)")


def test_telemetry_without_a_directory_is_bad_usage(capsys):
    assert main(["generate", str(PAYMENT), "--telemetry", "json"]) == 2
    assert "--telemetry needs --telemetry-dir DIR" in capsys.readouterr().err


def test_itf_turns_each_violation_report_into_a_trace(tmp_path, capsys):
    report = tmp_path / "r.jsonl"
    assert main(["replay", str(PAYMENT), str(SAMPLES / "unexpected.jsonl"), "--report",
                 str(report)]) == 1
    capsys.readouterr()
    assert main(["itf", str(PAYMENT), str(report), "-o", str(tmp_path / "itf"), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["written"]
    assert len(written) == len(lines(report)) == 2
    for path, r in zip(written, lines(report)):
        doc = json.loads(Path(path).read_text())
        assert doc["#meta"]["violation"]["key"] == r["key"]
        assert read_trace(doc).steps[-1].action == r["action"]


def test_otlp_telemetry_replays_as_collector_file_export_lines(tmp_path, capsys):
    spans = ROOT / "tests" / "specdirs" / "shipping"
    assert main(["generate", str(spans), "-o", str(tmp_path / "s.jsonl"), "--telemetry",
                 "otlp", "--telemetry-dir", str(tmp_path / "tel"), "--max-states", "60"]) == 0
    capsys.readouterr()
    negative = [s for s in lines(tmp_path / "s.jsonl") if s["kind"] == "negative"]
    rc = main(["replay", str(spans), *[str(tmp_path / "tel" / f"{s['id']}.jsonl")
                                      for s in negative],
               "--late-join", "strict", "--lateness", "0", "--json"])
    assert rc == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["violation_count"] == len(negative) == 6
    assert summary["outcomes"]["unmatched"] == 0


def test_telemetry_for_a_section_the_mapping_lacks_is_bad_usage(tmp_path, capsys):
    assert main(["generate", str(ROOT / "tests" / "specdirs" / "shipping"), "--telemetry",
                 "json", "--telemetry-dir", str(tmp_path), "--max-states", "10"]) == 2
    assert "has no `events:` section, so there is nothing to invert for --telemetry json" in \
        capsys.readouterr().err


BUGGY = '''
from monitor import Spec, action, require


class Counter(Spec):
    n: int = 0

    @action(k=[1, 2])
    def add(self, k: int):
        require(self.n < 3, "full")
        self.n += 10 // (2 - k)  # k == 2 divides by zero: a bug in the spec

    @action
    def note(self, text: str):  # no domain: never explored
        pass
'''


def test_a_spec_whose_code_raises_while_exploring_exits_one_and_names_the_bug(tmp_path, capsys):
    (tmp_path / "spec.py").write_text(BUGGY)
    (tmp_path / "mapping.yaml").write_text(
        "events:\n  rules:\n    - {when: {type: add}, action: add, args: {k: k}}\n"
        "    - {when: {type: note}, action: note, args: {text: text}}\n")
    assert main(["generate", str(tmp_path), "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["spec_errors"] == ["Counter.add(2,) raised ZeroDivisionError: integer "
                                      "division or modulo by zero"]
    assert summary["unexplored_actions"] == ["note"] and summary["complete"] is False
