"""``specmon replay --format itf``: check ITF traces (Apalache, ``quint run --out-itf``,
or specmon's own exports) against a spec. I/O layer around ``monitor.explore.traces``.

Each file is one trace and is checked on an engine of its own (a trace is one run of
another tool, from its initial state), so traces never interfere through the
watermark. Steps bypass the mapping: they already are actions. The key is the file
name without ``.itf.json`` (or ``key``), event time the state's ``#meta.time``, a
numeric ``time`` variable, or else the state's index. A file that is not an ITF trace
the spec can take is counted as ``invalid`` with its cause and skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import msgspec

from monitor.engine import Engine, EngineConfig
from monitor.errors import RecordError
from monitor.explore.itf import read_trace
from monitor.explore.traces import itf_events
from monitor.pipeline import BadRecord
from monitor.replay import ReplayResult, _merge, transition_rows
from monitor.sinks.reports import encode_report
from monitor.sources.files import open_input
from monitor.specdir import SpecDir

__all__ = ["ItfOrigin", "is_itf", "replay_itf", "trace_key"]

#: an ITF trace is a JSON object whose first key is one of these
_ITF_START = re.compile(rb'\s*\{\s*"(#meta|vars|states|params|loop)"')


class ItfOrigin(msgspec.Struct, frozen=True, gc=False):
    """Where a step came from: the trace file and the state's index in it."""

    file: str
    state: int


def is_itf(path: str) -> bool:
    """Does the file (gzip or not) start like an ITF trace? (for ``--format auto``)"""
    with open_input(path) as f:
        return _ITF_START.match(f.read(256)) is not None


def trace_key(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".json", ".itf"):
        name = name.removesuffix(suffix)
    return name


def replay_itf(specdir: SpecDir, paths: Sequence[str], config: EngineConfig | None = None,
               *, key: str | None = None, on_bad: BadRecord | None = None) -> ReplayResult:
    """Check each trace on an engine of its own; results add up."""
    start = time.perf_counter()
    parts = [_one(specdir, path, config, key, on_bad) for path in paths]
    result = _merge(specdir.name, parts) if parts else ReplayResult(spec=specdir.name)
    result.seconds = time.perf_counter() - start
    return result


def _one(specdir: SpecDir, path: str, config: EngineConfig | None, key: str | None,
         on_bad: BadRecord | None) -> ReplayResult:
    engine = Engine(specdir.model, config, name=specdir.name)
    result = ReplayResult(spec=specdir.name, records=1)
    with open_input(path) as f:
        raw = f.read()
    try:
        try:
            doc = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise RecordError("malformed", f"$: not JSON: {exc}") from None
        events = itf_events(read_trace(doc), specdir.model, key=key or trace_key(path),
                            origin=lambda i: ItfOrigin(path, i))
    except RecordError as exc:
        result.invalid[exc.cause] = 1
        result.outcomes = {"mapped": 0, "unmatched": 0, "invalid": 1}
        if on_bad is not None:
            on_bad(exc.cause, ItfOrigin(path, -1), str(exc))
        return result
    reports = engine.feed_many(events) + engine.flush()
    c = engine.counters
    violations: dict[str, dict[str, int]] = {}
    for (kind, prop), n in c.by_violation.items():
        violations.setdefault(kind, {})[prop] = n
    result.records = len(events)
    result.outcomes = {"mapped": len(events), "unmatched": 0, "invalid": 0,
                       "duplicate": c.duplicate, "late": c.late, "applied": c.applied,
                       "quarantined": c.quarantined, "ignored": c.ignored}
    result.engine = c.as_dict()
    result.violations = violations
    result.live_instances = engine.live_instances
    result.peak_instances = engine.peak_instances
    result.reports = [encode_report(r) for r in reports]
    result.transitions = transition_rows(engine)
    return result
