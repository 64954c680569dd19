"""Loading the ``spans:`` section: every mistake is a MappingError naming the file and
the ``$.spans`` path, and saying what to write instead."""

from __future__ import annotations

import pytest

from monitor import MappingError
from monitor.mapping import Mapping, SpanMapper, load_mapping
from monitor.spec import model_of
from tests.mapping.test_load import Door

MODEL = model_of(Door)


def load(text: str) -> Mapping:
    return load_mapping(text, filename="door.yaml", model=MODEL)


def spans(body: str, head: str = "  key: door.id\n") -> str:
    return f"spans:\n{head}  rules:\n{body}"


PUSH = "    - {when: {name: push}, action: push, args: {force: door.force}}\n"


def test_a_spans_only_mapping_compiles_to_a_span_mapper_and_no_event_mapper():
    m = load(spans(PUSH))
    assert isinstance(m.spans, SpanMapper)
    assert m.events is None


def test_a_mapping_may_have_both_sections():
    m = load("events:\n  rules:\n    - {when: {type: slam}, action: slam}\n" + spans(PUSH))
    assert m.events is not None and m.spans is not None


def test_rules_dispatch_on_span_name_and_span_event_name_through_dicts():
    section = load(spans(PUSH + "    - {when: {name: [bang, slam]}, action: slam}\n"
                         "    - {when: {event: slammed}, action: slam}\n"
                         "    - {when: {kind: server}, action: slam}\n")).spans.section
    assert sorted(section.by_name) == ["bang", "push", "slam"]
    assert [r.index for r in section.by_name["push"]] == [0, 3]  # + the nameless rule
    assert [r.index for r in section.any_name] == [3]
    assert list(section.by_event) == ["slammed"]
    assert section.by_name["push"][0].conds == ()  # the name condition is the dict lookup


@pytest.mark.parametrize("body, head, message", [
    ("    - {when: {name: push}, action: open}\n", None,
     r"\$\.spans\.rules\[0\]\.action: unknown action 'open'; Door has: push, slam$"),
    ("    - {when: {name: push}, action: drift}\n", None,
     r"\$\.spans\.rules\[0\]\.action: 'drift' is a hidden action, which the monitor never "
     r"observes \(it infers it\); map one of: push, slam$"),
    ("    - {when: {name: push}, action: push, args: {force: f, forse: g}}\n", None,
     r"\$\.spans\.rules\[0\]\.args\.forse: Door\.push has no parameter 'forse'; its "
     r"parameters are \(force, who\)$"),
    ("    - {when: {name: push}, action: push}\n", None,
     r"\$\.spans\.rules\[0\]\.args: parameter 'force' of Door\.push is not mapped; add "
     r"`force: <attribute key>` or `force: \{const: \.\.\.\}`$"),
    ("    - {when: {name: push}, action: push, args: {force: {const: abc}}}\n", None,
     r"\$\.spans\.rules\[0\]\.args\.force: expected int, got 'abc' \(Door\.push\.force\)$"),
    ("    - {when: {kind: serverr}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.kind: unknown span kind 'serverr'; one of: unspecified, "
     r"internal, server, client, producer, consumer$"),
    ("    - {when: {status: [ok, failed]}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.status: unknown status code 'failed'; one of: unset, ok, "
     r"error$"),
    ("    - {when: {name: []}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.name: an empty list matches nothing"),
    ("    - {when: {attributes: {door.color: {a: 1}}}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.attributes\['door\.color'\]: expected a string, number or "
     r"true/false, or a list of them, got \{'a': 1\}$"),
    ("    - {when: {resource: {service.name: []}}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.resource\['service\.name'\]: an empty list matches"),
    ("    - {when: {name: push, event_attributes: {a: 1}}, action: slam}\n", None,
     r"\$\.spans\.rules\[0\]\.when\.event_attributes: conditions on a span event's attributes "
     r"need `event:` \(the span event's name\) in the same `when`$"),
    ("    - {when: {name: push}, action: push, args: {force: {event: f}}}\n", None,
     r"\$\.spans\.rules\[0\]\.args\.force: \{event: f\} reads a span event, but this rule has "
     r"no `when\.event`$"),
    ("    - {when: {name: push}, action: push, args: {force: {field: colour}}}\n", None,
     r"\$\.spans\.rules\[0\]\.args\.force: unknown span field 'colour'; one of: name, "
     r"trace_id, span_id, parent_span_id, kind, status, status_message, scope, event_name$"),
    ("    - {when: {name: push}, action: push, args: {force: {resource: a, const: 1}}}\n",
     None, r"\$\.spans\.rules\[0\]\.args\.force: give exactly one of \{event: k\}, "
     r"\{resource: k\}, \{field: f\}, \{attribute: k\}, \{const: x\}; got 2$"),
    ("    - {when: {name: push}, action: push, args: {force: ''}}\n", None,
     r"\$\.spans\.rules\[0\]\.args\.force: an empty attribute key; write e\.g\. payment\.id$"),
    ("    - {when: {name: slam}, action: slam}\n", "",
     r"\$\.spans\.rules\[0\]\.key: no key; set `key:` on the section or on this rule$"),
    ("    - {when: {name: slam}, action: slam}\n", "  key: []\n",
     r"\$\.spans\.key: an empty list; give a source, a list of sources, or \{const: x\}$"),
    ("    - {when: {name: slam}, action: slam}\n", "  key: {const: 1.5}\n",
     r"\$\.spans\.key: expected a string or integer key, got 1\.5 in \{const: \.\.\.\}$"),
    ("    - {when: {name: slam}, action: slam}\n", "  key: {event: door.id}\n",
     r"\$\.spans\.key: reads a span event \(\{event: \.\.\.\} or \{field: event_name\}\), but "
     r"rules\[0\] has no `when\.event`; give it its own `key:`$"),
    ("    - {when: {name: slam}, action: slam, time: event}\n", None,
     r"\$\.spans\.rules\[0\]\.time: `event` is the time of a span event, but this rule has no "
     r"`when\.event`; use end or start$"),
    ("    - {when: {name: slam}, action: slam}\n    - {when: {name: slam, kind: server}, "
     "action: slam}\n", None,
     r"\$\.spans\.rules\[1\]: unreachable: rules\[0\] comes first and matches every span this "
     r"rule matches \(first match wins\); move this rule up or narrow its `when`$"),
    ("", None, r"\$\.spans\.rules: no rules; map at least one action"),
])
def test_mistakes_in_the_spans_section_name_the_file_and_path(body, head, message):
    text = spans(body) if head is None else spans(body, head)
    if not body:
        text = "spans:\n  key: door.id\n  rules: []\n"
    with pytest.raises(MappingError, match=r"^door\.yaml: " + message):
        load(text)


