"""One span stream fanned out to several specs: each maps the request, the answer sums
their rejections (capped at the request's spans), a full queue refuses the whole
request, and the consumer applies each spec's events to its own engine in order."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind

from monitor.engine import EngineConfig
from monitor.pipeline import Pipeline
from monitor.sources.fanout import FanoutIngest, Hooks, Target
from monitor.sources.ingest import Overloaded
from monitor.specdir import load_specdir
from tests.otlp import PAYMENT, SECOND, SHIPPING, T0, SpanSpec, payment, request

STRICT = EngineConfig(allowed_lateness=0.0, late_join="strict")


def targets(*names: str) -> list[Target]:
    return [Target(n, Pipeline(load_specdir(PAYMENT), STRICT)) for n in names]


def test_every_spec_gets_the_request_and_its_own_reports():
    reports = []
    ingest = FanoutIngest(targets("a", "b"), tick_s=None,
                          hooks=Hooks(on_report=lambda t, r: reports.append((t.name, r.kind))))
    # capture without authorize: unexpected in both specs
    req = request([SpanSpec("payment.capture", {"payment.id": "p1", "payment.amount": 5},
                            T0, T0 + SECOND)])

    async def go():
        async with ingest:
            batch = ingest.submit(req)
            await ingest.drained()
        return batch

    batch = asyncio.run(go())
    assert (batch.spans, batch.events, batch.rejected) == (1, 2, 0)
    assert sorted(reports) == [("a", "unexpected"), ("b", "unexpected")]
    assert [t.pipeline.records for t in ingest.targets] == [1, 1]


def test_rejections_are_summed_over_specs_but_never_exceed_the_request_s_spans():
    ingest = FanoutIngest(targets("a", "b"), tick_s=None)
    bad = SpanSpec("payment.authorize", {"payment.id": "p1", "payment.amount": "lots"},
                   T0, T0 + SECOND, kind=SpanKind.SERVER)
    batch = ingest.submit(request([bad]))
    assert (batch.spans, batch.rejected) == (1, 1)
    assert "payment.amount" in batch.error
    assert [t.pipeline.invalid for t in ingest.targets] == [{"bad_arg": 1}] * 2


def test_a_full_queue_refuses_the_whole_request_for_every_spec():
    ingest = FanoutIngest(targets("a", "b"), max_events=4, tick_s=None)
    ingest.submit(request(payment("p1", T0)))  # 2 spans x 2 specs = 4 events
    with pytest.raises(Overloaded, match=r"span queue full \(4 of 4 events queued\)"):
        ingest.submit(request(payment("p2", T0)))
    assert ingest.stats.overloaded == 1
    assert [t.pipeline.records for t in ingest.targets] == [2, 2]  # p2 not counted


def test_a_journal_that_refuses_keeps_the_request_out_of_every_spec():
    def full(item):
        raise Overloaded(1.0, 10, 10)

    ingest = FanoutIngest(targets("a"), tick_s=None, hooks=Hooks(journal=full))
    with pytest.raises(Overloaded):
        ingest.submit(request(payment("p1", T0)))
    assert ingest.stats.depth == 0 and ingest.targets[0].pipeline.records == 0


def test_specs_of_different_mappings_see_only_what_they_map():
    ship = Target("shipping", Pipeline(load_specdir(SHIPPING), STRICT))
    ingest = FanoutIngest([*targets("payment"), ship], tick_s=None)
    batch = ingest.submit(request(payment("p1", T0)))
    assert batch.events == 2
    assert ship.pipeline.unmatched == 2 and ingest.targets[0].pipeline.unmatched == 0
    assert ingest.stats.unmatched_spans == 0  # a span some spec maps is not unmatched
