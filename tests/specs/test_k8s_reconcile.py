"""specs/k8s_reconcile: a controller's reconcile loop over Kubernetes audit events. Its
samples replay to their truth, the spec dir validates, `specmon check` finds the first
draft's stale-status bug (the newer spec marked observed from a stale cache read) and
nothing in the fixed spec, and the key guards and invariants hold."""

from __future__ import annotations

import pytest

from tests.specs.helpers import (
    SPECS,
    check_json,
    cli,
    model,
    monitor_trail,
    read_truth,
    regenerated_differences,
    replay_sample,
    reports,
    sample_names,
    state,
    step,
    trail,
)

SPEC = "k8s_reconcile"
RECONCILE = model(SPEC, "Reconcile")
DRAFT = model(SPEC, "ReconcileDraft")


# --------------------------------------------------------------------------- samples

@pytest.mark.parametrize("sample", sample_names(SPEC))
def test_each_sample_replays_to_exactly_its_truth(sample):
    result, found = replay_sample(SPEC, sample)
    assert found == read_truth(SPEC, sample)
    assert result.outcomes["invalid"] == 0 and result.spec_errors == 0
    assert result.exit_code == (0 if sample == "clean" else 1)


def test_the_samples_are_a_clean_log_and_three_controller_bugs():
    assert sample_names(SPEC) == ["clean", "apply_after_delete", "stale_status", "stuck"]
    assert {p for s in sample_names(SPEC)[1:] for _, _, p in read_truth(SPEC, s)} == {
        "apply", "write_status", "converges"}


def test_the_clean_log_survives_a_lagging_cache_a_conflict_a_label_edit_and_a_delete():
    result, _ = replay_sample(SPEC, "clean")
    # the 409 status update and the kubectl get match no rule
    assert result.outcomes["unmatched"] == 2 and result.engine["finished"] == 1


def test_a_status_naming_an_unapplied_generation_is_reported_with_both_generations():
    result, _ = replay_sample(SPEC, "stale_status")
    [r] = reports(result)
    assert r["message"] == (
        "write_status(2) not allowed: status.observedGeneration=2, but the child Deployment "
        "was last written from generation 1 (API server at 2): observedGeneration must name "
        "the spec that was applied")
    assert r["record"]["user"]["username"].endswith(":widget-controller")


def test_a_controller_that_never_catches_up_misses_the_five_minute_deadline():
    result, _ = replay_sample(SPEC, "stuck")
    [r] = reports(result)
    assert r["key"] == "shop/cart" and r["time"] - 300 == pytest.approx(
        reports(result)[0]["history"][-1]["time"])


def test_make_samples_writes_exactly_the_committed_samples(tmp_path):
    assert regenerated_differences(SPEC, tmp_path) == []


def test_validate_accepts_the_spec_dir(capsys):
    rc, out = cli(capsys, "validate", str(SPECS / SPEC))
    assert rc == 0 and "spec Reconcile: 6 actions, 2 invariants, 1 deadlines" in out


# --------------------------------------------------------------------------- check

def test_check_finds_the_drafts_stale_observed_generation_in_five_steps(capsys):
    rc, res = check_json(capsys, SPEC, "ReconcileDraft")
    assert rc == 1 and res["complete"] and len(res["findings"]) == 1
    [f] = res["findings"]
    assert (f["kind"], f["property"]) == ("invariant", "observed_was_applied")
    assert trail(f) == [("create", (), False), ("update", (2,), False),
                        ("informer_sync", (), True), ("apply", (1,), False),
                        ("write_status", (2,), False)]
    assert f["steps"][-1]["state"] == {"phase": "live", "generation": 2, "cached": 1,
                                       "applied": 1, "observed": 2}


def test_check_of_the_fixed_controller_is_clean_with_deadlocks_checked(capsys):
    rc, res = check_json(capsys, SPEC, "Reconcile")
    assert rc == 0 and res["result"] == "ok" and res["complete"]
    assert res["deadlocks_checked"] and res["states"] == 69


def test_the_monitor_with_the_fixed_spec_stops_the_drafts_counterexample_at_the_status_write(
        capsys):
    _, res = check_json(capsys, SPEC, "ReconcileDraft")
    steps = trail(res["findings"][0])
    assert monitor_trail(RECONCILE, "shop/w", steps) == [
        ("unexpected", "write_status", "write_status")]
    assert monitor_trail(DRAFT, "shop/w", steps) == [
        ("invariant", "observed_was_applied", "write_status")]


# --------------------------------------------------------------------------- guards

LIVE = state(RECONCILE, phase="live", generation=3, cached=1, applied=1, observed=1)


def test_the_informer_cache_catches_up_to_any_generation_it_lagged_behind():
    assert RECONCILE.actions["informer_sync"].hidden
    synced = step(RECONCILE, LIVE, "informer_sync").successors
    assert sorted(RECONCILE.as_dict(s)["cached"] for s in synced) == [2, 3]
    current = state(RECONCILE, phase="live", generation=3, cached=3)
    assert step(RECONCILE, current, "informer_sync").successors == ()


def test_apply_must_use_the_generation_the_cache_holds():
    assert step(RECONCILE, LIVE, "apply", 1).successors  # a stale but legal read
    newer = step(RECONCILE, LIVE, "apply", 2)
    assert newer.successors == () and "its informer cache held 1" in newer.rejects[0]


def test_generations_move_up_by_one_per_spec_change_or_stay():
    assert step(RECONCILE, LIVE, "update", 3).successors  # a metadata-only update
    assert step(RECONCILE, LIVE, "update", 4).successors
    jump = step(RECONCILE, LIVE, "update", 5)
    assert jump.successors == () and "went from 3 to 5" in jump.rejects[0]


def test_the_fixed_status_write_names_the_applied_generation_the_draft_the_latest():
    assert step(RECONCILE, LIVE, "write_status", 1).successors
    assert step(RECONCILE, LIVE, "write_status", 3).successors == ()
    [bad] = step(DRAFT, LIVE, "write_status", 3).successors
    assert DRAFT.violated_invariants(bad) == ("observed_was_applied",)


def test_converges_opens_on_a_spec_change_and_delete_ends_the_lifecycle():
    assert RECONCILE.window_flags(LIVE) == (True,)
    [done] = step(RECONCILE, LIVE, "delete").successors
    assert RECONCILE.is_terminal(done) and RECONCILE.window_flags(done) == (False,)
    assert step(RECONCILE, done, "apply", 1).rejects == (
        "the controller wrote a child of a Widget that is deleted",)
