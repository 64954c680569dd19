"""Loading mapping.yaml: every mistake is a MappingError naming the file and the field
path (and saying what to write instead); the YAML is read as YAML 1.2 scalars."""

from __future__ import annotations

import pytest

from monitor import MappingError, Spec, action
from monitor.mapping import EventMapper, Mapping, load_mapping
from monitor.spec import model_of


class Door(Spec):
    open: bool = False

    @action
    def push(self, force: int, who: str = "anyone"):
        self.open = True

    @action
    def slam(self):
        self.open = False

    @action(hidden=True)
    def drift(self):
        pass


MODEL = model_of(Door)


def load(text: str) -> Mapping:
    return load_mapping(text, filename="door.yaml", model=MODEL)


def rules(body: str, head: str = "") -> str:
    return f"events:\n{head}  rules:\n{body}"


PUSH = "    - {when: {type: push}, action: push, args: {force: data.force}}\n"


def test_the_public_api_of_the_mapping_package_is_pinned():
    import monitor.mapping

    assert monitor.mapping.__all__ == ["EventMapper", "Mapping", "SpanBatch", "SpanMapper",
                                       "load_mapping"]


def test_a_valid_mapping_compiles_to_an_event_mapper_and_names_no_class_by_default():
    m = load(rules(PUSH))
    assert isinstance(m.events, EventMapper)
    assert m.spec_class is None


def test_the_spec_class_is_taken_from_the_top_level_spec_field():
    assert load("spec: Door\n" + rules(PUSH)).spec_class == "Door"


@pytest.mark.parametrize("body,message", [
    ("    - {action: open}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.action: unknown action 'open'; Door has: push, slam$"),
    ("    - {action: drift}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.action: 'drift' is a hidden action, which the "
     r"monitor never observes \(it infers it\); map one of: push, slam$"),
    ("    - {action: push, args: {force: f, power: p}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args\.power: Door\.push has no parameter "
     r"'power'; its parameters are \(force, who\)$"),
    ("    - {action: push}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args: parameter 'force' of Door\.push is not "
     r"mapped; add `force: <path>` or `force: \{const: \.\.\.\}`$"),
    ("    - {action: push, args: {force: ''}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args\.force: empty path ''"),
    ("    - {action: push, args: {force: data..force}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args\.force: empty path segment in 'data\.\.force'"),
    ("    - {action: push, args: {force: []}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args\.force: empty path \[\]"),
    ("    - {action: push, args: {force: {const: lots}}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.args\.force: expected int, got 'lots' "
     r"\(Door\.push\.force\)$"),
    ("    - {when: {type: []}, action: slam}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.when\.type: an empty list matches nothing"),
    ("    - {action: slam, key: []}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.key: an empty list"),
    ("    - {action: slam, key: {const: 1.5}}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.key: expected a string or integer key, got 1\.5"),
    ("    - {action: slam, time: ''}\n",
     r"^door\.yaml: \$\.events\.rules\[0\]\.time: empty path"),
])
def test_a_bad_rule_is_rejected_with_file_and_path(body, message):
    with pytest.raises(MappingError, match=message):
        load(rules(body))


@pytest.mark.parametrize("head,message", [
    ("  time_unit: h\n", r"^door\.yaml: Invalid enum value 'h' - at `\$\.events\.time_unit`$"),
    ("  key: ''\n", r"^door\.yaml: \$\.events\.key: empty path ''"),
    ("  key: [subject, '']\n", r"^door\.yaml: \$\.events\.key\[1\]: empty path ''"),
    ("  time: a.\n", r"^door\.yaml: \$\.events\.time: empty path segment in 'a\.'"),
    ("  id: .x\n", r"^door\.yaml: \$\.events\.id: empty path segment"),
    ("  trace_id: ''\n", r"^door\.yaml: \$\.events\.trace_id: empty path"),
    ("  key: 5\n", r"^door\.yaml: Expected `str \| object \| array`, got `int` - at "
                   r"`\$\.events\.key`$"),
    ("  tiem: t\n", r"^door\.yaml: Object contains unknown field `tiem` - at `\$\.events`$"),
])
def test_a_bad_section_field_is_rejected_with_file_and_path(head, message):
    with pytest.raises(MappingError, match=message):
        load(rules(PUSH, head))


