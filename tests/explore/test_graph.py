"""The reachable state graph: BFS over every action and argument tuple."""

from __future__ import annotations

from monitor import Spec, action, choose, invariant, require
from monitor.explore import Edge, Rejection, explore_graph
from monitor.explore.graph import BROKEN, CUT, TERMINAL
from monitor.spec import model_of
from tests.engine.specs_for_tests import Job


class Counter(Spec):
    n: int = 0
    done: bool = False

    @action(k=[1, 2])
    def add(self, k: int):
        require(not self.done, "finished")
        require(self.n + k <= 3, "too big")
        self.n += k

    @action
    def stop(self):
        require(not self.done, "already stopped")
        self.done = True

    def terminal(self):
        return self.done


def test_the_graph_holds_every_reachable_state_once_with_the_initial_state_first():
    g = explore_graph(model_of(Counter))
    assert g.states[0] == (0, False)
    assert set(g.states) == {(n, d) for n in range(4) for d in (False, True)}
    assert len(g.index) == len(g.states) == 8
    assert all(g.index[s] == i for i, s in enumerate(g.states))
    assert g.complete and g.errors == []


def test_edges_and_rejections_name_the_action_and_args():
    g = explore_graph(model_of(Counter))
    assert Edge(0, "add", (2,), g.index[(2, False)], False) in list(g.edges)
    assert Rejection(g.index[(3, False)], "add", (1,), ("too big",)) in list(g.rejections)
    assert g.edges[0] == list(g.edges)[0]


def test_terminal_states_are_not_expanded():
    g = explore_graph(model_of(Counter))
    done = [i for i, s in enumerate(g.states) if s[1]]
    assert all(g.flags[i] & TERMINAL for i in done)
    assert not any(e.src in done for e in g.edges)


def test_path_to_is_a_shortest_path_from_the_initial_state():
    g = explore_graph(model_of(Counter))
    target = g.index[(3, True)]
    path = g.path_to(target)
    assert [(e.action, e.args) for e in path] == [("add", (1,)), ("add", (2,)), ("stop", ())]
    assert path[0].src == 0 and path[-1].dst == target
    assert all(a.dst == b.src for a, b in zip(path, path[1:]))
    assert g.depth[target] == 3 and g.parent[0] is None


def test_choose_forks_and_hidden_actions_are_explored():
    g = explore_graph(model_of(Job))
    phases = {s[0] for s in g.states}
    assert phases == {"idle", "queued", "running", "done", "failed"}
    assert any(e.hidden and e.action == "start" for e in g.edges)
    running = [i for i, s in enumerate(g.states) if s == ("running", 0)][0]
    assert {g.states[e.dst][0] for e in g.edges if e.src == running} == {"done", "failed"}


def test_states_breaking_an_invariant_are_kept_but_not_expanded():
    g = explore_graph(model_of(Job))
    bad = [i for i, s in enumerate(g.states) if s[1] > 2]
    assert bad and all(g.flags[i] & BROKEN for i in bad)
    assert g.broken[bad[0]] == ("at_most_two_retries",)
    assert not any(e.src in bad for e in g.edges)


def test_bounds_cut_the_search_and_say_so():
    g = explore_graph(model_of(Counter), max_states=3)
    assert len(g.states) == 3 and not g.complete
    g = explore_graph(model_of(Counter), max_depth=1)
    assert max(g.depth) == 1 and not g.complete
    assert explore_graph(model_of(Counter), max_depth=4).complete


class Forks(Spec):
    x: int = 0

    @action
    def go(self):
        self.x = choose([1, 2]) if self.x == 0 else self.x

    @invariant
    def small(self):
        return self.x < 3


def test_a_self_loop_is_an_edge_to_the_same_state():
    g = explore_graph(model_of(Forks))
    assert sorted(g.states) == [(0,), (1,), (2,)]
    assert Edge(g.index[(1,)], "go", (), g.index[(1,)], False) in list(g.edges)


def test_the_edge_rejection_and_parent_views_index_and_slice_like_lists():
    g = explore_graph(model_of(Counter))
    edges, rejections = list(g.edges), list(g.rejections)
    assert g.edges[-1] == edges[-1] and g.edges[1:3] == edges[1:3]
    assert g.rejections[-1] == rejections[-1] and g.rejections[:2] == rejections[:2]
    assert g.parent[:2] == [None, 0] and len(g.parent) == len(g.states)


def test_rejections_can_be_left_out():
    g = explore_graph(model_of(Counter), rejections=False)
    assert len(g.rejections) == 0 and len(g.edges) == len(explore_graph(model_of(Counter)).edges)


def test_past_a_bound_every_kept_state_still_has_its_edges_to_kept_states():
    full = explore_graph(model_of(Counter))
    for cut in (explore_graph(model_of(Counter), max_states=4),
                explore_graph(model_of(Counter), max_depth=1)):
        kept = set(cut.states)
        want = {(full.states[e.src], e.action, e.args, full.states[e.dst]) for e in full.edges
                if full.states[e.src] in kept and full.states[e.dst] in kept}
        got = {(cut.states[e.src], e.action, e.args, cut.states[e.dst]) for e in cut.edges}
        assert got == want
        dropped = {full.states[e.src] for e in full.edges if full.states[e.dst] not in kept}
        assert {s for i, s in enumerate(cut.states) if cut.flags[i] & CUT} == dropped & kept
