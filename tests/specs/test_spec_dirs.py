"""What every spec directory with a buggy first draft promises (lease, k8s_reconcile,
idempotency): each sample replays to exactly its truth file, the samples are what
`specs/write_samples.py` writes, `specmon validate` accepts the directory, `specmon
check` finds the draft's bug with a short counterexample and nothing in the fixed spec
(a complete search of a small state space), and the monitor running the fixed spec
reports the draft's counterexample on its last step. Spec-specific behaviour is in
tests/specs/test_<name>.py."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.engine import Engine, Event
from monitor.explore import StateGraph, explore_graph
from tests.specs.helpers import (
    SPECS,
    check_json,
    cli,
    model,
    monitor_trail,
    read_truth,
    regenerated_differences,
    replay_sample,
    sample_names,
    trail,
)


@dataclass(frozen=True)
class Case:
    fixed: str  # the class mapping.yaml names
    states: int  # reachable states of the fixed spec over its domains
    draft: str
    invariant: str  # what the draft breaks first
    steps: int  # the shortest counterexample's length, hidden steps included
    last: str  # its last action: the step the fixed spec refuses
    samples: dict[str, str]  # violating sample -> "kind property" it must report


CASES = {
    "lease": Case("Lease", 97, "LeaseDraft", "one_leader_per_term", 3, "acquire", {
        "two_leaders": "unexpected acquire", "unfenced_write": "unexpected write_accepted",
        "no_failover": "deadline failover"}),
    "k8s_reconcile": Case("Reconcile", 69, "ReconcileDraft", "observed_was_applied", 5,
                          "write_status", {
        "stale_status": "unexpected write_status", "stuck": "deadline converges",
        "apply_after_delete": "unexpected apply"}),
    "idempotency": Case("Idempotency", 479, "IdempotencyDraft", "charged_at_most_once", 6,
                        "charged", {
        "double_charge": "unexpected charged", "premature_success": "unexpected responded",
        "stuck_lock": "deadline lock_released"}),
}

SAMPLES = [(spec, sample) for spec in CASES for sample in sample_names(spec)]


@pytest.mark.parametrize("spec,sample", SAMPLES)
def test_each_sample_replays_to_exactly_its_truth(spec, sample):
    result, found = replay_sample(spec, sample)
    assert found == read_truth(spec, sample)
    assert result.outcomes["invalid"] == 0 and result.spec_errors == 0
    assert result.exit_code == (0 if sample == "clean" else 1)


@pytest.mark.parametrize("spec", CASES)
def test_every_spec_has_a_clean_sample_and_one_violation_in_each_other_sample(spec):
    names = sample_names(spec)
    assert names[0] == "clean" and read_truth(spec, "clean") == []
    found = {}
    for sample in names[1:]:
        [(_key, kind, prop)] = read_truth(spec, sample)
        found[sample] = f"{kind} {prop}"
    assert found == CASES[spec].samples


@pytest.mark.parametrize("spec", CASES)
def test_the_samples_are_exactly_what_write_samples_writes(spec, tmp_path):
    assert regenerated_differences(spec, tmp_path) == []


@pytest.mark.parametrize("spec", CASES)
def test_validate_accepts_the_spec_dir(spec, capsys):
    rc, out = cli(capsys, "validate", str(SPECS / spec))
    assert rc == 0 and f"ok — spec {CASES[spec].fixed}:" in out


@pytest.mark.parametrize("spec", CASES)
def test_check_finds_the_drafts_bug_with_a_short_counterexample(spec, capsys):
    case = CASES[spec]
    rc, res = check_json(capsys, spec, case.draft)
    assert rc == 1 and res["complete"] and res["result"] == "violations"
    first = res["findings"][0]
    assert (first["kind"], first["property"]) == ("invariant", case.invariant)
    assert len(first["steps"]) == case.steps and first["steps"][-1]["action"] == case.last
    assert any(s["hidden"] for s in first["steps"]), "the bug needs an unobserved step"


@pytest.mark.parametrize("spec", CASES)
def test_check_of_the_fixed_spec_named_by_the_mapping_is_clean_in_a_complete_search(
        spec, capsys):
    rc, res = check_json(capsys, spec, CASES[spec].fixed)
    assert rc == 0 and res["result"] == "ok" and res["complete"] and res["findings"] == []
    assert res["states"] == CASES[spec].states < 200_000
    rc, out = cli(capsys, "check", str(SPECS / spec), "--no-progress")
    assert rc == 0 and out.startswith(f"spec {CASES[spec].fixed} (")


@pytest.mark.parametrize("spec", CASES)
def test_the_monitor_with_the_fixed_spec_reports_the_drafts_counterexample_on_its_last_step(
        spec, capsys):
    case = CASES[spec]
    _, res = check_json(capsys, spec, case.draft)
    steps = trail(res["findings"][0])
    assert monitor_trail(model(spec, case.fixed), "k", steps) == [
        ("unexpected", case.last, case.last)]
    # the draft, monitored, breaks its own invariant on the same step
    assert monitor_trail(model(spec, case.draft), "k", steps) == [
        ("invariant", case.invariant, case.last)]


@cache
def _graph(spec: str) -> StateGraph:
    graph = explore_graph(model(spec, CASES[spec].fixed))
    assert graph.complete
    return graph


@pytest.mark.parametrize("spec", CASES)
@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_every_walk_of_the_fixed_spec_is_accepted_by_the_monitor(spec, picks):
    """A law: whatever the spec allows, the monitor accepts when it sees only the
    observed steps (at most 2 hidden steps between them, the default `hidden_steps`),
    10 ms apart so that no `within` deadline can pass."""
    graph, sid, hidden_run, walk = _graph(spec), 0, 0, []
    for pick in picks:
        options = [e for e in map(graph.edges.__getitem__, graph.edges.out(sid))
                   if not (e.hidden and hidden_run == 2)]
        if not options:
            break
        edge = options[pick % len(options)]
        hidden_run = hidden_run + 1 if edge.hidden else 0
        walk.append(edge)
        sid = edge.dst
    engine = Engine(model(spec, CASES[spec].fixed))
    events = [Event("k", 1_800_000_000.0 + i / 100, e.action, e.args, f"e{i}")
              for i, e in enumerate(walk) if not e.hidden]
    reports = engine.feed_many(events) + engine.flush()
    assert reports == [], [(e.action, e.args, e.hidden) for e in walk]
