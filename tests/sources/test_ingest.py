"""SpanIngest: a request is queued whole or not at all, the queue never passes its
bound, nothing is counted twice when a refused request comes back, and an idle input
lets the wall clock fire deadlines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.pipeline import Pipeline
from monitor.sources.ingest import Overloaded, SpanIngest
from monitor.specdir import load_specdir
from tests.integration import shop
from tests.integration.receivers import ORDERS, STRICT

#: requests of 1..6 spans (built once: the SDK draws ids from `random`)
REQUESTS = [shop.request([("order.place", f"o-{n}-{i}", {}) for i in range(n)]) for n in range(1, 7)]
SPECDIR = load_specdir(ORDERS)
PAYMENT = Path(__file__).resolve().parents[2] / "specs" / "payment"

ops = st.lists(st.one_of(st.integers(0, 5).map(lambda i: ("submit", i)), st.just(("drain", 0))),
               max_size=40)


@given(ops=ops, limit=st.integers(1, 12))
def test_requests_are_queued_whole_or_refused_and_the_queue_stays_within_its_bound(ops, limit):
    async def run() -> None:
        pipe = Pipeline(SPECDIR, STRICT)
        ingest = SpanIngest(pipe, max_events=limit, tick_s=None)
        admitted_spans = largest = 0
        for op, i in ops:
            if op == "drain":
                await ingest.start()
                await ingest.drained()
                await ingest.stop()
                continue
            n = i + 1
            depth = ingest.stats.depth
            try:
                ingest.submit(REQUESTS[i])
            except Overloaded:
                assert depth >= limit or (depth and depth + n > limit)
                assert ingest.stats.depth == depth
            else:
                assert not (depth >= limit or (depth and depth + n > limit))
                assert ingest.stats.depth == depth + n
                admitted_spans += n
                largest = max(largest, n)
            # a request larger than the limit is admitted only into an empty queue
            assert ingest.stats.depth <= max(limit, largest)
        st_ = ingest.stats
        assert st_.accepted_events == st_.applied_events + st_.depth
        assert pipe.records == admitted_spans == st_.spans

    asyncio.run(run())


def test_the_retry_after_header_is_whole_seconds_rounded_up():
    assert Overloaded(0.2, 5, 5).retry_after_header == "1"
    assert Overloaded(2.5, 5, 5).retry_after_header == "3"


def test_a_spec_without_spans_cannot_feed_an_ingest(tmp_path):
    (tmp_path / "spec.py").write_text((ORDERS / "spec.py").read_text())
    (tmp_path / "mapping.yaml").write_text("events:\n  key: id\n  rules:\n"
                                           "    - when: {type: placed}\n      action: place\n")
    with pytest.raises(Exception, match=r"no `spans:` section"):
        SpanIngest(Pipeline(load_specdir(tmp_path)))


def test_when_input_is_idle_the_wall_clock_moves_the_watermark_and_deadlines_fire():
    t0 = 1_764_000_000
    authorize = shop.request(
        [("payment.authorize", "p-1", {"payment.id": "p-1", "payment.amount": 100})],
        t0=t0 * 10**9)
    for rs in authorize.resource_spans:  # the payment rule wants a payments SERVER span
        rs.resource.attributes.add(key="service.name").value.string_value = "payments"
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.kind = span.SPAN_KIND_SERVER
    now = [t0]
    reports = []

    async def run() -> None:
        pipe = Pipeline(load_specdir(PAYMENT))
        async with SpanIngest(pipe, tick_s=0.01, clock=lambda: now[0],
                              on_report=reports.append) as ingest:
            assert ingest.submit(authorize).events
            await ingest.drained()
            now[0] = t0 + 8 * 86400  # a week and a day later, with no traffic at all
            async with asyncio.timeout(10):
                while not reports:
                    await asyncio.sleep(0.01)

    asyncio.run(run())
    assert [(r.key, r.kind, r.property) for r in reports] == [("p-1", "deadline", "settles")]
