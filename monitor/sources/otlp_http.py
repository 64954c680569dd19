"""OTLP/HTTP trace receiver: ``POST /v1/traces`` on 127.0.0.1:4318 (aiohttp).

Follows the OTLP specification (opentelemetry-proto ``docs/specification.md``):

| request                                        | answer                                     |
|------------------------------------------------|--------------------------------------------|
| protobuf or JSON body (by Content-Type), ok     | 200 ``ExportTraceServiceResponse``         |
| some spans fail mapping                         | 200 with ``partial_success.rejected_spans`` |
| body undecodable (or corrupt gzip)              | 400 ``google.rpc.Status`` INVALID_ARGUMENT |
| body over the cap after decompression           | 413 Status (clients do not retry)          |
| engine queue full                               | 503 (or 429) + ``Retry-After`` (retried)   |
| method other than POST                          | 405 + ``Allow: POST``                      |
| Content-Type or Content-Encoding not supported  | 415                                        |

Responses use the request's content type (protobuf or JSON); a request of another
content type gets a JSON Status. ``gzip`` and ``deflate`` bodies are inflated here, with
the cap applied while inflating (``otlp_body``), so aiohttp's own decompression is off.
At most ``max_reading`` bodies are read at once; other requests wait, their bodies unread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from aiohttp import web
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from monitor.errors import RecordError
from monitor.sources.http_listen import listen
from monitor.sources.ingest import OtlpOrigin, Overloaded, Service, SpanIngest
from monitor.sources.otlp_body import (
    CONTENT_TYPES,
    DEFAULT_MAX_BODY,
    ENCODINGS,
    JSON,
    PROTOBUF,
    BodyTooLarge,
    decode_request,
    read_capped,
)

__all__ = ["DEFAULT_HTTP_PORT", "OtlpHttpReceiver"]

_log = logging.getLogger("specmon.otlp")

DEFAULT_HTTP_PORT = 4318
#: bodies read at once: 8 x the 20 MiB cap bounds the receiver's body memory to 160 MiB
DEFAULT_MAX_READING = 8
TRACES_PATH = "/v1/traces"
_CHUNK = 64 * 1024
_OK_PROTO = ExportTraceServiceResponse().SerializeToString()  # b"": partial_success unset


class OtlpHttpReceiver(Service):
    """``await start()`` binds and serves; ``await stop()`` closes. ``port`` is the bound
    port (useful with ``port=0``). ``responses`` counts answers by HTTP status."""

    def __init__(self, ingest: SpanIngest, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_HTTP_PORT, max_body: int = DEFAULT_MAX_BODY,
                 overload_status: int = 503, max_reading: int = DEFAULT_MAX_READING) -> None:
        if overload_status not in (429, 503):
            raise ValueError(f"overload_status must be 429 or 503, got {overload_status!r}")
        if max_reading < 1:
            raise ValueError(f"max_reading must be >= 1, got {max_reading!r}")
        self.ingest = ingest
        self.host = host
        self.port = port
        self.max_body = max_body
        self.overload_status = overload_status
        self.responses: dict[int, int] = {}
        #: bodies being read now, and requests waiting for a slot (memory: at most
        #: max_reading bodies of max_body bytes; a waiting request's body stays in the
        #: socket, aiohttp buffers at most ~128 KiB of it)
        self.reading = self.waiting = 0
        self._slots = asyncio.Semaphore(max_reading)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", TRACES_PATH, self.handle)
        # auto_decompress off: read_capped inflates under the cap (a gzip bomb costs
        # at most max_body bytes); access_log off: one line per export is noise
        runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        self.port = await listen(runner, self.host, self.port, "OTLP/HTTP receiver",
                                 "free the port or configure another")
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}{TRACES_PATH}"

    async def handle(self, request: web.Request) -> web.Response:
        try:
            resp = await self._answer(request)
        except Exception as exc:  # a bug here must cost one request, not the receiver
            _log.exception("specmon: OTLP/HTTP request failed")
            resp = _status(500, code_pb2.INTERNAL, f"internal error: {type(exc).__name__}",
                           JSON if request.content_type == JSON else PROTOBUF)
        self.responses[resp.status] = self.responses.get(resp.status, 0) + 1
        return resp

    async def _answer(self, request: web.Request) -> web.Response:
        ctype = request.content_type  # without parameters (charset=utf-8 is allowed)
        fmt = ctype if ctype in CONTENT_TYPES else JSON
        if request.method != "POST":
            return _status(405, code_pb2.UNIMPLEMENTED, f"{request.method} not allowed; "
                           f"send POST {TRACES_PATH}", fmt, {"Allow": "POST"})
        if ctype not in CONTENT_TYPES:
            return _status(415, code_pb2.INVALID_ARGUMENT, f"unsupported Content-Type "
                           f"{ctype!r}; use application/x-protobuf or application/json", fmt)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ENCODINGS:
            return _status(415, code_pb2.INVALID_ARGUMENT, f"unsupported Content-Encoding "
                           f"{encoding!r}; use gzip, deflate or none", fmt)
        if encoding == "identity" and (request.content_length or 0) > self.max_body:
            return _status(413, code_pb2.RESOURCE_EXHAUSTED,
                           str(BodyTooLarge(self.max_body, compressed=False)), fmt)
        try:
            body = await self._read(request, encoding)
            req = decode_request(body, ctype)
        except BodyTooLarge as exc:
            return _status(413, code_pb2.RESOURCE_EXHAUSTED, str(exc), fmt)
        except RecordError as exc:
            return _status(400, code_pb2.INVALID_ARGUMENT, str(exc), fmt)
        try:
            batch = self.ingest.submit(req, OtlpOrigin("otlp_http", request.remote))
        except Overloaded as exc:
            return _status(self.overload_status, code_pb2.UNAVAILABLE, str(exc), fmt,
                           {"Retry-After": exc.retry_after_header})
        return _success(batch.rejected, batch.error, fmt)


    async def _read(self, request: web.Request, encoding: str) -> bytes:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.reading += 1
        try:
            return await read_capped(request.content.iter_chunked(_CHUNK), self.max_body,
                                     encoding)
        finally:
            self.reading -= 1
            self._slots.release()


def _success(rejected: int, error: str | None, fmt: str) -> web.Response:
    if fmt == JSON:
        doc: dict[str, Any] = {}
        if rejected:
            # proto3 JSON: int64 as a decimal string
            doc["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": error or ""}
        return web.Response(body=msgspec.json.encode(doc), content_type=JSON)
    body = _OK_PROTO
    if rejected:
        body = ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
            rejected_spans=rejected, error_message=error or "")).SerializeToString()
    return web.Response(body=body, content_type=PROTOBUF)


def _status(http: int, code: int, message: str, fmt: str,
            headers: dict[str, str] | None = None) -> web.Response:
    if fmt == JSON:
        body = msgspec.json.encode({"code": code, "message": message})
    else:
        body = status_pb2.Status(code=code, message=message).SerializeToString()
    return web.Response(status=http, body=body, content_type=fmt, headers=headers)
