"""specs/lease beyond what every spec dir promises (tests/specs/test_spec_dirs.py): what
the samples contain and how their reports read, the draft's two counterexamples, and the
guards and invariants of the global lease."""

from __future__ import annotations

from tests.specs.helpers import (
    check_json,
    fields,
    model,
    read_truth,
    replay_sample,
    reports,
    sample_names,
    state,
    step,
    trail,
)

SPEC = "lease"
KEY = "scheduler-leader"
LEASE = model(SPEC, "Lease")
DRAFT = model(SPEC, "LeaseDraft")


# --------------------------------------------------------------------------- samples

def test_every_report_is_on_the_one_global_key():
    for sample in sample_names(SPEC):
        assert {k for k, _, _ in read_truth(SPEC, sample)} <= {KEY}
        assert {r["key"] for r in reports(replay_sample(SPEC, sample)[0])} <= {KEY}


def test_the_clean_log_has_a_fenced_out_old_leader_and_a_takeover_after_expiry():
    result, found = replay_sample(SPEC, "clean")
    assert found == [] and result.engine["applied"] == result.outcomes["mapped"]
    assert result.outcomes["unmatched"] == 1  # the lease.renew_failed record: no rule


def test_a_second_grant_of_one_term_names_both_holders():
    result, _ = replay_sample(SPEC, "two_leaders")
    [r] = reports(result)
    assert r["message"].endswith(
        "scheduler-2 acquired term 2, but term 2 was already granted (to scheduler-1): every "
        "acquisition must start a higher term")
    assert r["origin"]["line"] == 19


def test_storage_accepting_a_lower_token_is_reported_with_both_tokens():
    result, _ = replay_sample(SPEC, "unfenced_write")
    [r] = reports(result)
    assert "storage accepted token 1 from scheduler-0 after accepting token 2" in r["message"]
    assert result.engine["quarantined"] == 7  # the one instance stops alarming after one report


# --------------------------------------------------------------------------- check

def test_check_finds_two_leaders_in_one_term_in_the_draft_in_three_steps(capsys):
    rc, res = check_json(capsys, SPEC, "LeaseDraft")
    assert rc == 1 and res["complete"] and res["result"] == "violations"
    first = res["findings"][0]
    assert (first["kind"], first["property"]) == ("invariant", "one_leader_per_term")
    assert trail(first) == [("acquire", ("node-a", 1), False), ("expire", (), True),
                            ("acquire", ("node-b", 1), False)]
    assert first["steps"][-1]["state"]["term_leaders"] == ["node-a", "node-b"]


def test_check_finds_the_drafts_unfenced_storage_too(capsys):
    _, res = check_json(capsys, SPEC, "LeaseDraft")
    fence = {f["property"]: f for f in res["findings"]}["fencing_tokens_never_go_back"]
    assert trail(fence)[-2:] == [("write_accepted", ("node-b", 2), False),
                                 ("write_accepted", ("node-a", 1), False)]
    assert len(fence["steps"]) == 5


# --------------------------------------------------------------------------- guards

HELD = state(LEASE, status="held", holder="node-a", term=4, term_leaders=("node-a",),
             tokens=(("node-a", 4),))


def test_acquire_needs_a_free_or_expired_lease_and_a_higher_term():
    held = step(LEASE, HELD, "acquire", "node-b", 5)
    assert held.successors == () and held.rejects[0] == "the lease is held by node-a in term 4"
    expired = HELD[:0] + ("expired",) + HELD[1:]
    same = step(LEASE, expired, "acquire", "node-b", 4)
    assert same.successors == () and "every acquisition must start a higher term" in same.rejects[0]
    [nxt] = step(LEASE, expired, "acquire", "node-b", 7).successors
    assert fields(LEASE, nxt) == fields(LEASE, expired) | {
        "status": "held", "holder": "node-b", "term": 7, "term_leaders": ("node-b",),
        "tokens": (("node-a", 4), ("node-b", 7))}


def test_the_draft_hands_an_expired_lease_over_in_the_same_term():
    expired = ("expired",) + HELD[1:]
    [nxt] = step(DRAFT, expired, "acquire", "node-b", 4).successors
    assert DRAFT.violated_invariants(nxt) == ("one_leader_per_term",)


def test_only_the_holder_renews_and_releases_its_own_term():
    assert step(LEASE, HELD, "renew", "node-a", 4).successors == (HELD,)
    for who, term in (("node-b", 4), ("node-a", 3)):
        for act in ("renew", "release"):
            assert step(LEASE, HELD, act, who, term).successors == ()


def test_storage_accepts_only_granted_tokens_not_below_the_fence():
    s = state(LEASE, status="held", holder="node-b", term=2,
              tokens=(("node-a", 1), ("node-b", 2)), fence=2, last_write=2)
    low = step(LEASE, s, "write_accepted", "node-a", 1)
    assert low.successors == () and "must reject tokens below the highest" in low.rejects[0]
    forged = step(LEASE, s, "write_accepted", "node-a", 2)
    assert "never granted it" in forged.rejects[0]
    assert step(LEASE, s, "write_rejected", "node-a", 1).successors == (s,)
    fenced_out = step(LEASE, s, "write_rejected", "node-b", 2)
    assert "a current leader was fenced out" in fenced_out.rejects[0]
    [draft] = step(DRAFT, s, "write_accepted", "node-a", 1).successors
    assert DRAFT.violated_invariants(draft) == ("fencing_tokens_never_go_back",)


def test_expiry_is_hidden_and_opens_no_failover_window_release_does():
    assert LEASE.actions["expire"].hidden
    [expired] = step(LEASE, HELD, "expire").successors
    assert LEASE.window_flags(expired) == (False,)
    [free] = step(LEASE, HELD, "release", "node-a", 4).successors
    assert LEASE.window_flags(free) == (True,)
