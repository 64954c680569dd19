"""Pure parts of the Kafka source: the changelog index (newest complete checkpoint per
partition wins, never by arrival alone), CloudEvents binary mode, report ids, the
config's errors, the file sink's idempotent republish."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from monitor.engine.events import Violation
from monitor.errors import ConfigError
from monitor.sources.kafka import report_id, report_line
from monitor.sources.kafka_config import KafkaConfig, load_kafka_config
from monitor.sources.kafka_decode import cloudevent_from_binary
from monitor.sources.kafka_main import FileSink
from monitor.sources.kafka_state import Changelog, _Chunk, state_key

enc = msgspec.msgpack.Encoder()
TP = TopicPartition("payments", 2)
KEY = state_key(TP)


def chunk(seq, nxt, i, n, kind="state"):  # type: ignore[no-untyped-def]
    return enc.encode(_Chunk(kind, seq, nxt, i, n, b"x"))


def log(*records):  # type: ignore[no-untyped-def]
    c = Changelog("cl", {}, chunk_bytes=10)
    for off, value in enumerate(records):
        c._index(KEY, off, value)
    return c.index.get(KEY)


def test_the_changelog_keeps_the_newest_complete_checkpoint_of_a_partition():
    e = log(chunk(1, 100, 0, 1), chunk(2, 250, 0, 2), chunk(2, 250, 1, 2))
    assert (e.seq, e.next_offset, e.offsets) == (2, 250, [1, 2])


def test_a_checkpoint_missing_a_chunk_is_ignored_and_the_previous_one_stays():
    e = log(chunk(1, 100, 0, 1), chunk(2, 250, 0, 3), chunk(2, 250, 1, 3))
    assert (e.seq, e.next_offset) == (1, 100)


def test_a_stale_checkpoint_written_late_by_a_former_owner_never_moves_state_back():
    e = log(chunk(5, 900, 0, 1), chunk(4, 700, 0, 1))
    assert (e.seq, e.next_offset) == (5, 900)


def test_a_published_marker_confirms_only_the_checkpoint_it_names():
    assert not log(chunk(1, 100, 0, 1), chunk(0, 50, 0, 1, "published")).published
    assert log(chunk(1, 100, 0, 1), chunk(1, 100, 0, 1, "published")).published
    # a newer checkpoint after the marker is unconfirmed again
    assert not log(chunk(1, 100, 0, 1), chunk(1, 100, 0, 1, "published"),
                   chunk(2, 200, 0, 1)).published


@given(st.permutations(list(range(6))))
def test_whatever_order_checkpoints_arrive_in_the_highest_offset_wins(order):
    e = log(*[chunk(i + 1, 100 * (i + 1), 0, 1) for i in order])
    assert e.next_offset == 600


def test_garbage_in_the_changelog_is_skipped():
    assert log(b"\xff not msgpack", chunk(1, 10, 0, 1)).next_offset == 10


def test_a_binary_mode_cloudevent_becomes_its_structured_form():
    headers = [("ce_specversion", b"1.0"), ("ce_type", b"payment.captured"),
               ("ce_subject", b"pay-1"), ("ce_id", b"e1"), ("other", b"x")]
    doc = msgspec.json.decode(cloudevent_from_binary(headers, b'{"amount": 5}'))
    assert doc == {"specversion": "1.0", "type": "payment.captured", "subject": "pay-1",
                   "id": "e1", "data": {"amount": 5}}
    assert msgspec.json.decode(cloudevent_from_binary(headers, b"plain"))["data"] == "plain"


def test_records_without_a_specversion_header_are_not_binary_mode():
    assert cloudevent_from_binary([("ce_type", b"x")], b"{}") is None
    assert cloudevent_from_binary(None, b"{}") is None


def violation(offset: int) -> Violation:
    return Violation(spec="payment", key="pay-1", kind="unexpected", property="capture",
                     message="m", time=1.0, action="capture", args={"amount": 5},
                     origin={"topic": "payments", "partition": 0, "offset": offset})


def test_report_ids_are_the_same_for_the_same_record_and_differ_between_records():
    assert report_id(violation(7)) == report_id(violation(7))
    assert report_id(violation(7)) != report_id(violation(8))
    rid, line = report_line(violation(7))
    assert msgspec.json.decode(line)["report_id"] == rid


def test_a_config_with_both_topics_and_a_pattern_is_refused():
    with pytest.raises(ConfigError, match="exactly one of `topics`"):
        KafkaConfig(topics=["a"], pattern="a.*")
    with pytest.raises(ConfigError, match="exactly one of `topics`"):
        KafkaConfig()


def test_a_config_typo_names_the_path():
    with pytest.raises(ConfigError, match=r"specmon.yaml: Object contains unknown field `topic`"):
        load_kafka_config({"topic": ["a"]}, where="specmon.yaml")
    with pytest.raises(ConfigError, match=r"checkpoint_interval: invalid duration 'soon'"):
        KafkaConfig(topics=["a"], checkpoint_interval="soon")


def test_the_changelog_topic_defaults_to_the_group_and_encodings_override_per_topic():
    cfg = KafkaConfig(topics=["otlp_spans", "events"], group_id="g",
                      encodings={"otlp_spans": "otlp_proto"})
    assert cfg.changelog == "g-changelog"
    assert cfg.encoding_of("otlp_spans") == "otlp_proto"
    assert cfg.encoding_of("events") == "json"


def test_sasl_settings_are_passed_to_the_client():
    cfg = KafkaConfig(topics=["a"], security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                      sasl_plain_username="u", sasl_plain_password="p")
    kw = cfg.client_kwargs()
    assert (kw["sasl_mechanism"], kw["sasl_plain_username"], kw["security_protocol"]) == \
        ("PLAIN", "u", "SASL_PLAINTEXT")


def _ids(path):  # type: ignore[no-untyped-def]
    return [msgspec.json.decode(x)["report_id"] for x in path.read_bytes().split()]


def test_the_file_sink_writes_each_report_id_once_republished_or_not(tmp_path):
    sink = FileSink(tmp_path / "r.jsonl")
    a, b = report_line(violation(1)), report_line(violation(2))
    asyncio.run(sink([a], False))
    asyncio.run(sink([a, b], True))
    asyncio.run(sink([b], False))  # a record reported again after a rebalance
    sink.close()
    assert _ids(tmp_path / "r.jsonl") == [a[0], b[0]]
    assert sink.skipped == 2


def test_replicas_sharing_a_file_skip_each_others_ids_and_wait_for_a_line_in_progress(tmp_path):
    path = tmp_path / "r.jsonl"
    one, two = FileSink(path), FileSink(path)
    a, b, c = (report_line(violation(i)) for i in (1, 2, 3))
    asyncio.run(one([a, b], False))
    with open(path, "ab") as f:  # a third writer, half-way through a line of c
        f.write(c[1][:10])
    asyncio.run(two([a, b], False))
    assert two.skipped == 2
    with open(path, "ab") as f:  # ... which it finishes
        f.write(c[1][10:] + b"\n")
    asyncio.run(two([c], False))
    one.close(), two.close()
    assert _ids(path) == [a[0], b[0], c[0]]
    assert two.skipped == 3


def test_unreachable_brokers_stop_start_up_with_an_error_naming_them():
    import socket

    from monitor.sources.kafka import KafkaSource
    from monitor.specdir import load_specdir
    from tests.integration.kafka_support import PAYMENT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        src = KafkaSource(KafkaConfig(bootstrap_servers=f"127.0.0.1:{port}", topics=["x"]),
                          [load_specdir(PAYMENT)])
        with pytest.raises(ConfigError, match=rf"cannot use the brokers at '127.0.0.1:{port}'"):
            asyncio.run(src.start())


def test_kafka_settings_come_from_the_environment_and_a_secret_need_not_be_in_the_file():
    from monitor.config import load_config

    cfg = load_config(env={"SPECMON_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
                           "SPECMON_KAFKA_TOPICS": "[payments, otlp_spans]",
                           "SPECMON_KAFKA_GROUP_INSTANCE_ID": "specmon-0",
                           "SPECMON_KAFKA_SASL_PLAIN_PASSWORD": "s3cret"})
    k = cfg.sources.kafka
    assert (k.bootstrap_servers, k.topics, k.group_instance_id, k.sasl_plain_password) == \
        ("kafka:9092", ["payments", "otlp_spans"], "specmon-0", "s3cret")
