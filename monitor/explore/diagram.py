"""The reachable state graph as text: Mermaid (``flowchart``) or Graphviz DOT.

- **Nodes** are states. The initial state shows every field; the others show the
  fields that differ from it (``labels="all"``: every field). Terminal states are drawn
  as stadiums (DOT: double border), states that break an invariant in red with the
  invariant's name, states where a bound cut the search with a note.
- **Edges** are transitions ``action(args)``. Parallel edges of one action with
  different arguments are drawn as one, ``capture(50 | 100)``; past ``max_args``
  arguments the label says how many (``capture(12 args)``). Hidden actions are marked
  ``[hidden]``.
- **Coverage** (optional; see ``monitor.explore.coverage``): each edge shows how often
  production took it (``×12``); edges never taken are dashed and red. Observed
  transitions that are not in the drawn graph are counted in the result.

Pure: graph in, text out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.explore.coverage import Coverage, canonical
from monitor.explore.graph import BROKEN, CUT, TERMINAL, StateGraph

__all__ = ["Diagram", "render"]

#: past this many argument tuples on one edge, the label counts them instead
MAX_ARGS = 4


@dataclass
class Diagram:
    text: str
    states: int
    edges: int  # transitions in the graph
    drawn: int  # edges drawn after collapsing parallel ones
    complete: bool
    seen: int = 0  # transitions with a count > 0 (with coverage)
    unseen: list[str] = field(default_factory=list)  # "src -> action(args) -> dst"
    outside: int = 0  # observed transitions not in the graph


@dataclass
class _Group:
    src: int
    dst: int
    action: str
    hidden: bool
    args: list[tuple[Any, ...]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)


def render(graph: StateGraph, *, fmt: str = "mermaid", coverage: Coverage | None = None,
           labels: str = "diff", max_args: int = MAX_ARGS) -> Diagram:
    if fmt not in ("mermaid", "dot"):
        raise ValueError(f"fmt must be mermaid or dot, got {fmt!r}")
    model = graph.model
    states = [canonical(s) for s in graph.states] if coverage is not None else []
    groups: dict[tuple[int, int, str], _Group] = {}
    diagram = Diagram(text="", states=len(graph.states), edges=len(graph.edges), drawn=0,
                      complete=graph.complete)
    matched = 0
    for e in graph.edges:
        g = groups.get((e.src, e.dst, e.action))
        if g is None:
            g = groups[(e.src, e.dst, e.action)] = _Group(e.src, e.dst, e.action, e.hidden)
        g.args.append(e.args)
        if coverage is not None:
            n = coverage.get((states[e.src], e.action, canonical(e.args), states[e.dst]), 0)
            g.counts.append(n)
            if n:
                diagram.seen += 1
                matched += 1
            else:
                diagram.unseen.append(f"{e.src} -> {e.action}{_args(e.args)} -> {e.dst}")
    if coverage is not None:
        diagram.outside = sum(1 for n in coverage.values() if n) - matched
    diagram.drawn = len(groups)
    nodes = [_node_label(graph, i, labels) for i in range(len(graph.states))]
    edges = [(g, _edge_label(g, max_args, coverage is not None)) for g in groups.values()]
    render_fn = _mermaid if fmt == "mermaid" else _dot
    diagram.text = render_fn(model.name, graph, nodes, edges, coverage is not None)
    return diagram


def _args(args: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(a) for a in args) + ")"


def _node_label(graph: StateGraph, sid: int, labels: str) -> list[str]:
    model = graph.model
    initial, state = graph.states[0], graph.states[sid]
    shown = [f"{f}={v!r}" for f, v, v0 in zip(model.fields, state, initial)
             if labels == "all" or sid == 0 or v != v0]
    lines = [f"s{sid}" + (" (initial)" if sid == 0 else "")] + shown
    flags = graph.flags[sid]
    if flags & BROKEN:
        lines.append("breaks " + ", ".join(graph.broken.get(sid, ())))
    if flags & CUT:
        lines.append("(search cut here)")
    return lines


def _edge_label(g: _Group, max_args: int, with_counts: bool) -> str:
    if len(g.args) == 1:
        label = g.action + _args(g.args[0])
    elif len(g.args) > max_args:
        label = f"{g.action}({len(g.args)} args)"
    else:
        parts = [", ".join(repr(a) for a in args) for args in g.args]
        label = f"{g.action}({' | '.join(parts)})"
    if g.hidden:
        label += " [hidden]"
    if with_counts:
        total = sum(g.counts)
        seen = sum(1 for n in g.counts if n)
        label += f" ×{total}"
        if 0 < seen < len(g.counts):
            label += f" ({seen}/{len(g.counts)} seen)"
    return label


def _unseen(g: _Group, with_counts: bool) -> bool:
    return with_counts and not any(g.counts)


def _mermaid(name: str, graph: StateGraph, nodes: list[list[str]],
             edges: list[tuple[_Group, str]], with_counts: bool) -> str:
    out = [f"%% {name}: {len(graph.states)} states, {len(graph.edges)} transitions",
           "flowchart LR"]
    if not graph.complete:
        out.append(f'  note["graph cut by a bound: {len(graph.states)} states shown; '
                   'states marked (search cut here) have successors not drawn"]')
    for i, lines in enumerate(nodes):
        text = _mq("<br/>".join(lines))
        flags = graph.flags[i]
        out.append(f'  s{i}(["{text}"])' if flags & TERMINAL else f'  s{i}["{text}"]')
    red = []
    for n, (g, label) in enumerate(edges):
        arrow = "-.->" if _unseen(g, with_counts) else "-->"
        if _unseen(g, with_counts):
            red.append(n)
        out.append(f'  s{g.src} {arrow}|"{_mq(label)}"| s{g.dst}')
    out.append("  classDef terminal stroke-width:3px")
    out.append("  classDef broken fill:#fdd,stroke:#c00")
    terminal = [f"s{i}" for i in range(len(nodes)) if graph.flags[i] & TERMINAL]
    broken = [f"s{i}" for i in range(len(nodes)) if graph.flags[i] & BROKEN]
    if terminal:
        out.append(f"  class {','.join(terminal)} terminal")
    if broken:
        out.append(f"  class {','.join(broken)} broken")
    if red:
        out.append(f"  linkStyle {','.join(map(str, red))} stroke:#c00,stroke-dasharray:4")
    return "\n".join(out) + "\n"


def _mq(text: str) -> str:
    """Text inside a Mermaid quoted label: quotes as entities."""
    return text.replace('"', "#quot;")


def _dot(name: str, graph: StateGraph, nodes: list[list[str]],
         edges: list[tuple[_Group, str]], with_counts: bool) -> str:
    title = f"{name}: {len(graph.states)} states, {len(graph.edges)} transitions"
    if not graph.complete:
        title += " (cut by a bound)"
    out = [f"digraph {_dq(name)} {{", "  rankdir=LR;", f"  label={_dq(title)};",
           "  node [shape=box, style=rounded, fontname=Helvetica];",
           "  edge [fontname=Helvetica];"]
    for i, lines in enumerate(nodes):
        flags = graph.flags[i]
        attrs = [f"label={_dq(chr(10).join(lines))}"]
        if flags & TERMINAL:
            attrs.append("peripheries=2")
        if flags & BROKEN:
            attrs.append('color="#cc0000", style="rounded,filled", fillcolor="#ffdddd"')
        out.append(f"  s{i} [{', '.join(attrs)}];")
    for g, label in edges:
        attrs = [f"label={_dq(label)}"]
        if _unseen(g, with_counts):
            attrs.append('color="#cc0000", fontcolor="#cc0000", style=dashed')
        elif g.hidden:
            attrs.append("style=dotted")
        out.append(f"  s{g.src} -> s{g.dst} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _dq(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, newlines as \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
