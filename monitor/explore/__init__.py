"""Exploring a spec on its own (pure): the reachable state graph, and checks on it.

Pure: no I/O, no clock; progress is reported through callbacks."""

from monitor.explore.check import check_graph, explore
from monitor.explore.graph import Edge, Rejection, StateGraph, explore_graph
from monitor.explore.result import CheckResult, Finding, Step

__all__ = [
    "CheckResult",
    "Edge",
    "Finding",
    "Rejection",
    "StateGraph",
    "Step",
    "check_graph",
    "explore",
    "explore_graph",
]
