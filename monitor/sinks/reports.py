"""Violation reports as JSON lines (schema: ``monitor.engine.events.Violation`` and
``SpecErrorReport``). The offending record is embedded as the JSON it was (raw bytes
are written verbatim, not re-encoded)."""

from __future__ import annotations

from typing import IO, Any

import msgspec

from monitor.engine.events import SpecErrorReport, Violation

__all__ = ["ReportWriter", "encode_report"]

_encoder = msgspec.json.Encoder()


def encode_report(report: Violation | SpecErrorReport) -> bytes:
    record = report.record
    if isinstance(record, (bytes, bytearray, memoryview)):
        text = bytes(record).strip()
        try:
            msgspec.json.decode(text)
        except msgspec.DecodeError:
            record = text.decode("utf-8", "replace")
        else:
            record = msgspec.Raw(text)
        report = msgspec.structs.replace(report, record=record)
    return _encoder.encode(report)


class ReportWriter:
    """Appends one JSON object per line; ``count`` says how many were written."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0

    def write(self, reports: list[Any]) -> None:
        for r in reports:
            self.stream.write(encode_report(r) + b"\n")
            self.count += 1

    def flush(self) -> None:
        self.stream.flush()
