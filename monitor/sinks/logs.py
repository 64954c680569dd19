"""The daemon's logs: one JSON object per line on stderr, structlog-like fields
(``ts`` ISO-8601 UTC, ``level``, ``logger``, ``event``, then the event's own fields)::

    {"ts": "2026-11-25T17:02:03.412Z", "level": "info", "logger": "specmon.run",
     "event": "started", "specs": ["payment"], "otlp_http": "127.0.0.1:4318"}

Built on the stdlib ``logging`` module so that library logs (aiohttp, grpc, our
receivers) come out in the same format. Fields go in ``extra={"fields": {...}}``;
``log(logger, level, event, **fields)`` is the short form.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

import msgspec

__all__ = ["JsonFormatter", "log", "setup_logging"]

def _default(obj: Any) -> Any:
    if isinstance(obj, float):  # config Durations (float subclasses)
        return float(obj)
    if isinstance(obj, int):
        return int(obj)
    return repr(obj)


_encoder = msgspec.json.Encoder(enc_hook=_default)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        t = record.created
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(doc).decode()


def setup_logging(level: str = "info", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on ``stream`` (stderr) for every logger; returns the handler (tests
    and ``specmon run`` remove it again when they are done)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # one line per request from these is noise at info
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})
