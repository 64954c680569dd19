"""Trace files for replay: each format read with its origins, gzip transparently,
detected from the first bytes; truncated or garbage input gives counted errors."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from monitor.errors import ConfigError, RecordError
from monitor.sources.files import FileOrigin
from monitor.sources.jaeger import SpanOrigin
from monitor.sources.trace_files import (
    FORMATS,
    MessageOrigin,
    detect_format,
    format_of,
    read_jaeger_file,
    read_otlp_json_lines,
    read_otlp_proto,
)
from tests.otlp import T0, payment, request, write_otlp_json, write_otlp_proto

JAEGER = Path(__file__).parent / "data" / "payments-jaeger.json"


@pytest.fixture(scope="module")
def reqs():
    return [request(payment(f"p{i}", T0, refunds=[10])) for i in range(3)]


@pytest.mark.parametrize("gz", [False, True])
def test_every_format_is_detected_from_its_first_bytes(tmp_path, reqs, gz):
    proto = write_otlp_proto(tmp_path / "t.bin", reqs, gz=gz)
    lines = write_otlp_json(tmp_path / "t.jsonl", reqs, gz=gz)
    jaeger = tmp_path / "j.json"
    jaeger.write_bytes(gzip.compress(JAEGER.read_bytes()) if gz else JAEGER.read_bytes())
    events = tmp_path / "e.jsonl"
    events.write_bytes(b'{"type": "payment.authorized"}\n')
    assert [detect_format(str(p)).name for p in (proto, lines, jaeger, events)] == [
        "otlp-proto", "otlp-json", "jaeger", "events"]


def test_an_empty_file_is_read_as_events(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    assert detect_format(str(tmp_path / "e")).name == "events"


def test_a_named_format_overrides_detection_and_an_unknown_one_is_refused(tmp_path, reqs):
    path = str(write_otlp_proto(tmp_path / "t.bin", reqs))
    assert format_of(path, "jaeger") is FORMATS["jaeger"]
    with pytest.raises(ConfigError, match=r"^unknown input format 'itf'; one of: auto, "):
        format_of(path, "itf")


def test_length_prefixed_protobuf_gives_each_message_with_its_index(tmp_path, reqs):
    path = str(write_otlp_proto(tmp_path / "t.bin.gz", reqs, gz=True))
    got = list(read_otlp_proto(path))
    assert [o for _, o in got] == [MessageOrigin(path, i) for i in range(3)]
    assert [r for r, _ in got] == reqs


def _errors(items):
    return [(str(r), o) for r, o in items if isinstance(r, RecordError)]


def test_a_truncated_protobuf_file_ends_with_one_counted_error(tmp_path, reqs):
    data = write_otlp_proto(tmp_path / "t.bin", reqs).read_bytes()
    first = 4 + reqs[0].ByteSize()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[: first + 10])
    got = list(read_otlp_proto(str(path)))
    assert len(got) == 2 and got[0][0] == reqs[0]
    size = reqs[1].ByteSize()
    assert _errors(got) == [(f"byte {first}: truncated message (6 of {size} bytes)",
                             MessageOrigin(str(path), 1))]
    path.write_bytes(data[: first + 2])
    assert _errors(read_otlp_proto(str(path))) == [
        (f"byte {first}: truncated length prefix (2 of 4 bytes)", MessageOrigin(str(path), 1))]


def test_a_garbage_message_is_counted_and_the_next_one_is_read(tmp_path, reqs):
    garbage = b"\xff\xff\xff\xff\xff"
    body = reqs[0].SerializeToString()
    path = tmp_path / "g.bin"
    path.write_bytes(len(garbage).to_bytes(4, "big") + garbage + len(body).to_bytes(4, "big")
                     + body)
    got = list(read_otlp_proto(str(path)))
    assert isinstance(got[0][0], RecordError) and got[0][0].cause == "malformed"
    assert str(got[0][0]).startswith("byte 0: not an ExportTraceServiceRequest: ")
    assert got[1] == (reqs[0], MessageOrigin(str(path), 1))


def test_a_length_prefix_past_the_cap_stops_the_file_with_a_clear_message(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x7f\xff\xff\xff" + b"\x0a" * 10)
    assert _errors(read_otlp_proto(str(path))) == [(
        "byte 0: length prefix 2147483647 is over 67108864 bytes: not a length-prefixed OTLP "
        "protobuf file, or corrupt from here on", MessageOrigin(str(path), 0))]


def test_otlp_json_lines_skip_blank_lines_and_count_a_bad_line(tmp_path, reqs):
    path = write_otlp_json(tmp_path / "t.jsonl", reqs[:2])
    lines = path.read_bytes().splitlines()
    path.write_bytes(lines[0] + b"\n\n{\"resourceSpans\": 5}\n" + lines[1] + b"\n")
    got = list(read_otlp_json_lines(str(path)))
    assert [o for _, o in got] == [FileOrigin(str(path), n) for n in (1, 3, 4)]
    assert _errors(got) == [("$.resourceSpans: Expected `array`, got `int`",
                             FileOrigin(str(path), 3))]
    assert got[0][0].resource_spans[0].scope_spans[0].spans[0].name == "payment.authorize"


def test_a_jaeger_export_becomes_one_request_per_span_in_otlp_terms():
    got = list(read_jaeger_file(str(JAEGER)))
    assert [o for _, o in got] == [SpanOrigin(str(JAEGER), i) for i in range(7)]
    auth = got[0][0].resource_spans[0]
    span = auth.scope_spans[0].spans[0]
    assert [(kv.key, kv.value.string_value) for kv in auth.resource.attributes] == [
        ("service.name", "payments"), ("host.name", "pay-1")]
    assert auth.scope_spans[0].scope.name == "payments-lib"
    assert (span.name, span.kind, span.span_id.hex()) == ("payment.authorize", 2,
                                                          "00f067aa0ba902b7")
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
        1767225600000000000, 1767225600250000000)
    assert [(kv.key, kv.value.WhichOneof("value")) for kv in span.attributes] == [
        ("payment.id", "string_value"), ("payment.amount", "int_value")]
    capture = got[1][0].resource_spans[0].scope_spans[0].spans[0]
    assert (capture.status.code, capture.parent_span_id.hex()) == (1, "00f067aa0ba902b7")
    refund = got[2][0].resource_spans[0].scope_spans[0].spans[0]
    (event,) = refund.events
    assert (event.name, event.time_unix_nano) == ("refund.issued", 1767225602050000000)
    assert [(kv.key, kv.value.int_value) for kv in event.attributes] == [("refund.amount", 80)]
    short = got[3][0].resource_spans[0].scope_spans[0].spans[0]
    assert short.trace_id.hex() == "00000000000000007f3a9c2b1d4e5f60"  # 64-bit, zero-padded
    errored = got[6][0].resource_spans[0].scope_spans[0].spans[0]
    assert errored.status.code == 2  # the error=true tag
    assert _errors(got) == [("$.data[1].spans[2].spanID: Expected `str`, got `int`",
                             SpanOrigin(str(JAEGER), 5))]


@pytest.mark.parametrize("body, message", [
    (b"{\"data\": [", r"^\$: Input data was truncated \(not a Jaeger JSON export\)$"),
    (b"{\"data\": 3}", r"^\$\.data: Expected `array \| null`, got `int` \(not a Jaeger JSON "
                       r"export\)$"),
])
def test_a_file_that_is_not_a_jaeger_export_is_one_counted_error(tmp_path, body, message):
    path = tmp_path / "j.json"
    path.write_bytes(body)
    ((err, origin),) = list(read_jaeger_file(str(path)))
    assert isinstance(err, RecordError) and origin == SpanOrigin(str(path), 0)
    assert re.search(message, str(err))


def test_bad_jaeger_tags_and_ids_name_their_path(tmp_path):
    path = tmp_path / "j.json"
    path.write_bytes(b'{"data": [{"spans": ['
                     b'{"traceID": "xyz", "spanID": "0000000000000001"},'
                     b'{"traceID": "01", "spanID": "0000000000000001", "tags": '
                     b'[{"key": "n", "type": "int64", "value": "many"}]}], "processes": {}}]}')
    assert [m for m, _ in _errors(read_jaeger_file(str(path)))] == [
        "$.data[0].spans[0].traceID: expected at most 32 hex digits, got 'xyz'",
        "$.data[0].spans[1].tags: tag 'n' of type 'int64' has the value 'many'",
    ]


def test_a_cut_off_gzip_file_ends_with_one_counted_error_after_what_it_held(tmp_path, reqs):
    whole = write_otlp_proto(tmp_path / "t.bin.gz", reqs, gz=True).read_bytes()
    (tmp_path / "cut.bin.gz").write_bytes(whole[: len(whole) - 20])
    got = list(read_otlp_proto(str(tmp_path / "cut.bin.gz")))
    errors = [r for r, _ in got if isinstance(r, RecordError)]
    assert len(errors) == 1 and errors[0] is got[-1][0]
    assert re.match(r"byte \d+: cannot read on: EOFError: Compressed file ended", str(errors[0]))
    lines = write_otlp_json(tmp_path / "t.jsonl.gz", reqs, gz=True).read_bytes()
    (tmp_path / "cut.jsonl.gz").write_bytes(lines[: len(lines) - 20])
    got = list(read_otlp_json_lines(str(tmp_path / "cut.jsonl.gz")))
    assert str(got[-1][0]).startswith("after line ")
    assert all(not isinstance(r, RecordError) for r, _ in got[:-1])
    jaeger = tmp_path / "j.json.gz"
    jaeger.write_bytes(gzip.compress(JAEGER.read_bytes())[:-20])
    ((err, _),) = list(read_jaeger_file(str(jaeger)))
    assert str(err).startswith("$: cannot read on: EOFError")
