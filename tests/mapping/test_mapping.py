"""mapping.yaml: validation errors name the file and the field path; records map to
the right action with converted arguments; bad records raise RecordError only."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import MappingError, RecordError, Spec, action
from monitor.mapping import load_mapping
from monitor.spec import model_of


class Shop(Spec):
    n: int = 0

    @action
    def add(self, sku: str, qty: int, price: float = 1.0):
        self.n += qty

    @action
    def flag(self, on: bool):
        pass

    @action(hidden=True)
    def tick(self):
        pass

    @action
    def tag(self, labels):
        pass


MODEL = model_of(Shop)

BASE = """
events:
  key: subject
  rules:
    - when: {type: add}
      action: add
      args: {sku: data.sku, qty: data.qty}
    - when: {type: [flag, flag2], data.kind: x}
      action: flag
      args: {on: data.on}
    - when: {type: flag}
      action: tag
      args: {labels: data.labels}
    - when: {source: legacy}
      action: add
      args: {sku: {const: LEGACY}, qty: data.qty}
"""


def mapper(text: str = BASE):
    return load_mapping(text, filename="m.yaml", model=MODEL).events


def raw(**fields) -> bytes:
    doc = {"id": "e1", "subject": "s1", "time": "2026-11-01T10:00:00Z"}
    doc.update(fields)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("text,message", [
    ("events:\n  rules:\n    - action: nope\n",
     r"m\.yaml: \$\.events\.rules\[0\]\.action: unknown action 'nope'; Shop has: add, flag, tag"),
    ("events:\n  rules:\n    - action: tick\n",
     r"m\.yaml: \$\.events\.rules\[0\]\.action: 'tick' is a hidden action"),
    ("events:\n  rules:\n    - action: flag\n      args: {onn: x}\n",
     r"m\.yaml: \$\.events\.rules\[0\]\.args\.onn: Shop\.flag has no parameter 'onn'"),
    ("events:\n  rules:\n    - action: flag\n",
     r"m\.yaml: \$\.events\.rules\[0\]\.args: parameter 'on' of Shop\.flag is not mapped"),
    ("events:\n  rules:\n    - acton: flag\n",
     r"m\.yaml: Object contains unknown field `acton` - at `\$\.events\.rules\[0\]`"),
    ("events:\n  time_unit: h\n  rules:\n    - action: tag\n      args: {labels: a}\n",
     r"m\.yaml: Expected `str` matching .*- at `\$\.events\.time_unit`|m\.yaml: Invalid enum"),
    ("events:\n  rules: []\n", r"m\.yaml: \$\.events\.rules: no rules"),
    ("events:\n  key: 'a..b'\n  rules:\n    - action: tag\n      args: {labels: a}\n",
     r"m\.yaml: \$\.events\.key: empty path segment"),
    ("events: [\n", r"m\.yaml: line \d+, column \d+: not valid YAML"),
    ("spans: {}\n", r"m\.yaml: Object missing required field `rules` - at `\$\.spans`"),
    ("spanz: {}\n", r"m\.yaml: Object contains unknown field `spanz`"),
    ("{}\n", r"m\.yaml: no source section"),
])
def test_invalid_mappings_are_rejected_with_file_and_path(text, message):
    with pytest.raises(MappingError, match=message):
        mapper(text)


def test_dispatch_takes_the_first_matching_rule_in_file_order():
    m = mapper()
    add = m.map_bytes(raw(type="add", data={"sku": "A", "qty": "3"}), "o")
    assert (add.key, add.action, add.args, add.id, add.origin) == ("s1", "add", ("A", 3, 1.0),
                                                                   "e1", "o")
    flag = m.map_bytes(raw(type="flag2", data={"kind": "x", "on": "true"}), None)
    assert (flag.action, flag.args) == ("flag", (True,))
    # kind differs: the flag rule does not hold, the next rule for type=flag does
    tag = m.map_bytes(raw(type="flag", data={"kind": "y", "labels": ["a", "b"]}), None)
    assert (tag.action, tag.args) == ("tag", (("a", "b"),))
    legacy = m.map_bytes(raw(type="other", source="legacy", data={"qty": 2}), None)
    assert (legacy.action, legacy.args) == ("add", ("LEGACY", 2, 1.0))
    assert m.map_bytes(raw(type="other"), None) is None


def test_times_accept_offsets_naive_utc_and_numbers_in_the_unit():
    m = mapper()
    t = lambda s: m.map_bytes(raw(type="add", time=s, data={"sku": "a", "qty": 1}), None).time  # noqa: E731
    assert t("2026-11-01T10:00:00Z") == t("2026-11-01T11:00:00+01:00") == t("2026-11-01T10:00:00")
    assert t(1_793_527_200) == 1_793_527_200.0
    ms = mapper(BASE.replace("  key: subject\n", "  key: subject\n  time_unit: ms\n"))
    ev = ms.map_bytes(raw(type="add", time=1_793_527_200_500, data={"sku": "a", "qty": 1}), None)
    assert ev.time == 1_793_527_200.5


def test_composite_and_const_keys():
    comp = mapper(BASE.replace("key: subject", "key: [subject, data.sku]"))
    assert comp.map_bytes(raw(type="add", data={"sku": "A", "qty": 1}), None).key == "s1/A"
    const = mapper(BASE.replace("key: subject", "key: {const: global}"))
    assert const.map_bytes(raw(type="add", data={"sku": "A", "qty": 1}), None).key == "global"


@pytest.mark.parametrize("fields,cause,message", [
    ({"type": "add", "data": {"sku": "a", "qty": "many"}}, "bad_arg",
     r"\$\.data\.qty: expected int, got 'many' \(add\.qty\)"),
    ({"type": "add", "data": {"sku": "a", "qty": True}}, "bad_arg", r"expected int, got True"),
    ({"type": "add", "data": {"sku": "a"}}, "missing_arg", r"\$\.data\.qty: missing"),
    ({"type": "add", "data": "oops"}, "malformed",
     r"\$\.data: expected an object, got 'oops' \(reading \$\.data\.sku for add\.sku\)"),
    ({"type": "add", "subject": None, "data": {"sku": "a", "qty": 1}}, "missing_key",
     r"\$\.subject: no key"),
    ({"type": "add", "subject": 1.5, "data": {"sku": "a", "qty": 1}}, "bad_key",
     r"expected a string or integer key"),
    ({"type": "add", "time": "yesterday", "data": {"sku": "a", "qty": 1}}, "bad_time",
     r"RFC3339|RFC 3339"),
    ({"type": "add", "time": None, "data": {"sku": "a", "qty": 1}}, "missing_time",
     r"\$\.time: no event time"),
    ({"type": "flag", "data": {"kind": "x", "on": "maybe"}}, "bad_arg", r"expected bool"),
    ({"type": "flag", "data": {"labels": {"a": 1}}}, "bad_arg", r"must be hashable"),
])
def test_unusable_records_raise_a_record_error_with_cause_and_path(fields, cause, message):
    with pytest.raises(RecordError, match=message) as info:
        mapper().map_bytes(raw(**fields), None)
    assert info.value.cause == cause


def test_not_json_is_malformed():
    with pytest.raises(RecordError, match="not JSON") as info:
        mapper().map_bytes(b"{nope", None)
    assert info.value.cause == "malformed"


def test_map_obj_and_map_bytes_agree_and_route_gives_the_same_key():
    m = mapper()
    doc = {"id": 7, "subject": 42, "time": 5, "type": "add", "data": {"sku": "A", "qty": 2.0}}
    a = m.map_bytes(json.dumps(doc).encode(), None)
    b = m.map_obj(doc, None)
    assert (a.key, a.time, a.action, a.args, a.id) == (b.key, b.time, b.action, b.args, b.id)
    assert a.key == "42" and a.id == "7" and a.args == ("A", 2, 1.0)
    assert m.route_bytes(json.dumps(doc).encode()) == a.key
    assert m.route_bytes(b"{broken") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "subject", "time", "type", "source", "data"]),
                       json_values | st.sampled_from(["add", "flag", "legacy"])),
       st.dictionaries(st.sampled_from(["sku", "qty", "on", "kind", "labels"]), json_values))
def test_any_json_record_maps_to_an_event_none_or_a_record_error(doc, data):
    if data:
        doc["data"] = data
    m = mapper()
    for encoded in (json.dumps(doc).encode(), json.dumps(doc).encode()[:-3]):
        try:
            ev = m.map_bytes(encoded, None)
        except RecordError as exc:
            assert exc.cause in {"malformed", "missing_key", "bad_key", "missing_time",
                                 "bad_time", "missing_arg", "bad_arg", "bad_id"}
        else:
            assert ev is None or isinstance(ev.key, str) and isinstance(ev.time, float)
