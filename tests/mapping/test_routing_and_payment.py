"""``route_bytes`` (the key alone, for sharding a log by key) and the payment spec's
mapping against its own samples."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import msgspec
import pytest

from monitor import RecordError, Spec, action
from monitor.mapping import EventMapper, load_mapping
from monitor.spec import model_of

ROOT = Path(__file__).resolve().parents[2]
PAYMENT = ROOT / "specs" / "payment"


class Lease(Spec):
    holder: str = ""

    @action
    def take(self, who: str):
        self.holder = who

    @action
    def drop(self):
        self.holder = ""


LEASE = model_of(Lease)


def lease(head: str, rules: str = "    - {when: {type: take}, action: take, args: {who: w}}\n"
                                   "    - {when: {type: drop}, action: drop}\n") -> EventMapper:
    m = load_mapping(f"events:\n{head}  rules:\n{rules}", filename="l.yaml", model=LEASE).events
    assert m is not None
    return m


def raw(**fields: object) -> bytes:
    return json.dumps({"subject": "s", "time": 0, "type": "drop", **fields}).encode()


@pytest.mark.parametrize("head,fields,key", [
    ("", {}, "s"),
    ("", {"subject": 12}, "12"),
    ("  key: [region, n.id]\n", {"region": "eu", "n": {"id": 3}}, "eu/3"),
    ("  key: [[a, 'b.c']]\n", {"a": {"b.c": "x"}}, "x"),
    ("  key: {const: leader}\n", {}, "leader"),
    ("  key: [region, {const: leader}]\n", {"region": "eu"}, "eu/leader"),
])
def test_route_bytes_gives_the_key_map_bytes_gives(head, fields, key):
    m = lease(head)
    r = raw(**fields)
    assert m.map_bytes(r, None).key == key
    assert m.route_bytes(r) == key


@pytest.mark.parametrize("head,record", [
    ("", b"{nope"),
    ("", b"[1]"),
    ("", b'"\x80"'),
    ("", raw(subject=None)),
    ("", raw(subject=1.5)),
    ("", raw(subject=["a"])),
    ("  key: n.id\n", raw(n="not an object")),
    ("  key: n.id\n", raw(n={})),
])
def test_route_bytes_gives_none_when_there_is_no_usable_key(head, record):
    m = lease(head)
    assert m.route_bytes(record) is None
    with pytest.raises(RecordError):
        m.map_bytes(record, None)


def test_route_bytes_reads_the_key_of_unmatched_records_too():
    assert lease("").route_bytes(raw(type="other")) == "s"


def test_route_bytes_follows_per_rule_key_overrides_by_mapping_the_record():
    m = lease("", "    - {when: {type: take}, action: take, args: {who: w}, key: w}\n"
                  "    - {when: {type: drop}, action: drop}\n")
    take = raw(type="take", w="ann")
    assert m.map_bytes(take, None).key == m.route_bytes(take) == "ann"
    assert m.route_bytes(raw()) == "s"
    assert m.route_bytes(raw(type="other")) is None  # unmatched: mapped to nothing


# -- the payment spec ---------------------------------------------------------------------

def payment_mapper() -> EventMapper:
    loader = importlib.util.spec_from_file_location("payment_spec_for_mapping_tests",
                                                    PAYMENT / "spec.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    text = (PAYMENT / "mapping.yaml").read_text(encoding="utf-8")
    m = load_mapping(text, filename="specs/payment/mapping.yaml", model=model_of(module.Payment))
    assert m.spec_class is None and m.events is not None
    return m.events


CAPTURED = (b'{"specversion":"1.0","id":"evt-1","source":"payments-api","type":"payment.captured",'
            b'"subject":"pay-000001","time":"2026-11-01T10:00:00.000Z",'
            b'"data":{"payment_id":"pay-000001","amount":100}}')


def test_a_payment_cloudevent_maps_to_its_action_with_converted_arguments():
    ev = payment_mapper().map_bytes(CAPTURED, "origin")
    assert ev is not None
    assert (ev.key, ev.time, ev.action, ev.args, ev.id, ev.origin) == (
        "pay-000001", 1_793_527_200.0, "capture", (100,), "evt-1", "origin")
    assert ev.record is CAPTURED


def test_an_unknown_payment_event_type_is_unmatched_not_an_error():
    assert payment_mapper().map_bytes(CAPTURED.replace(b"captured", b"disputed"), None) is None


def test_a_voided_event_needs_no_data():
    m = payment_mapper()
    voided = CAPTURED.replace(b"captured", b"voided").replace(b',"amount":100', b"")
    ev = m.map_bytes(voided, None)
    assert ev is not None and (ev.action, ev.args) == ("void", ())


@pytest.mark.parametrize("sample", sorted((PAYMENT / "samples").glob("*.jsonl")),
                         ids=lambda p: p.name)
def test_every_payment_sample_maps_the_same_through_bytes_dicts_and_routing(sample):
    m = payment_mapper()
    for line in sample.read_bytes().splitlines():
        if not line.strip() or b'"specversion"' not in line:
            continue  # truth files hold expected verdicts, not events
        ev = m.map_bytes(line, None)
        assert ev is not None
        assert ev == m.map_obj(msgspec.json.decode(line), None, line)
        assert m.route_bytes(line) == ev.key
