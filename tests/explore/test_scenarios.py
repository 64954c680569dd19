"""Generated scenarios: every transition covered, each guard broken once, and the real
pipeline agrees with every expected verdict when it replays their telemetry."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor import Spec, action, check_trace, choose, invariant, require
from monitor.engine import EngineConfig
from monitor.engine.transitions import fmt_args
from monitor.explore import explore_graph
from monitor.explore.scenarios import Scenario, expected_verdicts, generate_scenarios
from monitor.explore.span_telemetry import span_records
from monitor.explore.telemetry import TelemetryError, event_records
from monitor.mapping import load_mapping
from monitor.replay import replay
from monitor.sources.otlp_json import decode_otlp_view
from monitor.spec import model_of
from monitor.specdir import load_specdir
from tests.engine.specs_for_tests import Job, Ticket

ROOT = Path(__file__).resolve().parents[2]


class Door(Spec):
    """Tiny: open/close, a lock that needs a closed door, a choose, an invariant."""

    opened: bool = False
    locked: bool = False
    kicks: int = 0

    @action
    def open(self):
        require(not self.opened, "already open")
        require(not self.locked, "locked")
        self.opened = True

    @action
    def close(self):
        require(self.opened, "already closed")
        self.opened = False

    @action
    def lock(self):
        require(not self.opened, "cannot lock an open door")
        self.locked = True

    @action(force=[1, 2])
    def kick(self, force: int):
        require(self.locked, "kicking an unlocked door")
        self.kicks += force
        self.locked = choose([True, False])

    @invariant
    def sturdy(self):
        return self.kicks < 2


def edges_taken(graph, scenarios: list[Scenario]) -> set[tuple[int, str, tuple, int]]:
    model = graph.model
    taken = set()
    for s in scenarios:
        src = 0
        for step in s.steps:
            if step.expect in ("unexpected", "after"):
                break
            dst = graph.index[tuple(step.state[f] for f in model.fields)]
            args = tuple(step.args[p] for p in model.actions[step.action].params)
            taken.add((src, step.action, args, dst))
            src = dst
    return taken


def all_edges(graph) -> set[tuple[int, str, tuple, int]]:
    return {(e.src, e.action, e.args, e.dst) for e in graph.edges}


def test_the_tiny_spec_gets_exactly_these_scenarios():
    gen = generate_scenarios(explore_graph(model_of(Door)))
    shown = [(s.kind, s.target, [(st.action, tuple(st.args.values()), st.expect)
                                 for st in s.steps]) for s in gen.scenarios]
    assert shown == [
        ("positive", None, [("open", (), "ok"), ("close", (), "ok"), ("lock", (), "ok"),
                            ("lock", (), "ok"), ("kick", (1,), "ok"), ("lock", (), "ok"),
                            ("kick", (1,), "invariant")]),
        ("positive", None, [("lock", (), "ok"), ("kick", (1,), "ok"), ("open", (), "ok"),
                            ("close", (), "ok"), ("lock", (), "ok"),
                            ("kick", (1,), "invariant")]),
        ("positive", None, [("lock", (), "ok"), ("kick", (2,), "invariant")]),
        ("positive", None, [("lock", (), "ok"), ("kick", (2,), "invariant")]),
        ("positive", None, [("lock", (), "ok"), ("kick", (1,), "ok"), ("kick", (2,), "invariant")]),
        ("positive", None, [("lock", (), "ok"), ("kick", (1,), "ok"), ("kick", (2,), "invariant")]),
        ("negative", "already closed", [("close", (), "unexpected")]),
        ("negative", "kicking an unlocked door", [("kick", (1,), "unexpected")]),
        ("negative", "already open", [("open", (), "ok"), ("open", (), "unexpected")]),
        ("negative", "cannot lock an open door", [("open", (), "ok"), ("lock", (), "unexpected")]),
        ("negative", "locked", [("lock", (), "ok"), ("open", (), "unexpected")]),
        ("negative", "sturdy", [("lock", (), "ok"), ("kick", (2,), "invariant")]),
    ]
    assert (gen.edges, gen.covered, gen.unreachable) == (len(all_edges(explore_graph(
        model_of(Door)))), gen.edges, [])


def test_the_positive_scenarios_take_every_transition_of_the_tiny_spec():
    graph = explore_graph(model_of(Door))
    gen = generate_scenarios(graph)
    assert edges_taken(graph, [s for s in gen.scenarios if s.kind == "positive"]) == \
        all_edges(graph)


def test_a_step_allowed_from_another_candidate_state_is_expected_ok():
    # after kick(1) the door is locked or not (choose): open is allowed from one of them
    path = [("lock", (), False), ("kick", (1,), False), ("open", (), False)]
    assert [v[0] for v in expected_verdicts(model_of(Door), path)] == ["ok", "ok", "ok"]
    path = [("close", (), False), ("open", (), False)]
    assert expected_verdicts(model_of(Door), path) == [
        ("unexpected", "close", ("already closed",)), ("after", None, ())]


def small_spec(limit: int, ks: list[int], mod: int, hidden: bool) -> type:
    class Small(Spec):
        n: int = 0
        flag: bool = False

        @action(k=ks)
        def add(self, k: int):
            require(self.n + k <= limit, "too big")
            self.n += k

        @action
        def flip(self):
            require(self.n % mod == 0, "not aligned")
            self.flag = choose([True, False])

        @action(hidden=hidden)
        def drain(self):
            require(self.n > 0, "empty")
            self.n -= 1

        @invariant
        def small(self):
            return self.n != limit or not self.flag

    return Small


@settings(max_examples=30, deadline=None)
@given(limit=st.integers(1, 6), ks=st.lists(st.integers(1, 3), min_size=1, max_size=3,
                                            unique=True),
       mod=st.integers(1, 3), hidden=st.booleans(), max_steps=st.integers(1, 10))
# three hidden drains in a row then an observed add: the monitor infers at most two
@example(limit=3, ks=[3], mod=1, hidden=True, max_steps=10)
def test_every_reachable_transition_is_covered_by_some_positive_scenario(
        limit, ks, mod, hidden, max_steps):
    graph = explore_graph(model_of(small_spec(limit, ks, mod, hidden)))
    gen = generate_scenarios(graph, max_steps=max_steps, hidden_steps=0 if not hidden else 2)
    assert gen.covered == gen.edges == len(graph.edges)
    positive = [s for s in gen.scenarios if s.kind == "positive"]
    assert edges_taken(graph, positive) == all_edges(graph)  # hidden edges are steps too
    assert all(st.expect in ("ok", "hidden", "invariant") for s in positive for st in s.steps)


def verdict_of(report: dict) -> tuple:
    return (report["kind"], report["property"], report["message"])


def expected_of(step) -> tuple:
    if step.expect == "unexpected":
        args = tuple(step.args.values())
        return ("unexpected", step.property,
                f"{step.action}{fmt_args(args)} not allowed: {'; '.join(step.messages)}")
    return (step.expect, step.property)


def telemetry(sd, scenario, kind):
    if kind == "json":
        return event_records(scenario, sd.mapping.events, sd.model)
    return span_records(scenario, sd.mapping.spans, sd.model, decode_otlp_view)


@pytest.mark.parametrize("specdir,kind,invariants", [
    ("specs/payment", "json", {"refunds_within_captures"}),
    ("specs/payment", "otlp", {"refunds_within_captures"}),
    ("tests/specdirs/shipping", "otlp", set()),  # scans are unbounded: a cut graph
])
def test_replaying_the_telemetry_of_every_scenario_gives_every_expected_verdict(
        tmp_path, specdir, kind, invariants):
    sd = load_specdir(ROOT / specdir)
    gen = generate_scenarios(explore_graph(sd.model, max_states=60))
    log = tmp_path / "all.jsonl"
    with log.open("wb") as f:
        for s in gen.scenarios:
            for record in telemetry(sd, s, kind):
                f.write(msgspec.json.encode(record) + b"\n")
    config = EngineConfig(late_join="strict", allowed_lateness=0)
    result = replay(sd, [str(log)], config,
                    input_format="events" if kind == "json" else "otlp-json")
    reports: dict[str, list[dict]] = {}
    for line in result.reports:
        r = msgspec.json.decode(line)
        reports.setdefault(r["key"], []).append(r)
    checked = 0
    for s in gen.scenarios:
        got = {r["time"]: r for r in reports.pop(s.key, [])}
        for step in s.steps:
            t = 1767225600.0 + step.time
            if step.expect == "ok":
                assert t not in got, (s.id, step)
            elif step.expect == "invariant":
                assert verdict_of(got.pop(t))[:2] == expected_of(step), (s.id, step)
            else:
                assert verdict_of(got.pop(t)) == expected_of(step), (s.id, step)
            checked += 1
        assert got == {}, s.id
    assert reports == {}
    assert checked == sum(len(s.steps) for s in gen.scenarios) > 100
    assert result.outcomes["unmatched"] == result.outcomes["invalid"] == 0
    assert {s.target for s in gen.scenarios if s.kind == "negative"} == set(gen.guards) | \
        invariants


def test_a_mapping_without_a_rule_for_an_action_cannot_give_telemetry_for_it():
    model = model_of(Door)
    mapping = load_mapping("events:\n  rules:\n    - {when: {type: opened}, action: open}\n",
                           filename="m.yaml", model=model)
    gen = generate_scenarios(explore_graph(model))
    with pytest.raises(TelemetryError, match=r"scenario positive-1 step 2 \(close\(\)\): "
                       r"no rule maps to action 'close'"):
        event_records(gen.scenarios[0], mapping.events, model)


def test_a_constant_argument_and_a_composite_key_are_inverted_too():
    model = model_of(Door)
    text = """
