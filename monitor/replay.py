"""``specmon replay``: check recorded logs offline, optionally sharded by key over
several processes. I/O layer around ``Pipeline``.

Sharding: every worker reads every line, but fully decodes and maps only the lines
whose key hashes to it; the others cost a key-only decode. Workers exchange
their max event time before flushing, so deadlines fire exactly as in one process.
Verdicts equal the single-process run's as long as no event is late (lateness is
judged per shard, against the event times that shard saw).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from monitor.engine import EngineConfig
from monitor.errors import RecordError
from monitor.pipeline import BadRecord, Pipeline
from monitor.sinks.reports import encode_report
from monitor.sources.files import FileOrigin, LineReader, input_size
from monitor.sources.trace_files import InputFormat, format_of
from monitor.specdir import SpecDir

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    spec: str
    records: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    violations: dict[str, dict[str, int]] = field(default_factory=dict)
    live_instances: int = 0
    peak_instances: int = 0
    reports: list[bytes] = field(default_factory=list)  # encoded JSON lines, in order
    seconds: float = 0.0
    #: transition coverage: [from state, action, args, to state, count] rows
    #: (``Engine.transition_counts``; lists, so that they cross process pipes as they are)
    transitions: list[list[Any]] = field(default_factory=list)

    @property
    def violation_count(self) -> int:
        return sum(sum(v.values()) for v in self.violations.values())

    @property
    def spec_errors(self) -> int:
        return int(self.engine.get("spec_errors", 0))

    @property
    def exit_code(self) -> int:
        return 1 if self.violation_count or self.spec_errors else 0

    def summary(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "records": self.records,
            "outcomes": self.outcomes,
            "invalid": self.invalid,
            "instances": {
                "live": self.live_instances,
                "peak": self.peak_instances,
                "finished": self.engine.get("finished", 0),
                "adopted": self.engine.get("adopted", 0),
                "join_ignored": self.engine.get("join_ignored", 0),
                "expired": self.engine.get("expired", 0),
            },
            "violations": self.violations,
            "violation_count": self.violation_count,
            "spec_errors": self.spec_errors,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records / self.seconds) if self.seconds else None,
        }


Progress = Callable[[int, int, int], None]  # (bytes done, bytes total, records)


def replay(specdir: SpecDir, paths: Sequence[str], config: EngineConfig | None = None, *,
           workers: int = 1, on_bad: BadRecord | None = None,
           progress: Progress | None = None, input_format: str = "auto") -> ReplayResult:
    """Replay ``paths`` through the spec; ``input_format`` is a name of
    ``monitor.sources.trace_files.FORMATS`` or ``auto`` (detected per file)."""
    start = time.perf_counter()
    for path in paths:  # a bad format or a missing section stops before any work
        section = format_of(path, input_format).section
        if section is not None:
            Pipeline.check_section(specdir, section)
    if workers <= 1:
        result = _run(specdir, paths, config, on_bad, progress, shard=None, sync=None,
                      input_format=input_format)
    else:
        result = _run_sharded(specdir, paths, config, workers, on_bad, input_format)
    result.seconds = time.perf_counter() - start
    return result


def _run(specdir: SpecDir, paths: Sequence[str], config: EngineConfig | None,
         on_bad: BadRecord | None, progress: Progress | None,
         shard: tuple[int, int] | None, sync: Any, input_format: str = "auto") -> ReplayResult:
    pipe = Pipeline(specdir, config, on_bad=on_bad)
    engine = pipe.engine
    reports: list[bytes] = []
    total = sum(input_size(p) for p in paths) if progress else 0
    done = 0
    for path in paths:
        fmt = format_of(path, input_format)
        LOOPS[fmt.kind](pipe, fmt, path, shard, reports, progress, done, total)
        done += input_size(path)
        engine.set_position(path, "end")
    if sync is not None:  # sharded: agree on the max event time before the final flush
        sync.send(engine.max_time)
        # advancing may fire deadlines: their reports must not be lost
        reports.extend(encode_report(r) for r in engine.advance(sync.recv()))
    tail = engine.flush()
    reports.extend(encode_report(r) for r in tail)
    if progress is not None:
        progress(total, total, pipe.records)
    return _result(pipe, reports)


def _replay_json(pipe: Pipeline, fmt: InputFormat, path: str,
                 shard: tuple[int, int] | None, reports: list[bytes],
                 progress: Progress | None, done: int, total: int) -> None:
    mapper = pipe.events_mapper()
    # Pipeline.feed_json inlined: this loop runs once per record
    map_bytes = mapper.map_bytes
    route = mapper.route_bytes
    feed = pipe.engine._feed
    out: list[Any] = []
    records = unmatched = 0
    reader = LineReader(path)
    for raw, lineno in reader:
        if shard is not None:
            # str hashes are salted per interpreter, but the workers are forked from
            # one parent and share the salt, so they agree on every key's shard
            key = route(raw)
            if (hash(key) if key is not None else 0) % shard[1] != shard[0]:
                continue
        records += 1
        try:
            ev = map_bytes(raw, FileOrigin(path, lineno))
        except RecordError as exc:
            pipe.bad(exc.cause, FileOrigin(path, lineno), str(exc))
            continue
        if ev is None:
            unmatched += 1
            continue
        feed(ev, out)
        if out:
            reports.extend(encode_report(r) for r in out)
            out.clear()
        if progress is not None and not records & 0x3FFF:
            progress(done + reader.position(), total, pipe.records + records)
    if reader.broken is not None:
        lineno, reason = reader.broken
        records += 1
        pipe.bad("malformed", FileOrigin(path, lineno),
                 f"{path}:{lineno}: cannot read on: {reason}")
    pipe.records += records
    pipe.unmatched += unmatched


def _replay_spans(pipe: Pipeline, fmt: InputFormat, path: str,
                  shard: tuple[int, int] | None, reports: list[bytes],
                  progress: Progress | None, done: int, total: int) -> None:
    """Sharded, every worker maps every request (a span's key is known only once its
    rule is found) but feeds only its keys' events; worker 0 alone counts records."""
    assert fmt.read is not None
    requests = fmt.read(path)
    position = getattr(requests, "position", None)  # bytes read, when the reader knows
    map_request, apply = pipe.spans_mapper().map_request, pipe.apply
    counts = shard is None or shard[0] == 0
    n = 0
    for req, origin in requests:
        n += 1
        if type(req) is RecordError:
            if counts:
                pipe.records += 1
                pipe.bad(req.cause, origin, str(req))
            continue
        batch = map_request(req, origin)
        if counts:
            pipe.count_spans(batch, origin)
        events = batch.events
        if shard is not None:
            i, workers = shard
            events = [ev for ev in events if hash(ev.key) % workers == i]
        reports.extend(encode_report(r) for r in apply(events))
        if progress is not None and not n & 0xF:
            progress(done + (position() if position else 0), total, pipe.records)


