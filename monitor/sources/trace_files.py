"""Trace files for replay, and the registry of input formats that ``specmon replay
--format`` chooses from (``auto`` detects a file's format from its first bytes).

| format | content | origin in reports |
|---|---|---|
| ``events`` | JSON lines, one event per line (the ``events:`` mapping) | file, line |
| ``otlp-json`` | OTLP JSON lines, one ``{"resourceSpans": [...]}`` per line (the Collector's file exporter) | file, line |
| ``otlp-proto`` | ``ExportTraceServiceRequest`` messages, each after a 4-byte big-endian length (the file exporter with ``format: proto``) | file, message index (from 0) |
| ``jaeger`` | a Jaeger JSON export ``{"data": [...]}`` | file, span index (from 0) |

All may be gzip-compressed (detected by the magic bytes). A record that cannot be
read is yielded as a ``RecordError`` in place of the request, with its origin, so the
caller counts it and goes on; a truncated protobuf file ends with one such error.

A new format is one ``InputFormat`` in ``FORMATS`` (a reader and, for ``auto``, a
sniffer of the first bytes; ``FORMATS`` is tried in order and ``events`` comes last,
taking whatever nothing else claims); its ``kind`` says which loop of
``monitor.replay.LOOPS`` feeds it (a new kind of record is a new loop there).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import msgspec

from monitor.errors import ConfigError, RecordError
from monitor.sources.files import FileOrigin, open_input
from monitor.sources.jaeger import SpanOrigin, read_jaeger
from monitor.sources.otlp_json import decode_otlp_view

__all__ = ["FORMATS", "InputFormat", "MessageOrigin", "SpanOrigin", "detect_format",
           "format_of", "read_otlp_json_lines", "read_otlp_proto"]

#: a length prefix above this is garbage, not a message (the OTLP/HTTP body cap is 20 MiB
#: after decompression; the Collector's file exporter writes one batch per message)
MAX_MESSAGE = 64 << 20

Reader = Callable[[str], Iterator[tuple[Any, Any]]]


class MessageOrigin(msgspec.Struct, frozen=True, gc=False):
    """A message of a length-prefixed protobuf file: the file and its index (from 0)."""

    file: str
    message: int


#: what reading a damaged gzip file raises (BadGzipFile is an OSError; a cut-off stream
#: raises EOFError; a corrupt deflate stream zlib.error)
_BROKEN = (EOFError, OSError, zlib.error)


def _broken(exc: BaseException, where: str) -> RecordError:
    return RecordError("malformed", f"{where}: cannot read on: {type(exc).__name__}: {exc}")


class Records:
    """The (record, origin) pairs a reader yields from one file (plain or gzip), and
    ``position()``: how many bytes of the file on disk have been read (progress)."""

    def __init__(self, path: str, read: Callable[[str, IO[bytes]], Iterator[tuple[Any, Any]]]):
        self._file = open_input(path)
        self._raw = getattr(self._file, "fileobj", None) or self._file
        self._it = read(path, self._file)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        with self._file:
            yield from self._it

    def position(self) -> int:
        try:
            return int(self._raw.tell())
        except (OSError, ValueError):
            return 0


def read_otlp_json_lines(path: str) -> Records:
    """(request view, ``FileOrigin``) per non-blank line."""
    return Records(path, _json_lines)


def _json_lines(path: str, f: IO[bytes]) -> Iterator[tuple[Any, Any]]:
    lineno = 0
    try:
        for lineno, raw in enumerate(f, 1):
            if raw.isspace():
                continue
            try:
                yield decode_otlp_view(raw), FileOrigin(path, lineno)
            except RecordError as exc:
                yield exc, FileOrigin(path, lineno)
    except _BROKEN as exc:
        yield _broken(exc, f"after line {lineno}"), FileOrigin(path, lineno + 1)


def read_otlp_proto(path: str) -> Records:
    """(``ExportTraceServiceRequest``, ``MessageOrigin``) per length-prefixed message."""
    return Records(path, _proto_messages)


def _proto_messages(path: str, f: IO[bytes]) -> Iterator[tuple[Any, Any]]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    parse = ExportTraceServiceRequest.FromString
    read = f.read
    index = offset = 0
    while True:
        origin = MessageOrigin(path, index)
        try:
            head = read(4)
            size = int.from_bytes(head, "big")
            body = read(size) if len(head) == 4 and size <= MAX_MESSAGE else b""
        except _BROKEN as exc:  # a damaged gzip stream: what came before was read
            yield _broken(exc, f"byte {offset}"), origin
            return
        if not head:
            return
        if len(head) < 4:
            yield RecordError("malformed", f"byte {offset}: truncated length prefix "
                              f"({len(head)} of 4 bytes)"), origin
            return
        if size > MAX_MESSAGE:
            yield RecordError("malformed", f"byte {offset}: length prefix {size} is over "
                              f"{MAX_MESSAGE} bytes: not a length-prefixed OTLP protobuf "
                              "file, or corrupt from here on"), origin
            return
        if len(body) < size:
            yield RecordError("malformed", f"byte {offset}: truncated message ({len(body)} "
                              f"of {size} bytes)"), origin
            return
        try:
            yield parse(body), origin
        except DecodeError as exc:
            yield RecordError("malformed", f"byte {offset}: not an "
                              f"ExportTraceServiceRequest: {exc}"), origin
        index += 1
        offset += 4 + size


def read_jaeger_file(path: str) -> Iterator[tuple[Any, Any]]:
    try:
        with open_input(path) as f:
            body = f.read()
    except _BROKEN as exc:
        return iter([(_broken(exc, "$"), SpanOrigin(path, 0))])
    return read_jaeger(path, body)


@dataclass(frozen=True, slots=True)
class InputFormat:
    """``kind`` names the loop of ``monitor.replay.LOOPS`` that feeds it ("events": raw
    JSON lines; "spans": trace requests); ``section`` is the mapping section it needs
    (None: none); ``read`` yields (record, origin) pairs (None: the loop reads the file
    itself, as the events fast path does); ``sniff`` sees the first 4 KiB."""

    name: str
    kind: str
    section: str | None
    read: Reader | None
    sniff: Callable[[bytes], bool]
    help: str


_FIRST_KEY = re.compile(rb'\s*\{\s*"([^"]*)"')


def _first_key(head: bytes) -> bytes | None:
    m = _FIRST_KEY.match(head)
    return m.group(1) if m else None


def _is_proto(head: bytes) -> bool:
    # 4-byte length, then field 1 (resource_spans) length-delimited: tag byte 0x0a
    return len(head) >= 5 and head[4] == 0x0A and 0 < int.from_bytes(head[:4], "big") <= MAX_MESSAGE


FORMATS: dict[str, InputFormat] = {f.name: f for f in (
    InputFormat("otlp-proto", "spans", "spans", read_otlp_proto, _is_proto,
                "length-prefixed ExportTraceServiceRequest messages"),
    InputFormat("otlp-json", "spans", "spans", read_otlp_json_lines,
                lambda head: _first_key(head) == b"resourceSpans",
                "OTLP JSON lines (Collector file exporter)"),
    InputFormat("jaeger", "spans", "spans", read_jaeger_file,
                lambda head: _first_key(head) == b"data", "Jaeger JSON export"),
    InputFormat("events", "events", "events", None, lambda head: True,
                "JSON lines of events (the events: mapping)"),
)}


def detect_format(path: str) -> InputFormat:
    """The format of a file from its first bytes (after gunzip); ``events`` when
    nothing else fits (an empty file too)."""
    try:
        with open_input(path) as f:
            head = f.read(4096)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read input: {exc}") from None
    for fmt in FORMATS.values():
        if fmt.sniff(head):
            return fmt
    return FORMATS["events"]


def format_of(path: str, name: str = "auto") -> InputFormat:
    """The named format, or the detected one for ``auto``."""
    if name == "auto":
        return detect_format(path)
    try:
        return FORMATS[name]
    except KeyError:
        raise ConfigError(f"unknown input format {name!r}; one of: auto, "
                          f"{', '.join(FORMATS)}") from None
