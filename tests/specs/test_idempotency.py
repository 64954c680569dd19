"""specs/idempotency beyond what every spec dir promises (tests/specs/test_spec_dirs.py):
what the gateway and payment-service samples contain and how their reports read, the
draft's double charge (by a client retry or a proxy resend), and the guards of the
idempotency check and the responses."""

from __future__ import annotations

import json

import pytest

from tests.specs.helpers import (
    SPECS,
    check_json,
    model,
    monitor_trail,
    replay_sample,
    reports,
    state,
    step,
    trail,
)

SPEC = "idempotency"
IDEM = model(SPEC, "Idempotency")
DRAFT = model(SPEC, "IdempotencyDraft")


# --------------------------------------------------------------------------- samples

def test_the_clean_log_has_a_timed_out_request_the_service_still_charged():
    lines = [json.loads(x) for x in (SPECS / SPEC / "samples" / "clean.jsonl").read_text()
             .splitlines()]
    key = next(r["headers"]["idempotency-key"] for r in lines if r.get("status") == 504)
    seq = [(r["event"], r.get("status")) for r in lines
           if key in (r.get("idempotency_key"), r.get("headers", {}).get("idempotency-key"))]
    assert seq == [("request", None), ("response", 504), ("charge.succeeded", None),
                   ("request", None), ("response", 201)]
    result, found = replay_sample(SPEC, "clean")
    assert found == [] and result.outcomes["unmatched"] == 1  # the GET: no rule
    assert result.outcomes["duplicate"] == 1  # a charge record the log shipper sent twice


def test_a_second_charge_for_one_key_is_reported_on_the_payment_service_record():
    result, _ = replay_sample(SPEC, "double_charge")
    [r] = reports(result)
    assert r["message"] == (
        "charged() not allowed: no request is executing under this key (record stored, 1 "
        "charge(s) so far): a second charge for one Idempotency-Key")
    assert r["record"]["service"] == "payment-service"


def test_a_lock_known_from_a_409_that_is_never_released_misses_its_minute():
    result, _ = replay_sample(SPEC, "stuck_lock")
    [r] = reports(result)
    first_409 = next(h for h in r["history"] if h["args"] == {"status": 409})
    assert r["time"] == pytest.approx(first_409["time"] + 60)


# --------------------------------------------------------------------------- check

def test_check_finds_the_drafts_double_charge_in_six_steps(capsys):
    rc, res = check_json(capsys, SPEC, "IdempotencyDraft")
    assert rc == 1 and res["complete"] and len(res["findings"]) == 1
    [f] = res["findings"]
    assert (f["kind"], f["property"]) == ("invariant", "charged_at_most_once")
    assert trail(f) == [("request", (0,), False), ("request", (1,), False),
                        ("check", (), True), ("check", (), True),
                        ("charged", (), False), ("charged", (), False)]


def test_a_proxy_resend_alone_double_charges_in_the_draft_and_the_monitor_stops_it():
    """No client retry at all: the gateway re-sends the one request upstream (hidden)
    before its per-try timeout answers the client 504."""
    steps = [("request", (0,), False), ("responded", (504,), False), ("charged", (), False),
             ("charged", (), False)]
    assert monitor_trail(DRAFT, "ik_1", steps) == [
        ("invariant", "charged_at_most_once", "charged")]
    assert monitor_trail(IDEM, "ik_1", steps) == [("unexpected", "charged", "charged")]


# --------------------------------------------------------------------------- guards

IN_FLIGHT = state(IDEM, record="locked", last_retry=1, sent=2, queued=1, running=1,
                  waiting=2)


def test_a_retry_of_an_in_flight_request_is_not_executed_but_the_drafts_is():
    assert IDEM.actions["check"].hidden
    [fixed] = step(IDEM, IN_FLIGHT, "check").successors
    assert IDEM.as_dict(fixed)["running"] == 1 and IDEM.as_dict(fixed)["queued"] == 0
    [draft] = step(DRAFT, IN_FLIGHT, "check").successors
    assert DRAFT.as_dict(draft)["running"] == 2


def test_a_stored_outcome_is_replayed_without_executing():
    stored = state(IDEM, record="stored", outcome="charged", charges=1, last_retry=1, sent=2,
                   queued=1, waiting=1)
    [after] = step(IDEM, stored, "check").successors
    assert IDEM.as_dict(after)["running"] == 0
    assert step(IDEM, after, "responded", 201).successors
    assert step(IDEM, after, "responded", 402).successors == ()


def test_success_needs_a_stored_charge_and_409_a_lock():
    fresh = state(IDEM, last_retry=0, sent=1, queued=1, waiting=1)
    assert "no charge is stored" in step(IDEM, IN_FLIGHT, "responded", 201).rejects[0]
    assert step(IDEM, fresh, "responded", 409).rejects == (
        "409 Conflict, but no request had locked the key",)
    assert step(IDEM, fresh, "responded", 504).successors  # a timeout needs nothing
    idle = state(IDEM, record="stored", outcome="charged", charges=1, last_retry=0,
                 sent=1)
    assert "no open request" in step(IDEM, idle, "responded", 500).rejects[0]


def test_in_the_draft_a_proxy_resend_instead_of_a_client_retry_also_charges_twice():
    s = IDEM.initial
    for action, args in (("request", (0,)), ("resend", ()), ("check", ()), ("check", ()),
                         ("charged", ()), ("charged", ())):
        [s] = step(DRAFT, s, action, *args).successors
    assert DRAFT.violated_invariants(s) == ("charged_at_most_once",)


def test_the_gateway_resends_an_unanswered_request_at_most_once():
    assert IDEM.actions["resend"].hidden
    one = state(IDEM, last_retry=0, sent=1, queued=1, waiting=1)
    [resent] = step(IDEM, one, "resend").successors
    assert IDEM.as_dict(resent)["queued"] == 2
    assert step(IDEM, resent, "resend").successors == ()
    answered = state(IDEM, last_retry=0, sent=1, queued=1)
    assert step(IDEM, answered, "resend").successors == ()
    # retry numbers may skip (0, then 2): still one resend per forwarded request
    [two] = step(IDEM, resent, "request", 2).successors
    [again] = step(IDEM, two, "resend").successors
    assert step(IDEM, again, "resend").successors == ()


def test_retry_counts_only_go_up():
    assert step(IDEM, IN_FLIGHT, "request", 2).successors
    again = step(IDEM, IN_FLIGHT, "request", 1)
    assert again.successors == () and "is another client reusing the key?" in again.rejects[0]


def test_lock_released_opens_while_locked_and_closes_on_an_outcome():
    assert IDEM.window_flags(IN_FLIGHT) == (True,)
    [charged] = step(IDEM, IN_FLIGHT, "charged").successors
    [declined] = step(IDEM, IN_FLIGHT, "declined").successors
    assert IDEM.window_flags(charged) == IDEM.window_flags(declined) == (False,)
    assert IDEM.as_dict(charged)["charges"] == 1 and IDEM.as_dict(declined)["charges"] == 0
