"""Hostile bodies against the running OTLP receivers: random bytes, truncated protobuf,
JSON of the wrong shape, huge attributes, gzip of all of them. Every HTTP answer is 200,
400 or 413 (gRPC: OK, INVALID_ARGUMENT, RESOURCE_EXHAUSTED); the servers survive; the
queue never passes its bound."""

from __future__ import annotations

import gzip

import grpc
import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.integration import shop
from tests.integration.receivers import RunningMonitor

pytestmark = pytest.mark.integration

CAP = 64 * 1024
LIMIT = 64
PROTO, JSON = "application/x-protobuf", "application/json"
VALID = shop.request(shop.HAPPY + shop.SHIP_UNPAID)
VALID_PROTO = VALID.SerializeToString()
VALID_JSON = shop.to_otlp_json(VALID)


def _huge(size: int) -> list[tuple[bytes, str]]:
    # built once: the SDK draws span ids from `random`, which strategies must not use
    req = shop.request([("order.place", "o-h", {"blob": "x" * size, "n": -2**63})])
    return [(req.SerializeToString(), PROTO), (shop.to_otlp_json(req), JSON)]


#: attributes around the cap: well under, just under, just over, far over
HUGE = [b for size in (10, CAP // 2, CAP - 600, CAP + 1, 4 * CAP) for b in _huge(size)]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "name",
                         "attributes", "key", "value", "stringValue", "intValue", "kind",
                         "startTimeUnixNano", "endTimeUnixNano", "resource", "events"])
        | st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def replace_somewhere(doc, path: list[int], value):
    """``doc`` with the node reached by following ``path`` (indices into the children
    of each level) replaced by ``value``: a valid request made subtly wrong."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    if isinstance(doc, dict):
        keys = sorted(doc)
        k = keys[path[0] % len(keys)]
        return {**doc, k: replace_somewhere(doc[k], path[1:], value)}
    i = path[0] % len(doc)
    return [*doc[:i], replace_somewhere(doc[i], path[1:], value), *doc[i + 1:]]


@st.composite
def bodies(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["random", "truncated", "json_shape", "json_mutated", "huge"]))
    if kind == "random":
        body, ctype = draw(st.binary(max_size=2000)), draw(st.sampled_from([PROTO, JSON]))
    elif kind == "truncated":
        body, ctype = VALID_PROTO[:draw(st.integers(0, len(VALID_PROTO) - 1))], PROTO
    elif kind == "json_shape":
        body, ctype = msgspec.json.encode(draw(json_values)), JSON
    elif kind == "json_mutated":
        doc = replace_somewhere(msgspec.json.decode(VALID_JSON),
                                draw(st.lists(st.integers(0, 50), max_size=10)),
                                draw(json_values))
        body, ctype = msgspec.json.encode(doc), JSON
    else:
        body, ctype = draw(st.sampled_from(HUGE))
    return body, ctype


@pytest.fixture(scope="module")
def mon():
    with RunningMonitor(max_events=LIMIT, max_body=CAP) as running:
        yield running


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), gzipped=st.booleans())
def test_any_body_is_answered_200_400_or_413_and_the_queue_stays_bounded(mon, body, gzipped):
    data, ctype = body
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    answer = mon.post(gzip.compress(data) if gzipped else data, ctype, headers=headers)
    assert answer.status in (200, 400, 413), answer.body[:300]
    event(f"{ctype} -> {answer.status}")
    if answer.status == 413:
        assert len(data) > CAP
    assert mon.call(lambda: mon.ingest.stats.max_depth) <= LIMIT


def test_after_the_fuzzing_the_receiver_still_maps_a_valid_request(mon):
    assert mon.post(VALID_PROTO).status == 200
    mon.drained()
    assert mon.ingest.stats.consumer_errors == 0 and mon.http.responses.get(500, 0) == 0


@pytest.fixture(scope="module")
def grpc_call(mon):
    with grpc.insecure_channel(mon.grpc.endpoint) as channel:
        yield channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.binary(max_size=2000),
                      st.integers(0, len(VALID_PROTO) - 1).map(lambda n: VALID_PROTO[:n]),
                      st.sampled_from([b for b, ctype in HUGE if ctype == PROTO])))
def test_any_grpc_message_is_ok_invalid_argument_or_resource_exhausted(mon, grpc_call, body):
    try:
        grpc_call(body, timeout=10)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code = exc.code()
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.RESOURCE_EXHAUSTED)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        assert len(body) > CAP
    event(code.name)
    assert mon.call(lambda: mon.ingest.stats.max_depth) <= LIMIT
