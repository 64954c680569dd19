"""Exploring a spec on its own (pure): the reachable state graph, and checks on it.

Pure: no I/O, no clock; progress is reported through callbacks."""

from monitor.explore.graph import Edge, Rejection, StateGraph, explore_graph

__all__ = ["Edge", "Rejection", "StateGraph", "explore_graph"]
