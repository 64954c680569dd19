"""`specmon diagram` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.cli import main
from monitor.explore import explore_graph
from monitor.explore.coverage import coverage_doc
from monitor.specdir import load_specdir

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"
FIELDS = ["status", "authorized", "captured", "refunded"]


def test_diagram_prints_mermaid_and_dot(capsys):
    assert main(["diagram", str(PAYMENT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("%% Payment: 37 states, 63 transitions\nflowchart LR\n")
    assert 's0 -->|"authorize(100)"| s1' in out
    assert main(["diagram", str(PAYMENT), "--format", "dot", "--max-states", "3"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "Payment" {') and "(cut by a bound)" in dot


def test_diagram_with_coverage_reports_unseen_transitions_and_can_fail_on_them(tmp_path, capsys):
    cov = tmp_path / "c.json"
    cov.write_text(json.dumps(coverage_doc("payment", FIELDS, {
        (("new", 0, 0, 0), "authorize", (100,), ("authorized", 100, 0, 0)): 5})))
    assert main(["diagram", str(PAYMENT), "--coverage", str(cov), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["coverage"]["seen"] == 1
    assert len(summary["coverage"]["unseen"]) == summary["transitions"] - 1 == 62
    assert 's0 -->|"authorize(100) ×5"| s1' in summary["text"]
    assert main(["diagram", str(PAYMENT), "--coverage", str(cov), "--fail-unseen", "-o",
                 str(tmp_path / "d.mmd")]) == 1
    assert "coverage: 1 of 63 transitions seen" in capsys.readouterr().err
    assert (tmp_path / "d.mmd").read_text().startswith("%% Payment")


def test_a_coverage_file_that_is_not_one_is_bad_usage_naming_it(tmp_path, capsys):
    bad = tmp_path / "c.json"
    bad.write_text('{"format": "other"}')
    assert main(["diagram", str(PAYMENT), "--coverage", str(bad)]) == 2
    assert f"{bad}: $.format: not a specmon coverage file" in capsys.readouterr().err


def test_replaying_the_generated_telemetry_takes_every_transition_but_the_violating_ones(
        tmp_path, capsys):
    assert main(["generate", str(PAYMENT), "-o", str(tmp_path / "s.jsonl"), "--telemetry",
                 "json", "--telemetry-dir", str(tmp_path / "tel")]) == 0
    assert main(["replay", str(PAYMENT), str(tmp_path / "tel" / "all.jsonl"), "--late-join",
                 "strict", "--coverage-out", str(tmp_path / "c.json")]) == 1
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["uncounted"] == {"ambiguous": 0, "overflow": 0}
    capsys.readouterr()
    assert main(["diagram", str(PAYMENT), "--coverage", str(tmp_path / "c.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # a step into a state that breaks an invariant is a violation, never a transition
    # the monitor takes: those are exactly the transitions left unseen
    unseen = summary["coverage"]["unseen"]
    assert summary["coverage"]["seen"] + len(unseen) == summary["transitions"] == 63
    graph = explore_graph(load_specdir(PAYMENT).model)
    assert sorted(unseen) == sorted(f"{e.src} -> {e.action}({', '.join(map(repr, e.args))}) -> "
                                    f"{e.dst}" for e in graph.edges if e.dst in graph.broken)
    assert len(unseen) == 7
    assert summary["coverage"]["outside_graph"] == 0


def test_coverage_is_the_same_whether_replay_runs_on_one_worker_or_two(tmp_path, capsys):
    log = ROOT / "specs" / "payment" / "samples" / "clean.jsonl"
    docs = []
    for workers in ("1", "2"):
        out = tmp_path / f"c{workers}.json"
        assert main(["replay", str(PAYMENT), str(log), "--workers", workers,
                     "--coverage-out", str(out)]) == 0
        doc = json.loads(out.read_text())
        doc["transitions"].sort(key=json.dumps)
        docs.append(doc)
    assert docs[0] == docs[1] and len(docs[0]["transitions"]) > 3
    capsys.readouterr()
