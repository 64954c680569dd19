"""Laws of the events mapper, for any JSON document:

- ``map_bytes`` returns an Event or None, or raises RecordError with a known cause;
  never any other exception;
- ``map_bytes`` (views, fast path) agrees with ``map_obj`` (dicts, careful path);
- ``route_bytes`` gives the key ``map_bytes`` gives, whenever it gives one.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import RecordError, Spec, action
from monitor.mapping import EventMapper, load_mapping
from monitor.spec import model_of

CAUSES = {"malformed", "missing_key", "bad_key", "missing_time", "bad_time", "missing_arg",
          "bad_arg", "bad_id"}


class Mix(Spec):
    n: int = 0

    @action
    def one(self, a: int, b: str, c: float = 0.0):
        pass

    @action
    def two(self, flag: bool, items):
        pass

    @action
    def three(self):
        pass


MODEL = model_of(Mix)

RULES = """
  rules:
    - {when: {type: one, data.kind: [x, 1]}, action: one, args: {a: data.a, b: data.b}}
    - {when: {type: [one, two]}, action: two, args: {flag: data.flag, items: other}}
    - {when: {type: true}, action: three}
    - {when: {code: 2}, action: one, args: {a: {const: 1}, b: code, c: data.c}}
    - {when: {type: 3}, action: three, time: data.t, id: null}
"""

MAPPINGS = {
    "cloudevents": "events:\n  trace_id: tp\n" + RULES,
    "composite": "events:\n  key: [subject, data.kind, {const: k}]\n  time_unit: ms\n"
                 "  id: data.id\n" + RULES,
    "overrides": "events:\n" + RULES + "    - {action: three, key: data.a}\n",
}


def mapper(name: str) -> EventMapper:
    m = load_mapping(MAPPINGS[name], filename=f"{name}.yaml", model=MODEL).events
    assert m is not None
    return m


MAPPERS = {name: mapper(name) for name in MAPPINGS}

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4)
           | st.sampled_from(["one", "two", "x", "2026-11-01T10:00:00Z", "2026-11-01t10:00Z",
                              "2026-11-01T10:00:00.123456789+01:00", "2026-11-01",
                              "4bf92f3577b34da6a3ce929d0e0e4736", "true", "12"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
times = (st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01T11:00:00.5+01:00",
                         "2026-11-01t10:00:00z", "2026-11-01T10:00:00"])
         | st.integers(min_value=0, max_value=2**62) | st.floats(0, 1e12))


def often(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``, sometimes any JSON value."""
    return st.sampled_from(range(6)).flatmap(lambda i: values if i == 0 else good)


# mostly well-formed records, so that every rule and conversion is reached, each field
# sometimes replaced by any JSON value (or left out) to reach every error
data = st.fixed_dictionaries({
    "kind": often(st.sampled_from(["x", 1, "y"])), "a": often(st.integers(-3, 3)),
    "b": often(st.text(max_size=3)), "flag": often(st.booleans()),
}, optional={"c": often(st.floats(-1, 1)), "t": often(times), "id": often(st.text(max_size=2))})
documents = st.fixed_dictionaries({
    "subject": often(st.text(max_size=3) | st.integers()),
    "time": often(times),
    "type": often(st.sampled_from(["one", "two", True, 3, "other"])),
}, optional={
    "id": often(st.text(max_size=3)), "code": often(st.sampled_from([2, 2.0, True, "2"])),
    "tp": often(st.just("4bf92f3577b34da6a3ce929d0e0e4736")), "data": often(data),
    "other": often(st.lists(st.integers(), max_size=2)),
})


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RecordError as exc:
        assert exc.cause in CAUSES, exc.cause
        return ("error", exc.cause, str(exc))


@pytest.mark.parametrize("name", sorted(MAPPINGS))
@settings(max_examples=400, deadline=None)
@given(doc=documents)
def test_map_bytes_and_map_obj_agree_on_every_json_object(name, doc):
    m = MAPPERS[name]
    raw = msgspec.json.encode(doc)
    got = outcome(m.map_bytes, raw, "o")
    assert got is None or isinstance(got, tuple) or got.record is raw
    assert got == outcome(m.map_obj, msgspec.json.decode(raw), "o", raw)


@pytest.mark.parametrize("name", sorted(MAPPINGS))
@settings(max_examples=300, deadline=None)
@given(doc=documents)
def test_route_bytes_gives_the_key_map_bytes_gives(name, doc):
    m = MAPPERS[name]
    raw = msgspec.json.encode(doc)
    got = outcome(m.map_bytes, raw, None)
    if got is not None and not isinstance(got, tuple):
        assert m.route_bytes(raw) == got.key
    else:
        assert m.route_bytes(raw) is None or isinstance(m.route_bytes(raw), str)


@settings(max_examples=400, deadline=None)
@given(doc=documents, cut=st.integers(min_value=0, max_value=40), junk=st.binary(max_size=6))
def test_any_bytes_map_to_an_event_none_or_a_record_error(doc, cut, junk):
    raw = msgspec.json.encode(doc)
    for candidate in (raw[:cut], raw[cut:], raw + junk, junk + raw, junk):
        for m in MAPPERS.values():
            got = outcome(m.map_bytes, candidate, None)
            assert got is None or isinstance(got, tuple) or isinstance(got.key, str)
            route = m.route_bytes(candidate)
            assert route is None or isinstance(route, str)
