"""The OTLP/HTTP receiver against real clients on loopback: the SDK's own exporter, and
raw HTTP for every error answer the OTLP specification defines."""

from __future__ import annotations

import gzip
import socket
import threading
import tracemalloc

import msgspec
import pytest
from google.rpc import code_pb2, status_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.integration import shop
from tests.integration.receivers import RunningMonitor

pytestmark = pytest.mark.integration

PROTO, JSON = "application/x-protobuf", "application/json"


def status_of(answer) -> status_pb2.Status:
    assert answer.headers["Content-Type"] == PROTO
    return status_pb2.Status.FromString(answer.body)


def test_the_sdk_http_exporter_delivers_spans_and_an_order_shipped_unpaid_is_reported():
    with RunningMonitor() as mon:
        exporter = OTLPSpanExporter(endpoint=mon.http.endpoint, timeout=10)
        result = exporter.export(shop.make_spans(shop.HAPPY + shop.SHIP_UNPAID))
        exporter.shutdown()
        mon.drained()
    assert result is SpanExportResult.SUCCESS
    assert [(r.key, r.kind, r.action) for r in mon.reports] == [("o-2", "unexpected", "ship")]
    assert "ship before payment" in mon.reports[0].message
    assert mon.reports[0].origin.transport == "otlp_http"
    assert mon.ingest.stats.accepted_events == 5 and mon.http.responses == {200: 1}


def test_the_sdk_http_exporter_may_gzip_its_requests():
    with RunningMonitor() as mon:
        exporter = OTLPSpanExporter(endpoint=mon.http.endpoint, compression=Compression.Gzip)
        assert exporter.export(shop.make_spans(shop.SHIP_UNPAID)) is SpanExportResult.SUCCESS
        exporter.shutdown()
        mon.drained()
    assert [r.key for r in mon.reports] == ["o-2"]


def test_a_clean_request_is_answered_200_with_partial_success_unset():
    with RunningMonitor() as mon:
        answer = mon.post(shop.request(shop.HAPPY).SerializeToString())
    assert answer.status == 200 and answer.headers["Content-Type"] == PROTO
    assert not ExportTraceServiceResponse.FromString(answer.body).HasField("partial_success")


def test_spans_that_fail_mapping_are_counted_in_partial_success_rejected_spans():
    steps = [("order.place", "o-3", {}), ("order.pay", "o-3", {"order.amount": "lots"}),
             ("order.pay", "o-4", {"order.amount": "many"}), ("unrelated.span", "o-3", {})]
    with RunningMonitor() as mon:
        answer = mon.post(shop.request(steps).SerializeToString())
    assert answer.status == 200
    partial = ExportTraceServiceResponse.FromString(answer.body).partial_success
    assert partial.rejected_spans == 2
    assert "order.pay" in partial.error_message and "lots" in partial.error_message
    assert mon.ingest.stats.rejected_spans == 2 and mon.ingest.stats.unmatched_spans == 1


def test_a_get_is_answered_405_with_allow_post_and_a_status_body():
    with RunningMonitor() as mon:
        answer = mon.post(b"", method="GET")
    assert answer.status == 405 and answer.headers["Allow"] == "POST"
    assert status_of(answer).code == code_pb2.UNIMPLEMENTED


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", "application/xml"])
def test_a_body_of_another_content_type_is_answered_415(content_type):
    with RunningMonitor() as mon:
        answer = mon.post(b"{}", content_type=content_type)
    assert answer.status == 415
    assert msgspec.json.decode(answer.body)["message"].startswith(
        f"unsupported Content-Type {content_type!r}")


def test_an_unsupported_content_encoding_is_answered_415():
    with RunningMonitor() as mon:
        answer = mon.post(b"xx", headers={"Content-Encoding": "br"})
    assert answer.status == 415
    assert "unsupported Content-Encoding 'br'" in status_of(answer).message


def test_an_undecodable_protobuf_body_is_answered_400_with_a_status_body():
    with RunningMonitor() as mon:
        answer = mon.post(b"\x0a\xff\xff\xff\xff\x0f")
    assert answer.status == 400
    status = status_of(answer)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert status.message.startswith("body is not an ExportTraceServiceRequest protobuf")


def test_a_truncated_gzip_body_is_answered_400():
    body = gzip.compress(shop.request(shop.HAPPY).SerializeToString())
    with RunningMonitor() as mon:
        answer = mon.post(body[:-12], headers={"Content-Encoding": "gzip"})
    assert answer.status == 400
    assert status_of(answer).message == "gzip body is truncated"


def test_a_body_over_the_cap_is_answered_413_and_nothing_is_queued():
    huge = shop.request([("order.place", "o-5", {"blob": "x" * 5000})])
    with RunningMonitor(max_body=4096) as mon:
        answer = mon.post(huge.SerializeToString())
    assert answer.status == 413
    assert status_of(answer).message == "body larger than the 4096-byte limit; send smaller batches"
    assert mon.ingest.stats.requests == 0


