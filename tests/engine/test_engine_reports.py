"""What the engine hands out and keeps: report contents and the history ring, counters,
snapshots, and the checks on its configuration."""

from __future__ import annotations

import msgspec
import pytest

from monitor import ConfigError, SnapshotError, Spec, action
from monitor.engine import (
    COUNTER_NAMES,
    Engine,
    EngineConfig,
    HistoryEntry,
    SpecErrorReport,
    Violation,
)
from tests.engine.helpers import DAY, ev, kinds, split_by_snapshot, verdicts
from tests.engine.specs_for_tests import Job, Ticket

# -- reports -----------------------------------------------------------------------------


def test_a_violation_carries_the_offending_record_and_where_it_came_from(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0), name="payments-eu")
    engine.feed(ev("p", 0, "authorize", 100))
    (v,) = engine.feed(ev("p", 1, "capture", 500, id="e-2", record={"raw": 1},
                          origin=("log.jsonl", 2), trace_id="ab" * 16, span_id="cd" * 8))
    assert v == Violation(
        spec="payments-eu", key="p", kind="unexpected", property="capture",
        message="capture(500) not allowed: capture exceeds authorization", time=1.0,
        action="capture", args={"amount": 500}, record={"raw": 1}, origin=("log.jsonl", 2),
        trace_id="ab" * 16, span_id="cd" * 8,
        history=[HistoryEntry(time=0.0, action="authorize", args={"amount": 100},
                              states=[{"status": "authorized", "authorized": 100,
                                       "captured": 0, "refunded": 0}])],
        states_before=[{"status": "authorized", "authorized": 100, "captured": 0,
                        "refunded": 0}],
    )


def test_reports_encode_as_tagged_json_objects(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    (v,) = engine.feed(ev("p", 0, "void"))
    decoded = msgspec.json.decode(msgspec.json.encode(v))
    assert decoded["type"] == "violation" and decoded["kind"] == "unexpected"
    back = msgspec.json.decode(msgspec.json.encode(v), type=Violation | SpecErrorReport)
    assert back == v


def test_the_history_ring_keeps_the_last_steps_with_the_states_after_each(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, history=3))
    trace = [ev("p", 0, "authorize", 250)] + [ev("p", i, "capture", 50) for i in range(1, 6)]
    (v,) = engine.feed_many([*trace, ev("p", 9, "capture", 50)])
    assert [(h.action, h.time, h.args) for h in v.history] == [
        ("capture", 3.0, {"amount": 50}), ("capture", 4.0, {"amount": 50}),
        ("capture", 5.0, {"amount": 50})]
    assert [[s["captured"] for s in h.states] for h in v.history] == [[150], [200], [250]]
    assert v.states_before == [{"status": "authorized", "authorized": 250, "captured": 250,
                                "refunded": 0}]


def test_history_states_show_every_candidate_after_choose_and_hidden_steps():
    engine = Engine(Job, EngineConfig(allowed_lateness=0))
    (v,) = engine.feed_many([ev("j", 0, "submit"), ev("j", 1, "finish"), ev("j", 2, "submit")])
    assert [(h.action, h.states) for h in v.history] == [
        ("submit", [{"phase": "queued", "tries": 0}]),
        ("finish", [{"phase": "done", "tries": 0}, {"phase": "failed", "tries": 0}]),
    ]


def test_a_deadline_report_carries_the_history_of_its_instance(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0))
    out = engine.feed_many([ev("p", 0, "authorize", 100), ev("z", 8 * DAY, "void")])
    (v,) = [r for r in out if r.key == "p"]
    assert [h.action for h in v.history] == ["authorize"]


def test_violations_are_counted_by_kind_and_property_with_every_property_listed(Payment):
    engine = Engine(Payment, EngineConfig(allowed_lateness=0, late_join="strict"))
    engine.feed_many([ev("a", 0, "void"), ev("b", 0, "void"), ev("c", 0, "authorize", 100),
                      ev("c", 1, "capture", 50), ev("c", 2, "refund", 100)])
    assert engine.counters.by_violation == {
        ("unexpected", "authorize"): 0, ("unexpected", "capture"): 0,
        ("unexpected", "void"): 2, ("unexpected", "refund"): 0,
        ("invariant", "refunds_within_captures"): 1, ("deadline", "settles"): 0,
    }
    assert engine.counters.violations == 3 and engine.counters.events == 5
    assert set(engine.counters.as_dict()) == {*COUNTER_NAMES, "by_violation"}


# -- snapshots ---------------------------------------------------------------------------


def test_snapshot_keeps_buffered_events_timers_ids_and_positions(Payment):
    cfg = EngineConfig(allowed_lateness=30)
    engine = Engine(Payment, cfg)
    engine.feed_many([ev("p", 0, "authorize", 100, id="a"), ev("p", 10, "capture", 50, id="b"),
                      ev("q", 35, "authorize", 250, id="c")])
    engine.set_position("log.jsonl", 3)
    restored = Engine(Payment, cfg)
    restored.restore(engine.snapshot())
    assert len(restored.buffer) == 2 and restored.positions == {"log.jsonl": 3}
    assert restored.watermark == 5.0 and restored.counters.as_dict() == engine.counters.as_dict()
    assert restored.feed(ev("p", 11, "capture", 50, id="b")) == []
    assert restored.counters.duplicate == 1
    assert verdicts(restored.advance(7 * DAY + 100)) == [("q", "deadline", "settles",
                                                          7 * DAY + 35)]
    assert restored.counters.applied == 3


