"""Just enough PromQL reading to check the alert rules and the dashboard against the
metrics specmon exports: the metric names an expression reads and the label names it
matches, groups by or prints. Not a parser: the expressions are ours and plain; the
end-to-end test runs them in a real Prometheus as well."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Query", "read_query"]

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_TEMPLATE = re.compile(r"\{\{\s*\$?(?:labels\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Query:
    metrics: frozenset[str]
    labels: frozenset[str]


def read_query(expr: str) -> Query:
    labels: set[str] = set()
    body = _GROUPING.sub(lambda m: (labels.update(_names(m.group(1))), " ")[1], expr)
    for m in _MATCHERS.finditer(_STRING.sub('""', body)):
        labels.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(1)))
    body = _MATCHERS.sub(" ", _STRING.sub('""', body))
    body = _NUMBER.sub(" ", _RANGE.sub(" ", body))
    metrics = set()
    for m in _IDENT.finditer(body):
        word, rest = m.group(0), body[m.end():].lstrip()
        if word.lower() in KEYWORDS or rest.startswith("("):  # a function call
            continue
        if body[:m.start()].endswith("$"):  # a Grafana variable
            continue
        metrics.add(word)
    return Query(frozenset(metrics), frozenset(labels))


def template_labels(text: str) -> set[str]:
    """Labels a legend (``{{spec}}``) or an alert template (``{{ $labels.spec }}``) prints."""
    return {name for name in _TEMPLATE.findall(text) if name not in ("value", "externalURL")}


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]