#: InputFormat.kind -> the loop that replays one file of that kind
LOOPS: dict[str, Callable[..., None]] = {"events": _replay_json, "spans": _replay_spans}


def _result(pipe: Pipeline, reports: list[bytes]) -> ReplayResult:
    counters = pipe.engine.counters
    violations: dict[str, dict[str, int]] = {}
    for (kind, prop), n in counters.by_violation.items():
        violations.setdefault(kind, {})[prop] = n
    return ReplayResult(
        spec=pipe.specdir.name, records=pipe.records, outcomes=pipe.outcomes(),
        invalid=dict(pipe.invalid), engine=counters.as_dict(), violations=violations,
        live_instances=pipe.engine.live_instances, reports=reports,
        peak_instances=pipe.engine.peak_instances, transitions=transition_rows(pipe.engine),
    )


def transition_rows(engine: Any) -> list[list[Any]]:
    return [[src, action, args, dst, n]
            for (src, action, args, dst), n in engine.transition_counts().items()]


def _worker(specdir: SpecDir, paths: Sequence[str], config: EngineConfig | None,
            shard: tuple[int, int], conn: Any, input_format: str) -> None:
    def on_bad(cause: str, origin: Any, message: str) -> None:
        print(f"specmon: skipped {cause} record at {_where(origin)}: {message}", file=sys.stderr)

    result = _run(specdir, paths, config, on_bad, None, shard=shard, sync=conn,
                  input_format=input_format)
    conn.send(msgspec.msgpack.encode(result.__dict__))
    conn.close()


def _run_sharded(specdir: SpecDir, paths: Sequence[str], config: EngineConfig | None,
                 workers: int, on_bad: BadRecord | None, input_format: str) -> ReplayResult:
    ctx = multiprocessing.get_context("fork")
    conns, procs = [], []
    for i in range(workers):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(specdir, paths, config, (i, workers), child,
                                                   input_format))
        proc.start()
        conns.append(parent)
        procs.append(proc)
    peak = max(c.recv() for c in conns)
    for c in conns:
        c.send(peak)
    parts = [ReplayResult(**msgspec.msgpack.decode(c.recv())) for c in conns]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"replay worker exited with {p.exitcode}")
    return _merge(specdir.name, parts)


def _merge(name: str, parts: list[ReplayResult]) -> ReplayResult:
    out = ReplayResult(spec=name)
    for part in parts:
        out.records += part.records
        out.live_instances += part.live_instances
        out.peak_instances += part.peak_instances  # an upper bound: peaks need not coincide
        for src, dst in ((part.outcomes, out.outcomes), (part.invalid, out.invalid)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
        for k, v in part.engine.items():
            if isinstance(v, int):
                out.engine[k] = out.engine.get(k, 0) + v
        for kind, props in part.violations.items():
            for prop, n in props.items():
                d = out.violations.setdefault(kind, {})
                d[prop] = d.get(prop, 0) + n
        out.reports.extend(part.reports)
        out.transitions.extend(part.transitions)  # a transition seen by two shards: summed
        # when the coverage file is read
    # one order whatever the sharding: by event time, then key
    out.reports.sort(key=lambda line: _order(line))
    return out


class _OrderView(msgspec.Struct):
    time: float = 0.0
    key: str = ""
    kind: str = ""


_order_decoder = msgspec.json.Decoder(_OrderView)


def _order(line: bytes) -> tuple[float, str, str]:
    v = _order_decoder.decode(line)
    return (v.time, v.key, v.kind)


def _where(origin: Any) -> str:
    return where(origin)


def where(origin: Any) -> str:
    """An origin for people: ``file:line``, ``file message 3``, ``file span 7``."""
    if isinstance(origin, FileOrigin):
        return f"{origin.file}:{origin.line}"
    fields = getattr(origin, "__struct_fields__", None)
    if fields and fields[0] == "file":
        return " ".join([origin.file] + [f"{f} {getattr(origin, f)}" for f in fields[1:]])
    return str(origin)
