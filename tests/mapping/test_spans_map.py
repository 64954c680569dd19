"""``SpanMapper.map_request`` on requests made by the real OpenTelemetry SDK: selection,
keys, times, ids, arguments, span events, and spans that cannot be used."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from monitor import MappingError, Spec, action
from monitor.mapping import SpanBatch, load_mapping
from monitor.mapping.paths import MISSING
from monitor.mapping.span_read import attr_lookup
from monitor.pipeline import Pipeline
from monitor.spec import model_of
from monitor.specdir import load_specdir
from tests.otlp import PAYMENT, SECOND, SHIPPING, T0, SpanSpec, payment, record, request


class Box(Spec):
    items: int = 0

    @action
    def put(self, item: str, n: int, price: float = 0.0, fragile: bool = False):
        self.items += n

    @action
    def tag(self, labels):
        pass

    @action
    def close(self):
        pass


MODEL = model_of(Box)


def mapper(body: str, head: str = "  key: box.id\n"):
    return load_mapping(f"spans:\n{head}  rules:\n{body}", filename="box.yaml",
                        model=MODEL).spans


def span(name: str = "put", attrs: dict[str, Any] | None = None, **kw: Any) -> SpanSpec:
    attrs = {"box.id": "b1", "item": "apple", "n": 2} if attrs is None else attrs
    return SpanSpec(name, attrs, kw.pop("start", T0), kw.pop("end", T0 + SECOND), **kw)


PUT = "    - {when: {name: put}, action: put, args: {item: item, n: n}}\n"


def mapped(m, *specs: SpanSpec, **kw: Any) -> SpanBatch:
    return m.map_request(request(specs, **kw), "origin")


def test_a_span_maps_to_its_action_with_key_end_time_span_id_and_trace_ids():
    (sdk_span,) = spans = record([span()])
    batch = mapper(PUT).map_request(encode_spans(spans), "origin")
    (ev,) = batch.events
    sid, tid = format_span_id(sdk_span.context.span_id), format_trace_id(sdk_span.context.trace_id)
    assert (ev.key, ev.time, ev.action, ev.args) == ("b1", (T0 + SECOND) / 1e9, "put",
                                                     ("apple", 2, 0.0, False))
    assert (ev.id, ev.trace_id, ev.span_id, ev.origin) == (sid, tid, sid, "origin")
    assert ev.record == {"span": "put"}
    assert (batch.spans, batch.unmatched, batch.rejected, batch.error) == (1, 0, 0, None)


def test_time_is_the_span_start_when_the_section_or_the_rule_says_so():
    m = mapper(PUT, head="  key: box.id\n  time: start\n")
    assert mapped(m, span()).events[0].time == T0 / 1e9
    m = mapper("    - {when: {name: put}, action: put, args: {item: item, n: n}, time: start}\n")
    assert mapped(m, span()).events[0].time == T0 / 1e9


@pytest.mark.parametrize("when, matching, other", [
    ("{name: put, kind: [server, consumer]}", {"kind": SpanKind.CONSUMER},
     {"kind": SpanKind.CLIENT}),
    ("{name: put, status: error}", {"status": StatusCode.ERROR}, {"status": StatusCode.OK}),
    ("{name: put, status: unset}", {}, {"status": StatusCode.OK}),
    ("{name: put, attributes: {box.size: [1, 2]}}", {"attrs": {"box.size": 2.0}},
     {"attrs": {"box.size": 3}}),
    ("{name: put, attributes: {box.open: true}}", {"attrs": {"box.open": True}},
     {"attrs": {"box.open": 1}}),
    ("{name: put, attributes: {box.size: 1}}", {"attrs": {"box.size": 1}},
     {"attrs": {"box.size": True}}),
    ("{name: put, attributes: {box.size: 1}}", {"attrs": {"box.size": 1}},
     {"attrs": {"box.size": [1]}}),
    ("{attributes: {box.colour: red}}", {"attrs": {"box.colour": "red"}}, {"attrs": {}}),
])
def test_conditions_on_kind_status_and_attributes_select_spans(when, matching, other):
    m = mapper(f"    - {{when: {when}, action: close}}\n")
    base = {"box.id": "b1"}
    for kw, expected in ((matching, 1), (other, 0)):
        kw = dict(kw)
        attrs = {**base, **kw.pop("attrs", {})}
        batch = mapped(m, span(attrs=attrs, **kw))
        assert (len(batch.events), batch.unmatched) == (expected, 1 - expected), kw


def test_resource_attributes_and_the_scope_name_select_spans():
    m = mapper("    - {when: {resource: {service.name: boxes}, scope: box-lib}, action: close}\n")
    assert len(mapped(m, span(), service="boxes", scope="box-lib").events) == 1
    assert mapped(m, span(), service="crates", scope="box-lib").unmatched == 1
    assert mapped(m, span(), service="boxes", scope="crate-lib").unmatched == 1


def test_the_first_matching_rule_wins_in_file_order():
    m = mapper("    - {when: {name: put, status: error}, action: close}\n" + PUT)
    assert [e.action for e in mapped(m, span(status=StatusCode.ERROR), span()).events] == [
        "close", "put"]


def test_a_composite_key_joins_resource_and_span_attributes_and_constants():
    m = mapper("    - {when: {name: put}, action: close}\n",
               head="  key: [{resource: service.name}, box.id, {const: x}, box.n]\n")
    ev = mapped(m, span(attrs={"box.id": "b1", "box.n": 7}), service="boxes").events[0]
    assert ev.key == "boxes/b1/x/7"


@pytest.mark.parametrize("source, expected", [
    ("{field: name}", "put"), ("{field: kind}", "server"), ("{field: status}", "error"),
    ("{field: scope}", "box-lib"), ("{field: status_message}", ""),
    ("{attribute: box.id}", "b1"), ("{const: [1, 2]}", (1, 2)),
])
def test_arguments_come_from_span_fields_attributes_and_constants(source, expected):
    m = mapper(f"    - {{when: {{name: put}}, action: tag, args: {{labels: {source}}}}}\n")
    batch = mapped(m, span(kind=SpanKind.SERVER, status=StatusCode.ERROR), scope="box-lib")
    assert batch.events[0].args == (expected,)


def test_trace_and_span_id_fields_are_lowercase_hex():
    m = mapper("    - {when: {name: put}, action: tag, args: {labels: {field: trace_id}}}\n",
               head="  key: {field: span_id}\n")
    (s,) = spans = record([span()])
    ev = m.map_request(encode_spans(spans)).events[0]
    assert ev.args == (format_trace_id(s.context.trace_id),)
    assert ev.key == format_span_id(s.context.span_id)


@pytest.mark.parametrize("value, expected", [
    ("3", 3), (3.0, 3), (-4, -4),
])
def test_attribute_values_convert_to_the_parameter_type(value, expected):
    batch = mapped(mapper(PUT), span(attrs={"box.id": "b1", "item": 5, "n": value}))
    assert batch.events[0].args == ("5", expected, 0.0, False)


def test_array_attributes_become_tuples_for_untyped_parameters():
    m = mapper("    - {when: {name: put}, action: tag, args: {labels: box.labels}}\n")
    batch = mapped(m, span(attrs={"box.id": "b1", "box.labels": ["a", "b"]}))
    assert batch.events[0].args == (("a", "b"),)


def test_span_events_are_actions_of_their_own_with_event_time_and_indexed_ids():
    m = mapper(PUT + "    - {when: {event: tagged}, action: tag, args: {labels: {event: l}}}\n")
    s = span(events=[("noise", {}, T0 + 1), ("tagged", {"l": "x"}, T0 + 2),
                     ("tagged", {"l": "y"}, T0 + 3)])
    (sdk_span,) = spans = record([s])
    sid = format_span_id(sdk_span.context.span_id)
    batch = m.map_request(encode_spans(spans))
    assert [(e.action, e.args, e.time, e.id, e.record) for e in batch.events] == [
        ("tag", ("x",), (T0 + 2) / 1e9, f"{sid}/1", {"span": "put", "event": "tagged"}),
        ("tag", ("y",), (T0 + 3) / 1e9, f"{sid}/2", {"span": "put", "event": "tagged"}),
        ("put", ("apple", 2, 0.0, False), (T0 + SECOND) / 1e9, sid, {"span": "put"}),
    ]
    assert all(e.span_id == sid for e in batch.events)
    assert (batch.spans, batch.unmatched) == (1, 0)


def test_span_event_rules_test_the_enclosing_span_and_the_event_attributes():
    m = mapper("    - {when: {event: tagged, name: put, event_attributes: {l: x}}, "
               "action: close}\n")
    events = [("tagged", {"l": "x"}, T0 + 1), ("tagged", {"l": "y"}, T0 + 2)]
    assert len(mapped(m, span(events=events)).events) == 1
    assert mapped(m, span(name="take", events=events)).unmatched == 1


def test_a_span_with_only_unmatched_events_is_unmatched_once():
    m = mapper("    - {when: {event: tagged}, action: close}\n")
    batch = mapped(m, span(events=[("a", {}, T0 + 1), ("b", {}, T0 + 2)]), span(name="x"))
    assert (batch.spans, batch.unmatched, batch.events) == (2, 2, [])


def test_ids_can_be_turned_off_or_read_from_an_attribute():
    assert mapped(mapper(PUT, head="  key: box.id\n  id: null\n"), span()).events[0].id is None
    m = mapper(PUT, head="  key: box.id\n  id: op.id\n")
    assert mapped(m, span(attrs={"box.id": "b", "item": "i", "n": 1, "op.id": 9})).events[0].id == "9"


@pytest.mark.parametrize("attrs, cause, message", [
    ({"item": "i", "n": 1}, "missing_key",
     "span 'put' (span_id {sid}): attributes['box.id']: no key (absent or null)"),
    ({"box.id": 1.5, "item": "i", "n": 1}, "bad_key",
     "span 'put' (span_id {sid}): attributes['box.id']: expected a string or integer key, "
     "got 1.5"),
    ({"box.id": "b", "n": 1}, "missing_arg",
     "span 'put' (span_id {sid}): attributes['item']: missing (put.item: str)"),
    ({"box.id": "b", "item": "i", "n": "abc"}, "bad_arg",
     "span 'put' (span_id {sid}): attributes['n']: expected int, got 'abc' (put.n)"),
    ({"box.id": "b", "item": "i", "n": True}, "bad_arg",
     "span 'put' (span_id {sid}): attributes['n']: expected int, got True (put.n)"),
])
def test_a_matched_span_that_cannot_be_used_is_rejected_with_cause_and_message(
        attrs, cause, message):
    sdk_span, other = spans = record([span(attrs=attrs), span(name="other")])
    batch = mapper(PUT).map_request(encode_spans(spans))
    assert (batch.events, batch.spans, batch.unmatched, batch.rejected) == ([], 2, 1, 1)
    assert batch.causes == {cause: 1}
    sid = format_span_id(sdk_span.context.span_id)
    assert batch.error == message.format(sid=sid)


def test_a_bad_span_event_rejects_its_whole_span_and_the_first_message_is_kept():
    m = mapper(PUT + "    - {when: {event: tagged}, action: put, args: {item: {event: i}, "
               "n: {event: n}}}\n")
    good = span(events=[("tagged", {"i": "a", "n": 1}, T0 + 1)])
    bad = span(events=[("tagged", {"i": "a", "n": 1}, T0 + 1), ("tagged", {"i": "a"}, T0 + 2)])
    worse = span(attrs={"item": "x", "n": 1})
    batch = mapped(m, good, bad, worse)
    assert [e.args[:2] for e in batch.events] == [("a", 1), ("apple", 2)]  # good's two
    assert (batch.spans, batch.rejected, batch.causes) == (3, 2, {"missing_arg": 1,
                                                                 "missing_key": 1})
    assert batch.error.endswith(": event.attributes['n']: missing (put.n: int)")


def test_a_span_without_an_end_time_is_rejected_as_missing_time():
    req = ExportTraceServiceRequest()
    s = req.resource_spans.add().scope_spans.add().spans.add(name="put", span_id=b"\x01" * 8)
    for k, v in {"box.id": "b", "item": "i"}.items():
        s.attributes.add(key=k).value.string_value = v
    s.attributes.add(key="n").value.int_value = 1
    batch = mapper(PUT).map_request(req)
    assert batch.causes == {"missing_time": 1}
    assert batch.error == ("span 'put' (span_id 0101010101010101): end_time_unix_nano: no "
                           "time (zero or absent)")


def test_kvlist_attributes_are_refused_as_arguments():
    req = ExportTraceServiceRequest()
    s = req.resource_spans.add().scope_spans.add().spans.add(
        name="put", span_id=b"\x01" * 8, end_time_unix_nano=T0)
    s.attributes.add(key="box.id").value.string_value = "b"
    kv = s.attributes.add(key="box.labels").value.kvlist_value.values.add(key="a")
    kv.value.bool_value = True
    m = mapper("    - {when: {name: put}, action: tag, args: {labels: box.labels}}\n")
    batch = m.map_request(req)
    assert batch.causes == {"bad_arg": 1}
    assert "expected a scalar or a list, got an object {'a': True}" in batch.error


def test_the_pipeline_counts_spans_as_records_and_applies_the_mapped_events():
    bad: list[tuple[str, Any, str]] = []
    pipe = Pipeline(load_specdir(PAYMENT), on_bad=lambda *a: bad.append(a))
    req = request(payment("p1", T0, refunds=[50]) + payment("p2", T0, amount="x")
                  + payment("p3", T0, void=True, refunds=[10]))
    batch = pipe.map_spans(req, "o")
    assert [(e.key, e.action) for e in batch.events] == [
        ("p1", "authorize"), ("p1", "capture"), ("p1", "refund"), ("p2", "capture"),
        ("p3", "authorize"), ("p3", "void"), ("p3", "refund")]
    reports = pipe.apply(batch.events) + pipe.engine.flush()
    assert [(r.key, r.kind, r.property) for r in reports] == [("p3", "unexpected", "refund")]
    assert pipe.records == 8 and pipe.unmatched == 0 and pipe.invalid == {"bad_arg": 1}
    assert [(c, o) for c, o, _ in bad] == [("bad_arg", "o")]
    assert pipe.outcomes()["mapped"] == 7


def test_json_records_need_an_events_section():
    pipe = Pipeline(load_specdir(SHIPPING))
    with pytest.raises(MappingError, match=r"no `events:` section, so JSON records cannot be "
                                        r"mapped; add one \(see docs/mapping\.md\)$"):
        pipe.feed_json(b"{}", None)


@given(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=8, unique=True),
       st.randoms(use_true_random=False))
def test_attribute_lookups_find_every_key_whatever_the_order_of_attributes(keys, rnd):
    looks = {k: attr_lookup(k, "string_value") for k in "abcdefgh"}
    for _round in range(3):
        rnd.shuffle(keys)
        attrs = [KeyValue(key=k, value=AnyValue(string_value=f"v-{k}")) for k in keys]
        for k, look in looks.items():
            assert look(attrs) == (f"v-{k}" if k in keys else MISSING)


def test_span_events_are_read_only_in_the_spans_their_rules_name():
    m = mapper("    - {when: {event: tagged, name: put}, action: close}\n")
    assert m._event_spans == frozenset({"put"})
    events = [("tagged", {}, T0 + 1)]
    batch = mapped(m, span(events=events), span(name="take", events=events))
    assert (len(batch.events), batch.unmatched) == (1, 1)
    assert mapper("    - {when: {event: tagged}, action: close}\n")._event_spans is None


def test_each_resource_of_a_request_selects_its_own_spans():
    m = mapper("    - {when: {name: put, resource: {service.name: boxes}}, action: close}\n",
               head="  key: [{resource: service.name}, box.id]\n")
    req = request([span()], service="crates")
    req.resource_spans.extend(request([span(), span()], service="boxes").resource_spans)
    req.resource_spans.extend(request([span()], service="crates").resource_spans)
    batch = m.map_request(req)
    assert [e.key for e in batch.events] == ["boxes/b1", "boxes/b1"]
    assert (batch.spans, batch.unmatched) == (4, 2)


def test_an_array_attribute_nested_deeper_than_python_recurses_rejects_its_span():
    import sys

    from monitor.sources.otlp_json import decode_otlp_view

    deep = b'{"stringValue": "x"}'
    for _ in range(200):
        deep = b'{"arrayValue": {"values": [' + deep + b"]}}"
    body = (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"put","endTimeUnixNano":5,'
            b'"attributes":[{"key":"box.id","value":{"stringValue":"b"}},{"key":"box.labels",'
            b'"value":' + deep + b"}]}]}]}]}")
    req = decode_otlp_view(body)
    m = mapper("    - {when: {name: put}, action: tag, args: {labels: box.labels}}\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # any_value recurses once per level: 200 levels do not fit
    try:
        batch = m.map_request(req)
    finally:
        sys.setrecursionlimit(limit)
    assert (batch.rejected, batch.causes) == (1, {"bad_arg": 1})
    assert batch.error.endswith("an attribute value is nested too deeply")


class _Spy:
    """A span that records which of its fields the mapper reads."""

    def __init__(self, span: Any, seen: set[str]) -> None:
        self._span, self._seen = span, seen

    def __getattr__(self, name: str) -> Any:
        self._seen.add(name)
        return getattr(self._span, name)


def test_the_mapper_reads_only_the_fields_its_rules_need():
    from types import SimpleNamespace as NS

    req = request(payment("p1", T0, refunds=[5]))
    seen: set[str] = set()
    spies = [_Spy(s, seen) for s in req.resource_spans[0].scope_spans[0].spans]
    fake = NS(resource_spans=[NS(resource=None, scope_spans=[NS(scope=None, spans=spies)])])
    mapper_ = load_specdir(PAYMENT).mapping.spans
    batch = mapper_.map_request(fake)
    assert [e.action for e in batch.events] == ["authorize", "capture", "refund"]
    # no links, parent ids, start times, flags, trace state, dropped counts: and never
    # the whole span (no ListFields, no conversion to a dict)
    assert seen == {"name", "attributes", "kind", "status", "end_time_unix_nano", "span_id",
                    "trace_id", "events"}
