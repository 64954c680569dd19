"""The Kafka source's batch path (``Decoder.apply_many``) against record by record."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aiokafka.structs import ConsumerRecord

from monitor.pipeline import Pipeline
from monitor.sources.kafka_decode import Decoder
from monitor.specdir import load_specdir

PAYMENT = Path(__file__).resolve().parents[2] / "specs" / "payment"


def _log(n: int) -> list[bytes]:
    spec = importlib.util.spec_from_file_location("payment_generate", PAYMENT / "generate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    lines, _ = mod.generate(n, 20, violations=0.05, duplicates=0.05, shuffle=2, seed=3)
    return list(lines)


def _records(values: list[bytes | None]) -> list[ConsumerRecord]:
    headers: tuple = ()
    return [ConsumerRecord("t", 0, i, 0, 0, None, v, None, 0, len(v or b""), headers)
            for i, v in enumerate(values)]


def test_a_fetched_batch_applied_at_once_gives_what_record_by_record_gives():
    values: list[bytes | None] = _log(400)
    values[7], values[50], values[51] = b"not json", None, b'{"unrelated": 1}'
    recs = _records(values)
    dec = Decoder(lambda topic: "json", False)
    one, many = Pipeline(load_specdir(PAYMENT)), Pipeline(load_specdir(PAYMENT))
    by_one: list = []
    for r in recs:
        dec.apply(r, [one], by_one)
    by_many: list = []
    for k in range(0, len(recs), 64):
        dec.apply_many(recs[k:k + 64], [many], by_many)
    assert by_many == by_one and by_one
    assert (many.records, many.unmatched, many.invalid) == (one.records, one.unmatched,
                                                            one.invalid)
    assert many.outcomes() == one.outcomes()
    assert many.invalid  # the bad records were counted, not dropped