events:
  key: [tenant, {const: eu}, door.id]
  rules:
    - {when: {type: kicked, strength: [hard, soft]}, action: kick, args: {force: {const: 2}}}
    - {when: {type: kicked}, action: kick, args: {force: data.force}}
    - {when: {type: locked}, action: lock}
"""
    mapping = load_mapping(text, filename="m.yaml", model=model)
    gen = generate_scenarios(explore_graph(model))
    records = event_records(gen.scenarios[2], mapping.events, model)
    assert records == [
        {"type": "locked", "tenant": "positive-3-0", "door": {"id": "positive-3-2"},
         "time": "2026-01-01T02:00:01Z", "id": "positive-3-1"},
        {"type": "kicked", "strength": "hard", "tenant": "positive-3-0",
         "door": {"id": "positive-3-2"}, "time": "2026-01-01T02:00:02Z", "id": "positive-3-2"},
    ]
    ev = mapping.events.map_obj(records[1], None)
    assert (ev.key, ev.action, ev.args) == ("positive-3-0/eu/positive-3-2", "kick", (2,))


@pytest.mark.parametrize("spec", [Job, Ticket, Door], ids=lambda s: s.__name__)
def test_the_engine_agrees_with_every_expected_verdict_also_with_hidden_steps_and_choose(spec):
    gen = generate_scenarios(explore_graph(model_of(spec)))
    assert gen.covered == gen.edges
    # after finish() the monitor holds both outcomes of its choose, so some candidate
    # always agrees with a report: this guard cannot be shown through the monitor
    assert gen.unreachable == (["report disagrees with the outcome"] if spec is Job else [])
    for s in gen.scenarios:
        observed = [step for step in s.steps if not step.hidden]
        verdicts = check_trace(spec, [(x.action, x.args, x.time) for x in observed])
        for step, v in zip(observed, verdicts):
            assert (v.verdict, v.property) == (step.expect, step.property), (s.id, step)
            if step.expect == "unexpected":
                assert v.message == expected_of(step)[2]


def test_a_long_chain_stops_at_the_step_budget_and_says_so():
    sd = load_specdir(ROOT / "tests/specdirs/shipping")  # scans grow without bound
    graph = explore_graph(sd.model, max_states=300)
    gen = generate_scenarios(graph, max_total_steps=500)
    positive = [s for s in gen.scenarios if s.kind == "positive"]
    assert gen.budget_hit and gen.covered < gen.edges
    assert 500 <= sum(len(s.steps) for s in positive) < 500 + 300
    taken = edges_taken(graph, positive)
    assert taken <= all_edges(graph) and len(taken) == gen.covered
    full = generate_scenarios(graph, max_total_steps=10**7)
    assert not full.budget_hit and full.covered == full.edges
