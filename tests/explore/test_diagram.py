"""Diagrams of the reachable state graph, and transition coverage on them."""

from __future__ import annotations

import json

import pytest

from monitor import Spec, action, require
from monitor.errors import ConfigError
from monitor.explore import explore_graph
from monitor.explore.coverage import coverage_doc, engine_coverage, read_coverage
from monitor.explore.diagram import render
from monitor.spec import model_of


class Switch(Spec):
    on: bool = False
    level: int = 0

    @action
    def flip(self):
        require(not self.on, "already on")
        self.on = True

    @action(to=[1, 2, 3])
    def dim(self, to: int):
        require(self.on, "off")
        self.level = to

    @action
    def off(self):
        require(self.on, "already off")
        self.on, self.level = False, -1

    def terminal(self):
        return self.level == -1


def test_the_tiny_spec_draws_exactly_as_mermaid():
    text = render(explore_graph(model_of(Switch)), max_args=2).text
    assert text == """\
%% Switch: 6 states, 17 transitions
flowchart LR
  s0["s0 (initial)<br/>on=False<br/>level=0"]
  s1["s1<br/>on=True"]
  s2["s2<br/>on=True<br/>level=1"]
  s3["s3<br/>on=True<br/>level=2"]
  s4["s4<br/>on=True<br/>level=3"]
  s5(["s5<br/>level=-1"])
  s0 -->|"flip()"| s1
  s1 -->|"dim(1)"| s2
  s1 -->|"dim(2)"| s3
  s1 -->|"dim(3)"| s4
  s1 -->|"off()"| s5
  s2 -->|"dim(1)"| s2
  s2 -->|"dim(2)"| s3
  s2 -->|"dim(3)"| s4
  s2 -->|"off()"| s5
  s3 -->|"dim(1)"| s2
  s3 -->|"dim(2)"| s3
  s3 -->|"dim(3)"| s4
  s3 -->|"off()"| s5
  s4 -->|"dim(1)"| s2
  s4 -->|"dim(2)"| s3
  s4 -->|"dim(3)"| s4
  s4 -->|"off()"| s5
  classDef terminal stroke-width:3px
  classDef broken fill:#fdd,stroke:#c00
  class s5 terminal
"""


class Dial(Spec):
    n: int = 0

    @action(k=[1, 2, 3, 4, 5])
    def nudge(self, k: int):
        require(self.n == 0, "set once")
        self.n = 1


def test_parallel_edges_of_one_action_are_drawn_as_one_labelled_with_their_arguments():
    graph = explore_graph(model_of(Dial))
    assert 's0 -->|"nudge(1 | 2 | 3 | 4 | 5)"| s1' in render(graph, max_args=5).text
    d = render(graph, max_args=4)
    assert 's0 -->|"nudge(5 args)"| s1' in d.text
    assert (d.edges, d.drawn) == (5, 1)


def test_a_graph_cut_by_a_bound_says_so_in_both_formats():
    graph = explore_graph(model_of(Switch), max_states=2)
    assert 'note["graph cut by a bound: 2 states shown' in render(graph).text
    assert "s1\\non=True\\n(search cut here)" in render(graph, fmt="dot").text
    assert 'label="Switch: 2 states, 1 transitions (cut by a bound)"' in \
        render(graph, fmt="dot").text


def coverage_of(graph, taken: dict[tuple[int, str, tuple, int], int]) -> dict:
    counts = {(graph.states[s], a, args, graph.states[d]): n
              for (s, a, args, d), n in taken.items()}
    doc = json.loads(json.dumps(coverage_doc("switch", graph.model.fields, counts)))
    return read_coverage(doc, graph.model.fields)


def test_coverage_shows_counts_and_draws_transitions_never_taken_dashed_and_red():
    graph = explore_graph(model_of(Switch))
    cov = coverage_of(graph, {(0, "flip", (), 1): 7, (1, "dim", (2,), 3): 2})
    d = render(graph, fmt="dot", coverage=cov)
    assert 's0 -> s1 [label="flip() ×7"];' in d.text
    assert 's1 -> s3 [label="dim(2) ×2"];' in d.text
    assert 's1 -> s5 [label="off() ×0", color="#cc0000", fontcolor="#cc0000", style=dashed];' \
        in d.text
    assert (d.seen, len(d.unseen), d.outside) == (2, 15, 0)
    assert "1 -> off() -> 5" in d.unseen
    mermaid = render(graph, coverage=cov).text
    assert 's1 -.->|"off() ×0"| s5' in mermaid
    assert "  linkStyle 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16 stroke:#c00,stroke-dasharray:4" in mermaid


def test_a_collapsed_edge_says_how_many_of_its_arguments_were_seen():
    graph = explore_graph(model_of(Dial))
    cov = coverage_of(graph, {(0, "nudge", (1,), 1): 3, (0, "nudge", (4,), 1): 1})
    assert 's0 -->|"nudge(5 args) ×4 (2/5 seen)"| s1' in render(graph, coverage=cov).text


def test_observed_transitions_outside_the_graph_are_counted():
    graph = explore_graph(model_of(Switch))
    cov = coverage_of(graph, {(0, "flip", (), 1): 1})
    cov[((True, 9), "dim", (1,), (True, 1))] = 4
    assert render(graph, coverage=cov).outside == 1


def test_a_coverage_file_of_another_spec_or_shape_is_refused_with_its_path():
    with pytest.raises(ConfigError, match=r"c.json: \$.format: not a specmon coverage file"):
        read_coverage({"transitions": []}, ["on", "level"], where="c.json")
    with pytest.raises(ConfigError, match=r"c.json: \$.fields: \['x'\] are not this spec's "
                       r"fields \['on', 'level'\]"):
        read_coverage({"format": "specmon-coverage/1", "fields": ["x"], "transitions": []},
                      ["on", "level"], where="c.json")
    with pytest.raises(ConfigError, match=r"c.json: \$.transitions\[0\]: expected from"):
        read_coverage({"format": "specmon-coverage/1", "fields": ["on", "level"],
                       "transitions": [{"from": [True, 0]}]}, ["on", "level"], where="c.json")


def test_counts_from_several_files_add_up():
    doc = coverage_doc("s", ["n"], {((0,), "nudge", (1,), (1,)): 2})
    cov = read_coverage(doc, ["n"])
    read_coverage(doc, ["n"], into=cov)
    assert cov == {((0,), "nudge", (1,), (1,)): 4}


def test_a_running_engine_gives_its_coverage_document():
    from monitor.engine import Engine
    from tests.engine.helpers import ev

    engine = Engine(Switch)
    engine.feed_many([ev("a", 1, "flip"), ev("a", 2, "dim", 2), ev("b", 3, "flip")])
    engine.flush()
    doc = json.loads(json.dumps(engine_coverage(engine)))
    assert doc == {"format": "specmon-coverage/1", "spec": "Switch", "fields": ["on", "level"],
                   "uncounted": {"ambiguous": 0, "overflow": 0}, "transitions": [
                       {"from": [False, 0], "action": "flip", "args": [], "to": [True, 0],
                        "count": 2},
                       {"from": [True, 0], "action": "dim", "args": [2], "to": [True, 2],
                        "count": 1}]}
