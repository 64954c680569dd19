"""specs/k8s_reconcile beyond what every spec dir promises (tests/specs/test_spec_dirs.py):
what the audit-log samples contain and how their reports read, the draft's stale-status
counterexample, and the guards of the reconcile loop."""

from __future__ import annotations

import pytest

from tests.specs.helpers import (
    check_json,
    model,
    replay_sample,
    reports,
    state,
    step,
    trail,
)

SPEC = "k8s_reconcile"
RECONCILE = model(SPEC, "Reconcile")
DRAFT = model(SPEC, "ReconcileDraft")


# --------------------------------------------------------------------------- samples

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
