"""Whatever the input, the readers and decoders yield requests or counted errors: they
never raise anything but ``RecordError`` (hypothesis, on random bytes and random JSON)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import RecordError
from monitor.sources.otlp_json import decode_otlp_json, decode_otlp_view
from monitor.sources.trace_files import read_jaeger_file, read_otlp_json_lines, read_otlp_proto
from monitor.specdir import load_specdir
from tests.otlp import PAYMENT

MAPPER = load_specdir(PAYMENT).mapping.spans

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "kind", "spanId", "traceId", "attributes", "key", "value",
                         "stringValue", "intValue", "arrayValue", "values", "events",
                         "endTimeUnixNano", "status", "code", "x"]), inner, max_size=4),
    max_leaves=12)


def _decode_and_map(body: bytes) -> None:
    for decode in (decode_otlp_view, decode_otlp_json):
        try:
            req = decode(body)
        except RecordError:
            continue
        MAPPER.map_request(req)  # a decoded request always maps (rejections are counted)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_in_place_of_a_span_decodes_or_is_a_record_error(value):
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [value]}]}]}
    _decode_and_map(json.dumps(doc).encode())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_a_record_error(body):
    _decode_and_map(body)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_any_file_reads_as_requests_and_counted_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f"
    path.write_bytes(data)
    for read in (read_otlp_proto, read_otlp_json_lines, read_jaeger_file):
        for req, _origin in read(str(path)):
            if not isinstance(req, RecordError):
                MAPPER.map_request(req)
