"""OTLP JSON as the OTLP spec and the Collector write it: hex ids (any case), int64 as
strings or numbers, integer enums, lowerCamelCase keys, unknown fields ignored; every
error names the JSON path."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from monitor.errors import RecordError
from monitor.sources.otlp_json import decode_otlp_json, decode_otlp_view

# the shape of opentelemetry-proto's examples/trace.json: upper-case hex ids, int64 numbers
EXAMPLE = b"""{"resourceSpans": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
  "scopeSpans": [{
    "scope": {"name": "shop.lib", "version": "2.0.0"},
    "spans": [{
      "traceId": "0AF7651916CD43DD8448EB211C80319C",
      "spanId": "B7AD6B7169203331",
      "parentSpanId": "",
      "name": "checkout",
      "startTimeUnixNano": 1767225600000000000,
      "endTimeUnixNano": "1767225601000000000",
      "kind": 2,
      "futureField": {"whatever": [1, 2]},
      "attributes": [
        {"key": "order.id", "value": {"stringValue": "o-1"}},
        {"key": "order.total", "value": {"intValue": "12345678901234"}},
        {"key": "order.items", "value": {"intValue": 3}},
        {"key": "order.ratio", "value": {"doubleValue": 0.5}},
        {"key": "order.gift", "value": {"boolValue": true}},
        {"key": "order.tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
        {"key": "order.blob", "value": {"bytesValue": "AAE="}},
        {"key": "order.none", "value": {}}
      ],
      "events": [{"timeUnixNano": "1767225600500000000", "name": "paid",
                  "attributes": [{"key": "amount", "value": {"intValue": "5"}}]}],
      "status": {"code": 1, "message": "fine"}
    }]
  }]
}]}"""


def test_the_otlp_example_shape_decodes_to_the_protobuf_message():
    req = decode_otlp_json(EXAMPLE)
    assert isinstance(req, ExportTraceServiceRequest)
    rs = req.resource_spans[0]
    span = rs.scope_spans[0].spans[0]
    assert rs.resource.attributes[0].value.string_value == "shop"
    assert rs.scope_spans[0].scope.name == "shop.lib"
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert span.span_id.hex() == "b7ad6b7169203331"
    assert span.parent_span_id == b""
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
        1767225600000000000, 1767225601000000000)
    assert (span.kind, span.status.code, span.status.message) == (2, 1, "fine")
    values = {kv.key: kv.value for kv in span.attributes}
    assert values["order.total"].int_value == 12345678901234
    assert values["order.items"].int_value == 3
    assert values["order.ratio"].double_value == 0.5
    assert values["order.gift"].bool_value is True
    assert values["order.tags"].array_value.values[0].string_value == "a"
    assert values["order.blob"].bytes_value == b"\x00\x01"
    assert values["order.none"].WhichOneof("value") is None
    assert span.events[0].time_unix_nano == 1767225600500000000
    assert span.events[0].attributes[0].value.int_value == 5


def test_views_read_like_the_protobuf_message():
    view = decode_otlp_view(EXAMPLE)
    proto = decode_otlp_json(EXAMPLE)
    v, p = view.resource_spans[0].scope_spans[0].spans[0], proto.resource_spans[0].scope_spans[0].spans[0]
    for name in ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
                 "end_time_unix_nano"):
        assert getattr(v, name) == getattr(p, name), name
    assert [(kv.key, kv.value.WhichOneof("value")) for kv in v.attributes] == [
        (kv.key, kv.value.WhichOneof("value")) for kv in p.attributes]


def test_an_empty_document_is_an_empty_request():
    assert decode_otlp_json(b"{}") == ExportTraceServiceRequest()
    assert decode_otlp_view(b'{"resourceSpans": []}').resource_spans == []


SPAN = b'{"resourceSpans":[{"scopeSpans":[{"spans":[%s]}]}]}'
AT = "$.resourceSpans[0].scopeSpans[0].spans[0]"


@pytest.mark.parametrize("span, message", [
    (b'{"spanId": "zz11223344556677"}', f"{AT}.spanId: expected 16 hex digits, got "
     "'zz11223344556677'"),
    (b'{"spanId": "0011"}', f"{AT}.spanId: expected 16 hex digits, got '0011'"),
    (b'{"traceId": "AAECAwQFBgcICQoLDA0ODw=="}', f"{AT}.traceId: expected 32 hex digits, got "
     "'AAECAwQFBgcICQoLDA0ODw=='"),
    (b'{"traceId": 7}', f"{AT}.traceId: expected 32 hex digits, got 7"),
    (b'{"kind": "SPAN_KIND_SERVER"}', f"{AT}.kind: Expected `int`, got `str`"),
    (b'{"startTimeUnixNano": "soon"}', f"{AT}.startTimeUnixNano: Expected `int`, got `str`"),
    (b'{"attributes": [{"key": "a", "value": {"intValue": "1.5x"}}]}',
     f"{AT}.attributes[0].value.intValue: Expected `int`, got `str`"),
    (b'{"attributes": {"a": 1}}', f"{AT}.attributes: Expected `array`, got `object`"),
])
def test_malformed_otlp_json_names_the_field_path(span, message):
    with pytest.raises(RecordError, match="^" + _escape(message) + "$") as info:
        decode_otlp_view(SPAN % span)
    assert info.value.cause == "malformed"
    with pytest.raises(RecordError, match="^" + _escape(message) + "$"):
        decode_otlp_json(SPAN % span)


@pytest.mark.parametrize("body, message", [
    (b"{not json", r"^\$: not JSON: "),
    (b"[]", r"^\$: Expected `object`, got `array`$"),
    (b'{"resourceSpans": {}}', r"^\$\.resourceSpans: Expected `array`, got `object`$"),
])
def test_a_document_that_is_not_otlp_json_is_malformed(body, message):
    with pytest.raises(RecordError, match=message):
        decode_otlp_json(body)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_long_values_and_large_requests_survive_the_protobuf_encoding():
    from tests.otlp import SECOND, T0, SpanSpec, otlp_json, request

    specs = [SpanSpec("s", {"big": "x" * 20_000, "n": -1, "f": 2.5, "b": False}, T0,
                      T0 + SECOND)] * 3
    req = request(specs)
    assert req.ByteSize() > 60_000
    assert decode_otlp_json(otlp_json(req)) == req


def test_values_nested_too_deeply_are_a_malformed_record_not_a_crash():
    deep = b'{"stringValue": "x"}'
    for _ in range(3000):
        deep = b'{"arrayValue": {"values": [' + deep + b"]}}"
    body = SPAN % (b'{"attributes": [{"key": "a", "value": ' + deep + b"}]}")
    with pytest.raises(RecordError, match=r"^\$: values nested too deeply$"):
        decode_otlp_view(body)


@pytest.mark.parametrize("span, message", [
    (b'{"endTimeUnixNano": "-5"}', f"{AT}.endTimeUnixNano: Expected `int` >= 0"),
    (b'{"flags": 4294967296}', f"{AT}.flags: Expected `int` <= 4294967295"),
    (b'{"kind": -1}', f"{AT}.kind: Expected `int` >= 0"),
    (b'{"attributes": [{"key": "a", "value": {"intValue": "9223372036854775808"}}]}',
     f"{AT}.attributes[0].value.intValue: Expected `int` <= 9223372036854775807"),
])
def test_numbers_out_of_their_protobuf_range_are_malformed(span, message):
    with pytest.raises(RecordError, match="^" + _escape(message) + "$"):
        decode_otlp_json(SPAN % span)