def test_snapshot_keeps_quarantined_ignored_and_finished_instances(Payment):
    cfg = EngineConfig(allowed_lateness=0, late_join="ignore")
    engine = Engine(Payment, cfg)
    engine.feed_many([ev("q", 0, "authorize", 100), ev("q", 1, "authorize", 100),
                      ev("i", 2, "refund", 50), ev("f", 3, "authorize", 100), ev("f", 4, "void")])
    restored = Engine(Payment, cfg)
    restored.restore(engine.snapshot())
    out = restored.feed_many([ev("q", 5, "void"), ev("i", 6, "void"), ev("f", 7, "void")])
    assert kinds(out) == [("f", "unexpected", "void")]
    assert (restored.counters.quarantined, restored.counters.ignored,
            restored.counters.resumed) == (1, 1, 1)


def test_a_restored_engine_compacts_stale_timers_exactly_as_the_original(Payment):
    cfg = EngineConfig(allowed_lateness=0)
    events = []
    for i in range(9000):  # two in three windows close: stale timers pile up
        events.append(ev(f"p{i}", 2 * i, "authorize", 100))
        if i % 3:
            events.append(ev(f"p{i}", 2 * i + 1, "capture", 50))
    whole, second = split_by_snapshot(Payment, cfg, events, 9000)
    assert whole.counters.deadline_timers_compacted > 0
    assert second.counters.as_dict() == whole.counters.as_dict()
    assert second.snapshot() == whole.snapshot()


def test_a_snapshot_of_another_spec_is_refused_with_an_operator_action(Payment):
    snap = Engine(Job).snapshot()
    with pytest.raises(SnapshotError,
                       match=r"^checkpoint holds spec Job with fields \['phase', 'tries'\] "
                             r"\(format v1\); this engine runs Payment with fields "
                             r"\['status', 'authorized', 'captured', 'refunded'\] \(v1\)\. "
                             r"Operator action: deploy the matching spec, or remove the "
                             r"checkpoint to start from empty state\.$"):
        Engine(Payment).restore(snap)


def test_a_corrupt_snapshot_is_refused_with_an_operator_action(Payment):
    with pytest.raises(SnapshotError, match=r"^checkpoint is corrupt or from another version: "
                                            r".*Operator action: remove the checkpoint"):
        Engine(Payment).restore(b"\x00garbage")


def test_restore_needs_a_fresh_engine(Payment):
    snap = Engine(Payment).snapshot()
    used = Engine(Payment)
    used.feed(ev("p", 0, "authorize", 100))
    with pytest.raises(SnapshotError, match=r"^restore\(\) needs a fresh engine$"):
        used.restore(snap)


class Bag(Spec):
    items: frozenset[str] = frozenset()
    path: tuple = ()
    pairs: frozenset = frozenset()
    typed: tuple[tuple[str, int], ...] = ()

    @action(item=["a", "b"])
    def add(self, item: str):
        self.items = self.items | {item}
        self.path = (*self.path, (item, len(self.path)))
        self.pairs = self.pairs | {(item, (1, 2))}
        self.typed = (*self.typed, (item, 1))


def test_states_with_nested_tuples_and_frozensets_survive_a_snapshot():
    engine = Engine(Bag, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("k", 0, "add", "a"), ev("k", 1, "add", "b")])
    restored = Engine(Bag, EngineConfig(allowed_lateness=0))
    restored.restore(engine.snapshot())
    assert restored.instances["k"].node.states == engine.instances["k"].node.states == (
        (frozenset({"a", "b"}), (("a", 0), ("b", 1)), frozenset({("a", (1, 2)), ("b", (1, 2))}),
         (("a", 1), ("b", 1))),)
    assert restored.feed(ev("k", 2, "add", "a")) == []


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("kw,message", [
    ({"allowed_lateness": -1}, r"engine\.allowed_lateness must be >= 0, got -1"),
    ({"dedup_window": -5.0}, r"engine\.dedup_window must be >= 0, got -5\.0"),
    ({"max_states": 0}, r"engine\.max_states must be >= 1, got 0"),
    ({"max_buffered": 0}, r"engine\.max_buffered must be >= 1, got 0"),
    ({"history": 256}, r"engine\.history must be <= 255, got 256"),
    ({"hidden_steps": -1}, r"engine\.hidden_steps must be >= 0, got -1"),
    ({"instance_ttl": 0}, r"engine\.instance_ttl must be > 0, got 0"),
    ({"after_violation": "restrat"},
     r"engine\.after_violation must be one of quarantine, restart; got 'restrat'"),
    ({"late_join": "maybe"},
     r"engine\.late_join must be one of strict, adopt, ignore; got 'maybe'"),
    ({"late_events": "keep"}, r"engine\.late_events must be one of drop, apply; got 'keep'"),
])
def test_a_bad_engine_setting_is_refused_naming_it(kw, message):
    with pytest.raises(ConfigError, match=rf"^{message}$"):
        EngineConfig(**kw)


def test_a_misspelt_engine_setting_in_a_config_file_fails_with_its_path():
    with pytest.raises(msgspec.ValidationError, match=r"^Object contains unknown field "
                                                      r"`allowed_latenes`$"):
        msgspec.convert({"allowed_latenes": 5}, EngineConfig)


def test_two_withins_are_counted_separately():
    engine = Engine(Ticket, EngineConfig(allowed_lateness=0))
    engine.feed_many([ev("a", 0, "open"), ev("b", 0, "open"), ev("b", 1, "ack"),
                      ev("z", 1000, "open")])
    assert engine.counters.by_violation[("deadline", "acknowledged")] == 1
    assert engine.counters.by_violation[("deadline", "resolved_in_time")] == 1
