"""The same spans, sent as protobuf or as OTLP JSON, give the same events and the same
verdicts (hypothesis, on spans recorded by the real OpenTelemetry SDK)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import SpanKind, StatusCode

from monitor.pipeline import Pipeline
from monitor.sinks.reports import encode_report
from monitor.sources.otlp_json import decode_otlp_json, decode_otlp_view
from monitor.specdir import load_specdir
from tests.otlp import PAYMENT, SECOND, T0, SpanSpec, otlp_json, request

SPECDIR = load_specdir(PAYMENT)

amounts = st.sampled_from([50, 100, 150, 250, "100", "abc", 100.0, 1.5, True, -(2**62)])
extra = st.dictionaries(st.sampled_from(["http.route", "a.b.c", "n", "ok", "ratio"]),
                        st.one_of(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1),
                                  st.booleans(), st.floats(allow_nan=False),
                                  st.lists(st.integers(0, 9), max_size=3)), max_size=3)
ops = st.tuples(
    st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from(["payment.authorize", "payment.capture", "payment.void", "payment.refund",
                     "cart.view"]),
    amounts,
    st.sampled_from([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]),
    st.sampled_from([SpanKind.SERVER, SpanKind.INTERNAL]),
    st.lists(amounts, max_size=2),
    extra,
)


def spans_of(steps: list[tuple[Any, ...]]) -> list[SpanSpec]:
    out = []
    for i, (pid, name, amount, status, kind, refunds, more) in enumerate(steps):
        t = T0 + i * SECOND
        attrs = {**more, "payment.id": pid, "payment.amount": amount}
        events = [("refund.issued", {"refund.amount": r}, t + j + 1)
                  for j, r in enumerate(refunds)]
        out.append(SpanSpec(name, attrs, t, t + SECOND // 2, kind=kind, status=status,
                            events=events))
    return out


def verdicts(batch_events: list[Any]) -> list[bytes]:
    pipe = Pipeline(SPECDIR)
    return [encode_report(r) for r in pipe.apply(batch_events) + pipe.engine.flush()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=8))
def test_protobuf_and_otlp_json_give_the_same_events_and_verdicts(steps):
    req = request(spans_of(steps))
    body = otlp_json(req)
    mapper = SPECDIR.mapping.spans
    from_proto = mapper.map_request(req, "o")
    from_view = mapper.map_request(decode_otlp_view(body), "o")
    from_json = mapper.map_request(decode_otlp_json(body), "o")
    assert from_view == from_proto
    assert from_json == from_proto
    assert verdicts(from_view.events) == verdicts(from_proto.events)


@settings(max_examples=30, deadline=None)
@given(st.lists(ops, min_size=1, max_size=5))
def test_decoding_the_collectors_json_gives_back_the_protobuf_message(steps):
    req = request(spans_of(steps))
    assert decode_otlp_json(otlp_json(req)) == req