def test_an_unknown_rule_field_is_rejected_with_its_path():
    with pytest.raises(MappingError, match=r"^door\.yaml: Object contains unknown field "
                                           r"`arg` - at `\$\.events\.rules\[0\]`$"):
        load(rules("    - {action: slam, arg: {}}\n"))


def test_a_mapping_without_rules_is_rejected():
    with pytest.raises(MappingError, match=r"^door\.yaml: \$\.events\.rules: no rules; map "
                                           r"at least one action"):
        load("events:\n  rules: []\n")
    with pytest.raises(MappingError, match=r"^door\.yaml: Object missing required field "
                                           r"`rules` - at `\$\.events`$"):
        load("events: {}\n")


def test_a_file_without_a_source_section_is_rejected():
    for text in ("", "{}\n", "spec: Door\n"):
        with pytest.raises(MappingError, match=r"^door\.yaml: no source section; add "
                                               r"`events:`"):
            load(text)


def test_a_file_that_is_not_a_mapping_is_rejected():
    with pytest.raises(MappingError, match=r"^door\.yaml: \$: expected a mapping with an "
                                           r"`events:` or `spans:` section, got list$"):
        load("- events\n")


def test_yaml_syntax_errors_name_the_file_line_and_column():
    with pytest.raises(MappingError, match=r"^door\.yaml: line 3, column 1: not valid YAML: "):
        load("events:\n  rules: [\n")


def test_a_duplicate_key_is_rejected_instead_of_silently_keeping_the_last():
    text = rules("    - when: {type: push}\n      action: push\n      args: {force: a}\n"
                 "      args: {force: b}\n")
    with pytest.raises(MappingError, match=r"^door\.yaml: line 6, column 7: not valid YAML: "
                                           r"duplicate key 'args'$"):
        load(text)


def test_yaml_1_1_booleans_and_dates_stay_strings():
    m = load(rules("    - {when: {type: on, day: 2026-11-01}, action: slam}\n")).events
    assert m is not None
    ev = m.map_obj({"type": "on", "day": "2026-11-01", "subject": "d", "time": 0}, None)
    assert ev is not None and ev.action == "slam"


def test_a_when_value_must_be_a_json_scalar_or_a_list_of_them():
    with pytest.raises(MappingError, match=r"^door\.yaml: \$\.events\.rules\[0\]\.when\.type: "
                                           r"expected a JSON scalar \(string, number, "
                                           r"true/false, null\) or a list of them, got "
                                           r"\{'a': 1\}$"):
        load(rules("    - {when: {type: {a: 1}}, action: slam}\n"))
    with pytest.raises(MappingError, match=r"when\.type: expected a JSON scalar .*got \[1\]$"):
        load(rules("    - {when: {type: [a, [1]]}, action: slam}\n"))


def test_a_rule_shadowed_by_an_earlier_one_is_rejected_as_unreachable():
    shadowed = ("    - {when: {type: [push, shove]}, action: slam}\n"
                "    - {when: {type: push, data.kind: hard}, action: slam}\n")
    with pytest.raises(MappingError, match=r"^door\.yaml: \$\.events\.rules\[1\]: unreachable: "
                                           r"rules\[0\] comes first and matches every record"):
        load(rules(shadowed))
    after_catch_all = "    - {action: slam}\n" + PUSH
    with pytest.raises(MappingError, match=r"rules\[1\]: unreachable: rules\[0\]"):
        load(rules(after_catch_all))


def test_a_narrower_rule_before_a_wider_one_is_fine():
    m = load(rules("    - {when: {type: push, data.kind: hard}, action: slam}\n" + PUSH))
    assert m.events is not None


def test_a_parameter_with_a_default_may_be_left_unmapped_and_gets_its_default():
    m = load(rules(PUSH)).events
    assert m is not None
    ev = m.map_obj({"type": "push", "subject": "d", "time": 0, "data": {"force": 3}}, None)
    assert ev is not None and ev.args == (3, "anyone")

