"""LatencyHistogram: one observation per batch counts as ``count`` events, the exported
buckets are cumulative and agree with observing each event alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.sinks.latency import DEFAULT_BUCKETS, LatencyHistogram

batches = st.lists(st.tuples(st.floats(0, 100, allow_nan=False), st.integers(0, 600)),
                   max_size=30)


@given(batches)
def test_a_batch_observation_equals_observing_each_event_alone(obs):
    batched, single = LatencyHistogram(), LatencyHistogram()
    for seconds, n in obs:
        batched.observe_many(seconds, n)
        for _ in range(n):
            single.observe_many(seconds)
    assert batched.buckets() == single.buckets()
    assert batched.count == single.count == sum(n for _, n in obs)
    assert batched.sum == pytest.approx(single.sum)


@given(batches)
def test_buckets_are_cumulative_and_end_with_every_event(obs):
    h = LatencyHistogram()
    for seconds, n in obs:
        h.observe_many(seconds, n)
    counts = [c for _, c in h.buckets()]
    assert counts == sorted(counts)
    assert h.buckets()[-1] == ("+Inf", float(h.count))
    for (le, c), bound in zip(h.buckets(), DEFAULT_BUCKETS):
        assert c == sum(n for s, n in obs if s <= bound), le


def test_a_value_on_a_bound_falls_in_that_bucket_and_quantiles_read_bucket_bounds():
    h = LatencyHistogram()
    h.observe_many(0.1, 98)
    h.observe_many(2.0, 2)
    assert dict(h.buckets())["0.1"] == 98
    assert h.quantile(0.5) == 0.1
    assert h.quantile(0.99) == 2.5
    assert LatencyHistogram().quantile(0.99) == 0.0


def test_a_clock_step_backwards_counts_as_instant():
    h = LatencyHistogram()
    h.observe_many(-0.5, 3)
    assert dict(h.buckets())["0.001"] == 3 and h.sum == 0


@pytest.mark.parametrize("bounds", [(), (0.5, 0.1), (0.0, 1.0), (1.0, 1.0)])
def test_bounds_must_be_positive_and_increasing(bounds):
    with pytest.raises(ValueError, match="strictly increasing"):
        LatencyHistogram(bounds)
