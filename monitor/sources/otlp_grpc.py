"""OTLP/gRPC trace receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``
on 127.0.0.1:4317 (grpc.aio, in the same asyncio loop as the ingest consumer).

Same semantics as the HTTP receiver, in gRPC status codes (OTLP specification):

- ok: ``ExportTraceServiceResponse``; spans failing mapping: its ``partial_success``;
- undecodable request: ``INVALID_ARGUMENT`` (the method takes raw bytes and parses them
  itself, so a bad body is a client error rather than grpc's generic INTERNAL);
- over the size cap: ``RESOURCE_EXHAUSTED`` (grpc enforces ``max_receive_message_length``
  after decompression; gzip from clients is handled by grpc);
- queue full: ``UNAVAILABLE`` (retryable) with a ``google.rpc.RetryInfo`` in the trailing
  metadata, which the SDK exporter reads as its backoff.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from monitor.errors import ConfigError, RecordError
from monitor.sources.ingest import OtlpOrigin, Overloaded, Service, SpanIngest
from monitor.sources.otlp_body import DEFAULT_MAX_BODY, decode_request

__all__ = ["DEFAULT_GRPC_PORT", "OtlpGrpcReceiver"]

DEFAULT_GRPC_PORT = 4317
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
_PROTOBUF = "application/x-protobuf"


class OtlpGrpcReceiver(Service):
    """``await start()`` binds and serves; ``await stop()`` closes. ``port`` is the bound
    port (useful with ``port=0``). ``responses`` counts answers by status code name."""

    def __init__(self, ingest: SpanIngest, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_GRPC_PORT, max_body: int = DEFAULT_MAX_BODY,
                 max_concurrent_rpcs: int | None = None) -> None:
        self.ingest = ingest
        # grpc reads a whole message before the handler runs; memory is bounded by
        # max_body x calls in flight. grpc answers calls past this bound RESOURCE_EXHAUSTED
        # (which OTLP clients retry only with RetryInfo), so it is off by default
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.host = host
        self.port = port
        self.max_body = max_body
        self.responses: dict[str, int] = {}
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(maximum_concurrent_rpcs=self.max_concurrent_rpcs, options=[
            ("grpc.max_receive_message_length", self.max_body),
            ("grpc.so_reuseport", 0),  # a second monitor on the same port must fail to bind
        ])
        handler = grpc.unary_unary_rpc_method_handler(
            self.export, request_deserializer=None,  # raw bytes: parsed in export()
            response_serializer=ExportTraceServiceResponse.SerializeToString)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
        try:
            port = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:  # grpc >= 1.49 raises instead of returning 0
            port = 0
        if port == 0:
            raise ConfigError(f"OTLP/gRPC receiver cannot listen on {self.host}:{self.port}; "
                              "free the port or configure another")
        await server.start()
        self.port = port
        self._server = server

    async def stop(self, grace: float | None = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def export(self, body: bytes, context: grpc.aio.ServicerContext) -> Any:
        try:
            req = decode_request(body, _PROTOBUF)
        except RecordError as exc:
            await self._abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            batch = self.ingest.submit(req, OtlpOrigin("otlp_grpc", context.peer()))
        except Overloaded as exc:
            delay = Duration()
            delay.FromNanoseconds(int(exc.retry_after_s * 1e9))
            retry = RetryInfo(retry_delay=delay).SerializeToString()
            await self._abort(context, grpc.StatusCode.UNAVAILABLE, str(exc),
                              (("google.rpc.retryinfo-bin", retry),))
        self._count("OK")
        if batch.rejected:
            return ExportTraceServiceResponse(partial_success=ExportTracePartialSuccess(
                rejected_spans=batch.rejected, error_message=batch.error or ""))
        return ExportTraceServiceResponse()

    async def _abort(self, context: grpc.aio.ServicerContext, code: grpc.StatusCode,
                     message: str, trailing: Any = ()) -> None:
        self._count(code.name)
        await context.abort(code, message, trailing)  # raises: ends the RPC

    def _count(self, name: str) -> None:
        self.responses[name] = self.responses.get(name, 0) + 1
