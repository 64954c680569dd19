"""The events section at run time: dispatch, conversions, keys, times, ids, trace ids,
and the records that cannot be used (a RecordError with a cause and the JSON path)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from monitor import RecordError, Spec, action
from monitor.mapping import EventMapper, load_mapping
from monitor.spec import model_of


class Kinds(Spec):
    n: int = 0

    @action
    def ints(self, v: int):
        pass

    @action
    def floats(self, v: float):
        pass

    @action
    def strs(self, v: str):
        pass

    @action
    def bools(self, v: bool):
        pass

    @action
    def anys(self, v):
        pass

    @action
    def maybe(self, v: int | None):
        pass

    @action
    def bare(self):
        pass


MODEL = model_of(Kinds)


def mapper(body: str, head: str = "") -> EventMapper:
    m = load_mapping(f"events:\n{head}  rules:\n{body}", filename="k.yaml", model=MODEL).events
    assert m is not None
    return m


def doc(**fields: Any) -> dict[str, Any]:
    d = {"id": "e1", "subject": "k1", "time": "2026-11-01T10:00:00Z"}
    d.update(fields)
    return d


def both(m: EventMapper, d: dict[str, Any]) -> Any:
    """map_bytes on the encoded document, checked against map_obj on the same one."""
    raw = msgspec.json.encode(d)
    got = m.map_bytes(raw, "origin")
    assert got == m.map_obj(msgspec.json.decode(raw), "origin", raw)
    return got


CONVERSIONS = "".join(f"    - {{when: {{type: {a}}}, action: {a}, args: {{v: v}}}}\n"
                      for a in ("ints", "floats", "strs", "bools", "anys", "maybe"))


# -- dispatch ----------------------------------------------------------------------------

def test_the_first_matching_rule_wins_in_file_order():
    m = mapper("    - {when: {type: t, x: 1}, action: ints, args: {v: x}}\n"
               "    - {when: {type: t}, action: strs, args: {v: x}}\n"
               "    - {when: {x: 2}, action: bare}\n")
    assert both(m, doc(type="t", x=1)).action == "ints"
    assert both(m, doc(type="t", x=2)).action == "strs"  # rule 1 before the undispatched rule 2
    assert both(m, doc(type="u", x=2)).action == "bare"
    assert both(m, doc(type="u", x=3)) is None


def test_a_list_in_when_matches_any_of_its_values():
    m = mapper("    - {when: {type: [a, b]}, action: bare}\n")
    assert both(m, doc(type="a")).action == both(m, doc(type="b")).action == "bare"
    assert both(m, doc(type="c")) is None


def test_rules_that_do_not_constrain_the_dispatch_path_keep_their_place_in_file_order():
    m = mapper("    - {when: {src: legacy}, action: strs, args: {v: {const: first}}}\n"
               "    - {when: {type: a}, action: strs, args: {v: {const: second}}}\n"
               "    - {when: {type: b}, action: strs, args: {v: {const: third}}}\n"
               "    - {action: strs, args: {v: {const: last}}}\n")
    assert both(m, doc(type="a", src="legacy")).args == ("first",)
    assert both(m, doc(type="a")).args == ("second",)
    assert both(m, doc(type="b")).args == ("third",)
    assert both(m, doc(type="zzz")).args == ("last",)
    assert both(m, doc()).args == ("last",)


def test_all_conditions_of_a_rule_must_hold():
    m = mapper("    - {when: {type: a, data.kind: x, data.n: [1, 2]}, action: bare}\n")
    assert both(m, doc(type="a", data={"kind": "x", "n": 2})).action == "bare"
    assert both(m, doc(type="a", data={"kind": "x", "n": 3})) is None
    assert both(m, doc(type="a", data={"kind": "y", "n": 1})) is None
    assert both(m, doc(type="a", data="not an object")) is None  # no match, not an error


def test_json_booleans_are_not_numbers_when_matching_but_integral_floats_are_integers():
    m = mapper("    - {when: {code: 1}, action: strs, args: {v: {const: one}}}\n"
               "    - {when: {code: true}, action: strs, args: {v: {const: yes}}}\n")
    assert both(m, doc(code=1)).args == ("one",)
    assert both(m, doc(code=1.0)).args == ("one",)
    assert both(m, doc(code=True)).args == ("yes",)
    assert both(m, doc(code="1")) is None


def test_dispatch_on_a_nested_path_treats_an_absent_or_null_object_as_no_value():
    m = mapper("    - {when: {data.kind: a}, action: strs, args: {v: {const: a}}}\n"
               "    - {when: {data.kind: [b, c]}, action: strs, args: {v: {const: bc}}}\n"
               "    - {when: {other: 1}, action: bare}\n")
    assert both(m, doc(data={"kind": "c"})).args == ("bc",)
    assert both(m, doc(data={"kind": "a"}, other=1)).args == ("a",)
    assert both(m, doc(data=None, other=1)).action == "bare"
    assert both(m, doc(other=1)).action == "bare"
    assert both(m, doc(data=7, other=1)).action == "bare"  # not an object: no value
    assert both(m, doc(data={"kind": "z"})) is None


def test_an_absent_field_does_not_equal_null():
    m = mapper("    - {when: {parent: null}, action: bare}\n")
    assert both(m, doc(parent=None)).action == "bare"
    assert both(m, doc()) is None


def test_an_array_or_object_at_the_dispatch_path_matches_no_dispatched_rule():
    m = mapper("    - {when: {type: a}, action: bare}\n"
               "    - {when: {x: 1}, action: strs, args: {v: {const: fallback}}}\n")
    assert both(m, doc(type=["a"], x=1)).args == ("fallback",)
    assert both(m, doc(type={"a": 1})) is None


# -- arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind,value,expected", [
    ("ints", 5, 5), ("ints", 5.0, 5), ("ints", "100", 100), ("ints", "-7", -7),
    ("ints", 2**70, 2**70),
    ("floats", 1.5, 1.5), ("floats", 2, 2.0), ("floats", "2.5", 2.5),
    ("strs", "s", "s"), ("strs", 12, "12"),
    ("bools", True, True), ("bools", "false", False),
    ("anys", [1, [2, "x"]], (1, (2, "x"))), ("anys", None, None), ("anys", 1.5, 1.5),
    ("maybe", None, None), ("maybe", "3", 3),
])
def test_arguments_are_converted_to_the_parameter_annotation(kind, value, expected):
    ev = both(mapper(CONVERSIONS), doc(type=kind, v=value))
    assert ev.args == (expected,) and type(ev.args[0]) is type(expected)


@pytest.mark.parametrize("kind,value,message", [
    ("ints", True, r"^\$\.v: expected int, got True \(ints\.v\)$"),
    ("ints", 1.5, r"^\$\.v: expected int, got 1\.5 \(ints\.v\)$"),
    ("ints", "1.0", r"expected int, got '1\.0'"),
    ("ints", " 1", r"expected int, got ' 1'"),
    ("ints", None, r"expected int, got None"),
    ("floats", False, r"^\$\.v: expected a finite float, got False \(floats\.v\)$"),
    ("floats", "nan", r"expected a finite float, got 'nan'"),
    ("floats", 10**400, r"expected a finite float, got 1000"),
    ("strs", 1.5, r"^\$\.v: expected str, got 1\.5 \(strs\.v\)$"),
    ("strs", True, r"expected str, got True"),
    ("bools", 1, r"^\$\.v: expected bool, got 1 \(bools\.v\)$"),
    ("bools", "yes", r"expected bool, got 'yes'"),
    ("anys", {"a": 1}, r"^\$\.v: expected a scalar or a list, got an object \{'a': 1\}"),
    ("anys", [1, {"a": 1}], r"got an object \{'a': 1\}"),
    ("maybe", "x", r"expected int, got 'x'"),
])
def test_an_argument_that_does_not_convert_is_a_bad_arg_naming_path_value_and_parameter(
        kind, value, message):
    with pytest.raises(RecordError, match=message) as info:
        both(mapper(CONVERSIONS), doc(type=kind, v=value))
    assert info.value.cause == "bad_arg"


def test_an_absent_argument_is_a_missing_arg_naming_path_parameter_and_type():
    with pytest.raises(RecordError, match=r"^\$\.data\.v: missing \(ints\.v: int\)$") as info:
        both(mapper("    - {action: ints, args: {v: data.v}}\n"), doc(data={}))
    assert info.value.cause == "missing_arg"


def test_an_object_on_the_way_to_an_argument_that_is_not_an_object_is_malformed():
    m = mapper("    - {action: ints, args: {v: data.v}}\n")
    with pytest.raises(RecordError, match=r"^\$\.data: expected an object, got \[1\] "
                                          r"\(reading \$\.data\.v for ints\.v\)$") as info:
        both(m, doc(data=[1]))
    assert info.value.cause == "malformed"
    with pytest.raises(RecordError, match=r"^\$\.data\.v: missing") as info:
        both(m, doc(data=None))  # null on the way reads as absent
    assert info.value.cause == "missing_arg"


def test_constant_arguments_are_converted_once_when_the_mapping_loads():
    m = mapper("    - {action: ints, args: {v: {const: '42'}}}\n")
    assert both(m, doc()).args == (42,)


def test_a_path_and_its_prefix_can_both_be_read():
    m = mapper("    - {when: {type: a}, action: anys, args: {v: data}}\n"
               "    - {when: {type: b}, action: ints, args: {v: data.n}}\n")
    assert both(m, doc(type="a", data=[1, 2])).args == ((1, 2),)
    assert both(m, doc(type="b", data={"n": 4})).args == (4,)


def test_keys_with_dots_keywords_and_odd_names_are_read_by_segment_lists():
    m = mapper("    - {action: strs, args: {v: [attrs, 'pay.id']}}\n",
               head="  key: [class, 'content-type', f0]\n")
    ev = both(m, doc(attrs={"pay.id": "p1", "pay": {"id": "no"}}, **{
        "class": "c", "content-type": "json", "f0": 0}))
    assert ev.args == ("p1",) and ev.key == "c/json/0"


# -- keys, ids, times, trace ids ---------------------------------------------------------

def test_a_composite_key_joins_its_parts_with_a_slash_and_constants_may_be_parts():
    m = mapper("    - {action: bare}\n", head="  key: [tenant, {const: eu}, n]\n")
    assert both(m, doc(tenant="t", n=3)).key == "t/eu/3"


def test_a_constant_key_puts_every_record_in_one_instance():
    m = mapper("    - {action: bare}\n", head="  key: {const: leader}\n")
    assert both(m, doc(subject=None)).key == "leader"


@pytest.mark.parametrize("subject,cause,message", [
    (None, "missing_key", r"^\$\.subject: no key \(absent or null\)$"),
    (1.5, "bad_key", r"^\$\.subject: expected a string or integer key, got 1\.5$"),
    (True, "bad_key", r"got True$"),
    ({"a": 1}, "bad_key", r"got \{'a': 1\}$"),
])
def test_a_record_without_a_usable_key_is_rejected(subject, cause, message):
    with pytest.raises(RecordError, match=message) as info:
        both(mapper("    - {action: bare}\n"), doc(subject=subject))
    assert info.value.cause == cause


def test_ids_are_strings_integers_become_strings_and_null_or_absent_mean_no_id():
    m = mapper("    - {action: bare}\n")
    assert both(m, doc(id=7)).id == "7"
    assert both(m, doc(id=None)).id is None
    d = doc()
    del d["id"]
    assert both(m, d).id is None
    with pytest.raises(RecordError, match=r"^\$\.id: expected a string or integer id, got "
                                          r"1\.5$") as info:
        both(m, doc(id=1.5))
    assert info.value.cause == "bad_id"


def test_a_rule_may_override_key_time_and_id_and_turn_ids_off():
    m = mapper("    - {when: {type: a}, action: bare, key: data.k, time: data.t, id: null}\n"
               "    - {when: {type: b}, action: bare, id: data.i}\n")
    a = both(m, doc(type="a", data={"k": "K", "t": 5}))
    assert (a.key, a.time, a.id) == ("K", 5.0, None)
    b = both(m, doc(type="b", data={"i": "I"}))
    assert (b.key, b.id) == ("k1", "I")


@pytest.mark.parametrize("value,seconds", [
    ("2026-11-01T10:00:00Z", 1_793_527_200.0),
    ("2026-11-01T10:00:00.250Z", 1_793_527_200.25),
    ("2026-11-01T11:30:00+01:30", 1_793_527_200.0),
    ("2026-11-01T05:00:00-05:00", 1_793_527_200.0),
    ("2026-11-01T10:00:00", 1_793_527_200.0),  # no offset: UTC
    ("2026-11-01t10:00:00z", 1_793_527_200.0),  # RFC 3339 allows lower case
    (1_793_527_200, 1_793_527_200.0),
    (1_793_527_200.5, 1_793_527_200.5),
])
def test_times_are_rfc_3339_strings_or_numbers_in_seconds(value, seconds):
    assert both(mapper("    - {action: bare}\n"), doc(time=value)).time == seconds


@pytest.mark.parametrize("unit,value", [
    ("s", 1_793_527_200), ("ms", 1_793_527_200_000), ("us", 1_793_527_200_000_000),
    ("ns", 1_793_527_200_000_000_000),
])
def test_numeric_times_are_scaled_by_the_time_unit(unit, value):
    m = mapper("    - {action: bare}\n", head=f"  time_unit: {unit}\n")
    assert both(m, doc(time=value)).time == 1_793_527_200.0
    assert both(m, doc(time="2026-11-01T10:00:00Z")).time == 1_793_527_200.0  # strings too


@pytest.mark.parametrize("value,cause,message", [
    (None, "missing_time", r"^\$\.time: no event time \(absent or null\)$"),
    ("yesterday", "bad_time", r"^\$\.time: expected an RFC 3339 time, got 'yesterday'$"),
    ("2026-11-01", "bad_time", r"expected an RFC 3339 time"),
    (True, "bad_time", r"^\$\.time: expected an RFC 3339 string or a number in s, got True$"),
    (10**400, "bad_time", r"^\$\.time: expected a finite time in s, got 1000"),
])
def test_a_record_without_a_usable_time_is_rejected(value, cause, message):
    with pytest.raises(RecordError, match=message) as info:
        both(mapper("    - {action: bare}\n"), doc(time=value))
    assert info.value.cause == cause


def test_trace_ids_and_traceparents_are_carried_and_bad_ones_ignored():
    m = mapper("    - {action: bare}\n", head="  trace_id: tp\n")
    trace, span = "4BF92F3577B34DA6A3CE929D0E0E4736", "00f067aa0ba902b7"
    assert both(m, doc(tp=trace)).trace_id == trace.lower()
    ev = both(m, doc(tp=f"00-{trace.lower()}-{span}-01"))
    assert (ev.trace_id, ev.span_id) == (trace.lower(), span)
    for bad in ("0" * 32, "xyz", 5, None):
        ev = both(m, doc(tp=bad))
        assert (ev.trace_id, ev.span_id) == (None, None)
    assert both(m, doc()).trace_id is None


# -- records ------------------------------------------------------------------------------

def test_the_event_keeps_the_raw_bytes_and_the_origin_as_given():
    raw = json.dumps(doc(type="ints", v=1)).encode()
    ev = mapper(CONVERSIONS).map_bytes(raw, ("file.jsonl", 3))
    assert ev is not None and ev.record is raw and ev.origin == ("file.jsonl", 3)


def test_map_obj_keeps_the_object_unless_given_a_record():
    m = mapper("    - {action: bare}\n")
    d = doc()
    assert m.map_obj(d, None).record is d
    assert m.map_obj(d, None, record=b"x").record == b"x"


@pytest.mark.parametrize("raw,message", [
    (b"{nope", r"^\$: not JSON: "),
    (b"", r"^\$: not JSON: "),
    (b"[1, 2]", r"^\$: expected a JSON object, got an array$"),
    (b'"text"', r"^\$: expected a JSON object, got a string$"),
    (b"null", r"^\$: expected a JSON object, got null$"),
    (b'{"subject": "k", "time": 1e999}', r"^\$: not JSON: Number out of range"),
])
def test_a_document_that_is_not_a_json_object_is_malformed(raw, message):
    with pytest.raises(RecordError, match=message) as info:
        mapper("    - {action: bare}\n").map_bytes(raw, None)
    assert info.value.cause == "malformed"


def test_a_record_of_the_wrong_shape_that_no_rule_reads_still_maps():
    m = mapper("    - {when: {type: a}, action: ints, args: {v: data.v}}\n"
               "    - {when: {type: b}, action: bare}\n")
    assert both(m, doc(type="b", data="text")).action == "bare"
    assert both(m, doc(type="c", data="text")) is None


def test_a_duplicated_json_key_counts_once_with_its_last_value():
    m = mapper(CONVERSIONS)
    raw = (b'{"subject": "k", "time": 0, "type": "ints", "v": "1", "v": 2}')
    ev = m.map_bytes(raw, None)
    assert ev is not None and ev.args == (2,)
    assert ev == m.map_obj(msgspec.json.decode(raw), None, raw)
