"""The OTLP/gRPC receiver against the SDK's gRPC exporter and a raw grpc channel; both
receivers and the ingest together, as the daemon runs them."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.sources.ingest import SpanIngest
from monitor.sources.otlp_grpc import OtlpGrpcReceiver
from monitor.sources.otlp_http import OtlpHttpReceiver
from monitor.specdir import load_specdir
from tests.integration import shop
from tests.integration.receivers import ORDERS, STRICT, RunningMonitor

pytestmark = pytest.mark.integration

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def raw_export(mon: RunningMonitor, body: bytes) -> ExportTraceServiceResponse:
    """One Export call with a body sent as it is (no client-side validation)."""
    with grpc.insecure_channel(mon.grpc.endpoint) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None,
                                   response_deserializer=ExportTraceServiceResponse.FromString)
        return call(body, timeout=10)


def test_the_sdk_grpc_exporter_delivers_spans_and_an_order_shipped_unpaid_is_reported():
    with RunningMonitor() as mon:
        exporter = OTLPSpanExporter(endpoint=mon.grpc.endpoint, insecure=True, timeout=10)
        result = exporter.export(shop.make_spans(shop.HAPPY + shop.SHIP_UNPAID))
        exporter.shutdown()
        mon.drained()
    assert result is SpanExportResult.SUCCESS
    assert [(r.key, r.kind, r.action) for r in mon.reports] == [("o-2", "unexpected", "ship")]
    assert mon.reports[0].origin.transport == "otlp_grpc"
    assert mon.grpc.responses == {"OK": 1}


def test_spans_that_fail_mapping_come_back_as_partial_success():
    steps = [("order.place", "o-3", {}), ("order.pay", "o-3", {"order.amount": "lots"})]
    with RunningMonitor() as mon:
        answer = raw_export(mon, shop.request(steps).SerializeToString())
    assert answer.partial_success.rejected_spans == 1
    assert "lots" in answer.partial_success.error_message


def test_an_undecodable_request_is_invalid_argument():
    with RunningMonitor() as mon, pytest.raises(grpc.RpcError) as caught:
        raw_export(mon, b"\x0a\xff\xff\xff\xff\x0f")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("body is not an ExportTraceServiceRequest")


def test_a_request_over_the_cap_is_resource_exhausted():
    huge = shop.request([("order.place", "o-5", {"blob": "x" * 5000})])
    with RunningMonitor(max_body=4096) as mon, pytest.raises(grpc.RpcError) as caught:
        raw_export(mon, huge.SerializeToString())
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert mon.ingest.stats.requests == 0


def test_a_full_queue_is_unavailable_with_a_retry_delay_and_queues_nothing():
    with RunningMonitor(max_events=3, consume=False, retry_after_s=1.5) as mon:
        raw_export(mon, shop.request(shop.HAPPY).SerializeToString())
        with pytest.raises(grpc.RpcError) as caught:
            raw_export(mon, shop.request(shop.SHIP_UNPAID).SerializeToString())
        depth = mon.ingest.stats.depth
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    trailing = dict(caught.value.trailing_metadata())
    delay = RetryInfo.FromString(trailing["google.rpc.retryinfo-bin"]).retry_delay
    assert (delay.seconds, delay.nanos) == (1, 500_000_000)
    assert depth == 3 and mon.grpc.responses == {"OK": 1, "UNAVAILABLE": 1}


def test_the_sdk_grpc_exporter_retries_unavailable_and_delivers_once_the_queue_drains():
    with RunningMonitor(max_events=3, consume=False, retry_after_s=0.1) as mon:
        raw_export(mon, shop.request(shop.HAPPY).SerializeToString())
        exporter = OTLPSpanExporter(endpoint=mon.grpc.endpoint, insecure=True, timeout=20)
        result = mon.export_after_refusal(
            exporter, shop.make_spans(shop.SHIP_UNPAID, t0=shop.T0 + 10**9),
            refused=lambda: mon.grpc.responses.get("UNAVAILABLE", 0) >= 1)
    assert result is SpanExportResult.SUCCESS
    assert [r.key for r in mon.reports] == ["o-2"]


def test_a_gzip_compressed_request_that_inflates_past_the_cap_is_resource_exhausted():
    bomb = shop.request([("order.place", "o-6", {"blob": "\0" * 200_000})]).SerializeToString()
    with RunningMonitor(max_body=4096) as mon:
        with grpc.insecure_channel(mon.grpc.endpoint,
                                   compression=grpc.Compression.Gzip) as channel:
            call = channel.unary_unary(METHOD, request_serializer=None,
                                       response_deserializer=ExportTraceServiceResponse.FromString)
            with pytest.raises(grpc.RpcError) as caught:
                call(bomb, timeout=10)
            small = call(shop.request(shop.HAPPY).SerializeToString(), timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not small.HasField("partial_success")  # compressed requests under the cap work
    assert mon.ingest.stats.requests == 1


def test_the_ingest_and_both_receivers_run_as_async_context_managers_in_one_loop():
    reports = []

    async def daemon() -> list[SpanExportResult]:
        ingest = SpanIngest(Pipeline(load_specdir(ORDERS), STRICT), on_report=reports.append)
        http, grpc_ = OtlpHttpReceiver(ingest, port=0), OtlpGrpcReceiver(ingest, port=0)
        async with ingest, http, grpc_:
            exporters = [HttpExporter(endpoint=http.endpoint),
                         OTLPSpanExporter(endpoint=grpc_.endpoint, insecure=True)]
            steps = [shop.SHIP_UNPAID, [("order.place", "o-7", {}), ("order.ship", "o-7", {})]]
            results = [await asyncio.to_thread(e.export, shop.make_spans(s, t0=shop.T0 + i))
                       for i, (e, s) in enumerate(zip(exporters, steps))]
            for e in exporters:
                e.shutdown()
        return results  # leaving the block applied what was queued

    assert asyncio.run(daemon()) == [SpanExportResult.SUCCESS] * 2
    assert sorted(r.key for r in reports) == ["o-2", "o-7"]


def test_a_port_already_in_use_stops_start_up_with_a_message_naming_it():
    async def second_monitor_on(http_port: int, grpc_port: int) -> list[str]:
        ingest = SpanIngest(Pipeline(load_specdir(ORDERS)))
        messages = []
        for receiver in (OtlpHttpReceiver(ingest, port=http_port),
                         OtlpGrpcReceiver(ingest, port=grpc_port)):
            with pytest.raises(ConfigError) as caught:
                await receiver.start()
            messages.append(str(caught.value))
        return messages

    with RunningMonitor() as mon:
        http_msg, grpc_msg = asyncio.run(second_monitor_on(mon.http.port, mon.grpc.port))
    assert http_msg.startswith(f"OTLP/HTTP receiver cannot listen on 127.0.0.1:{mon.http.port}")
    assert grpc_msg == (f"OTLP/gRPC receiver cannot listen on 127.0.0.1:{mon.grpc.port}; "
                        "free the port or configure another")