@pytest.mark.parametrize("text, message", [
    ("spans:\n  key: k\n  rules:\n    - {whne: {name: a}, action: slam}\n",
     r"Object contains unknown field `whne` - at `\$\.spans\.rules\[0\]`$"),
    ("spans:\n  key: k\n  rules:\n    - {when: {nmae: a}, action: slam}\n",
     r"Object contains unknown field `nmae` - at `\$\.spans\.rules\[0\]\.when`$"),
    ("spans:\n  key: k\n  time: middle\n  rules:\n    - {action: slam}\n",
     r"Invalid enum value 'middle' - at `\$\.spans\.time`$"),
    ("spans:\n  key: {resourse: a}\n  rules:\n    - {action: slam}\n",
     r"Object contains unknown field `resourse` - at `\$\.spans\.key`$"),
])
def test_shape_errors_in_the_spans_section_carry_msgspecs_path(text, message):
    with pytest.raises(MappingError, match=r"^door\.yaml: " + message):
        load(text)


def test_a_rule_of_spans_never_shadows_a_rule_of_span_events():
    load(spans("    - {when: {}, action: slam}\n    - {when: {event: x}, action: slam}\n"))


@pytest.mark.parametrize("head, field", [
    ("  key: {field: event_name}\n", "key"),
    ("  key: door.id\n  id: {event: op}\n", "id"),
])
def test_a_section_key_or_id_that_reads_span_events_needs_event_rules_or_overrides(head, field):
    with pytest.raises(MappingError, match=rf"^door\.yaml: \$\.spans\.{field}: reads a span "
                                           r"event \(\{event: \.\.\.\} or \{field: event_name\}\), "
                                           r"but rules\[0\] has no `when\.event`; give it its "
                                           rf"own `{field}:`$"):
        load(spans("    - {when: {name: slam}, action: slam}\n", head=head))
    load(spans("    - {when: {event: slammed}, action: slam}\n", head=head))
