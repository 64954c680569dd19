"""``monitor.otel_spans`` (how ``SpecMonitorProcessor`` maps SDK spans) gives the mapper
the same spans as the SDK's OTLP encoder: the same events, counts and rejections, for
attribute values of every kind, including those the encoder leaves out."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from monitor import Spec, action
from monitor.mapping import load_mapping
from monitor.otel_spans import sdk_request
from monitor.spec import model_of
from monitor.specdir import load_specdir
from tests.otlp import PAYMENT, SECOND, T0, payment, record


class Box(Spec):
    items: int = 0

    @action
    def put(self, item: str, n: int, price: float = 0.0, fragile: bool = False):
        pass

    @action
    def tag(self, labels):
        pass


MAPPING = """
spans:
  key: box.id
  rules:
    - {when: {name: put, kind: server}, action: put, args: {item: item, n: n}}
    - {when: {name: put, status: error}, action: put,
       args: {item: {resource: service.name}, n: n, price: price, fragile: fragile}}
    - {when: {name: put}, action: tag, args: {labels: {field: parent_span_id}},
       key: [{field: scope}, box.id, {field: trace_id}]}
    - {when: {name: tag, attributes: {box.colour: [red, 1, true]}}, action: tag,
       args: {labels: labels}, id: op.id}
    - {when: {name: tag}, action: tag, args: {labels: {field: status_message}}, time: start}
    - {when: {event: tagged, name: [put, tag]}, action: tag, args: {labels: {event: l}}}
    - {when: {event: priced, event_attributes: {ok: true}}, action: put,
       args: {item: {event: item}, n: {event: n}}}
"""
MAPPER = load_mapping(MAPPING, filename="box.yaml", model=model_of(Box)).spans

KEYS = ["box.id", "item", "n", "price", "fragile", "labels", "box.colour", "op.id", "l", "ok"]
scalars = (st.none() | st.booleans() | st.integers(-(1 << 64), 1 << 64) | st.floats()
           | st.text(max_size=4) | st.binary(max_size=3))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3).map(tuple)
                      | st.dictionaries(st.text(max_size=2), inner, max_size=2), max_leaves=5)
#: usable values half of the time, so that rules match as often as they reject
usable = st.sampled_from(["b1", "red", 2, 2.5, True, ("x", "y")])
attrs = st.dictionaries(st.sampled_from(KEYS), usable | values, max_size=6)
span_attrs = st.tuples(usable | values, attrs).map(lambda t: {"box.id": t[0], **t[1]})
events = st.lists(st.tuples(st.sampled_from(["tagged", "priced", "other"]), attrs,
                            st.integers(0, 3)), max_size=3)


@st.composite
def sdk_spans(draw: Any) -> list[ReadableSpan]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        parent = draw(st.booleans())
        status = draw(st.sampled_from([None, Status(StatusCode.OK),
                                       Status(StatusCode.ERROR, draw(st.text(max_size=3)))]))
        service = draw(st.sampled_from(["boxes", "crates"]))
        scope = draw(st.sampled_from([None, InstrumentationScope("box-lib")]))
        out.append(ReadableSpan(
            name=draw(st.sampled_from(["put", "tag", "other"])),
            context=SpanContext(draw(st.integers(1, (1 << 128) - 1)), i + 1, False),
            parent=SpanContext(7, 99, False) if parent else None,
            resource=Resource({"service.name": service}), attributes=draw(span_attrs),
            events=[Event(n, a, timestamp=T0 + t) for n, a, t in draw(events)],
            kind=draw(st.sampled_from(list(SpanKind))), status=status,
            start_time=T0, end_time=draw(st.sampled_from([T0 + 5, T0 + 6, None])),
            instrumentation_scope=scope))
    return out


def summary(batch: Any) -> str:
    # repr: NaN arguments compare unequal to themselves
    return repr((batch.events, batch.spans, batch.unmatched, batch.rejected, batch.causes,
                 batch.error))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sdk_spans())
def test_sdk_spans_map_as_their_otlp_encoding_does(spans):
    assert summary(MAPPER.map_request(sdk_request(spans), "o")) == summary(
        MAPPER.map_request(encode_spans(spans), "o"))


def test_the_views_group_spans_by_resource_and_scope_like_the_encoder():
    scope = InstrumentationScope("box-lib")
    spans = [ReadableSpan(name=f"s{i}", context=SpanContext(1, i + 1, False),
                          resource=Resource({"service.name": svc}), start_time=T0,
                          end_time=T0 + 1, instrumentation_scope=sc)
             for i, (svc, sc) in enumerate([("a", scope), ("b", None), ("a", None),
                                            ("a", scope)])]

    def shape(req: Any) -> list[Any]:
        return [[[s.name for s in ss.spans] for ss in rs.scope_spans]
                for rs in req.resource_spans]

    assert shape(sdk_request(spans)) == shape(encode_spans(spans)) == [
        [["s0", "s3"], ["s2"]], [["s1"]]]


def test_payment_spans_map_to_the_same_events_as_their_encoding():
    specs = [s for i, kw in enumerate([{}, {"void": True}, {"refunds": [30, 40]},
                                       {"amount": "12", "capture": 2**70}])
             for s in payment(f"p{i}", T0 + i * SECOND, **kw)]
    spans = record(specs)
    mapper = load_specdir(PAYMENT).mapping.spans
    batch = mapper.map_request(sdk_request(spans), "o")
    # the 2**70 capture amount: the encoder drops the attribute, so it is missing
    assert (len(batch.events), batch.causes) == (9, {"missing_arg": 1})
    assert summary(batch) == summary(mapper.map_request(encode_spans(spans), "o"))