def test_a_gzip_bomb_is_answered_413_without_inflating_it():
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB in ~64 KiB
    with RunningMonitor(max_body=1 << 20) as mon:
        tracemalloc.start()
        try:
            answer = mon.post(bomb, headers={"Content-Encoding": "gzip"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answer.status == 413
    assert status_of(answer).message.startswith("decompressed body larger than the 1048576-byte")
    assert peak < 16 << 20  # the cap (1 MiB) and the compressed body, never the 64 MiB


def test_a_full_queue_answers_503_with_retry_after_and_queues_nothing_of_the_request():
    first = shop.request(shop.HAPPY).SerializeToString()           # 3 events
    second = shop.request(shop.SHIP_UNPAID).SerializeToString()    # 2 more: over the limit
    with RunningMonitor(max_events=4, consume=False, retry_after_s=2.5) as mon:
        assert mon.post(first).status == 200
        answer = mon.post(second)
        stats = msgspec.structs.asdict(mon.ingest.stats)
    assert answer.status == 503 and answer.headers["Retry-After"] == "3"
    status = status_of(answer)
    assert status.code == code_pb2.UNAVAILABLE
    assert status.message == "span queue full (3 of 4 events queued); retry after 2.5s"
    assert (stats["depth"], stats["requests"], stats["overloaded"]) == (3, 1, 1)
    assert mon.pipeline.records == 3  # the refused request is not counted: it comes back


def test_overload_can_be_answered_429_for_clients_that_prefer_it():
    with RunningMonitor(max_events=1, consume=False, overload_status=429) as mon:
        assert mon.post(shop.request(shop.HAPPY).SerializeToString()).status == 200
        answer = mon.post(shop.request(shop.SHIP_UNPAID).SerializeToString())
    assert answer.status == 429 and answer.headers["Retry-After"] == "1"


def test_the_sdk_exporter_retries_after_503_and_delivers_once_the_queue_drains():
    with RunningMonitor(max_events=3, consume=False, retry_after_s=0.2) as mon:
        assert mon.post(shop.request(shop.HAPPY).SerializeToString()).status == 200
        exporter = OTLPSpanExporter(endpoint=mon.http.endpoint, timeout=20)
        result = mon.export_after_refusal(
            exporter, shop.make_spans(shop.SHIP_UNPAID, t0=shop.T0 + 10**9),
            refused=lambda: mon.http.responses.get(503, 0) >= 1)
    assert result is SpanExportResult.SUCCESS
    assert [r.key for r in mon.reports] == ["o-2"]
    assert mon.ingest.stats.max_depth <= 3


def test_an_undecodable_json_body_is_answered_400_with_a_json_status_naming_the_field():
    body = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "xyz"}]}]}]}'
    with RunningMonitor() as mon:
        answer = mon.post(body, "application/json; charset=utf-8")
    assert answer.status == 400 and answer.headers["Content-Type"] == JSON
    status = msgspec.json.decode(answer.body)
    assert status["code"] == code_pb2.INVALID_ARGUMENT
    assert status["message"].startswith("$.resourceSpans[0].scopeSpans[0].spans[0].spanId")


def test_a_json_request_gets_a_json_answer_with_partial_success():
    steps = [("order.place", "o-3", {}), ("order.pay", "o-3", {"order.amount": "lots"})]
    with RunningMonitor() as mon:
        answer = mon.post(shop.to_otlp_json(shop.request(steps)), JSON)
    assert answer.status == 200 and answer.headers["Content-Type"] == JSON
    partial = msgspec.json.decode(answer.body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "lots" in partial["errorMessage"]


step = st.tuples(st.sampled_from(["order.place", "order.pay", "order.ship", "other"]),
                 st.sampled_from(["o-1", "o-2", "o-3"]),
                 st.sampled_from([{}, {"order.amount": 10}, {"order.amount": "ten"},
                                  {"order.amount": 2.5}, {"order.amount": True}]))


@settings(max_examples=20, deadline=None)
@given(steps=st.lists(step, max_size=25), gzipped=st.booleans())
def test_json_and_protobuf_bodies_of_the_same_spans_give_the_same_answers_and_verdicts(
        steps, gzipped):
    req = shop.request(steps)
    outcomes = []
    for body, ctype in ((req.SerializeToString(), PROTO), (shop.to_otlp_json(req), JSON)):
        headers = {"Content-Encoding": "gzip"} if gzipped else {}
        with RunningMonitor() as mon:
            answer = mon.post(gzip.compress(body) if gzipped else body, ctype, headers=headers)
            mon.drained()
            reports = mon.call(lambda m=mon: m.reports + m.pipeline.engine.flush())
        assert answer.status == 200
        if ctype == PROTO:
            partial = ExportTraceServiceResponse.FromString(answer.body).partial_success
            rejected, error = partial.rejected_spans, partial.error_message
        else:
            partial = msgspec.json.decode(answer.body).get("partialSuccess", {})
            rejected, error = int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")
        outcomes.append((rejected, error, mon.pipeline.outcomes(), dict(mon.pipeline.invalid),
                         [msgspec.structs.asdict(r) for r in reports]))
    assert outcomes[0] == outcomes[1]


def test_bodies_are_read_a_bounded_number_at_a_time_and_the_rest_wait_their_turn():
    body = shop.request(shop.HAPPY).SerializeToString()
    with RunningMonitor(max_reading=1) as mon:
        slow = socket.create_connection(("127.0.0.1", mon.http.port))
        slow.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/x-protobuf\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body[:10])
        mon.wait_until(lambda: mon.http.reading == 1)  # the slow body holds the only slot
        answers = []
        fast = threading.Thread(target=lambda: answers.append(mon.post(shop.request(
            shop.SHIP_UNPAID).SerializeToString())))
        fast.start()
        mon.wait_until(lambda: mon.http.waiting == 1)
        assert answers == []
        slow.sendall(body[10:])
        assert slow.recv(100).startswith(b"HTTP/1.1 200")
        fast.join(20)
        slow.close()
    assert [a.status for a in answers] == [200]
    assert (mon.http.reading, mon.http.waiting) == (0, 0)
