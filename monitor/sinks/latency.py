"""Event-to-verdict latency as a fixed-bucket histogram, updated once per applied batch.

The runner calls ``observe_many(seconds, count)`` after a batch of ``count`` events was
applied, ``seconds`` after the batch arrived: one bisect and three additions per batch,
never per event (a 512-span OTLP batch costs the same as one span). The metrics
collector reads ``buckets()`` at scrape time and exposes them as a Prometheus histogram.
Not thread-safe: the runner and the scrape handler share one asyncio loop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

__all__ = ["DEFAULT_BUCKETS", "LatencyHistogram"]

#: upper bounds in seconds: 1 ms (an idle loop) to 30 s (a stuck one); the target is
#: p99 under 1 s at 50k events/s, so the buckets are dense between 10 ms and 2.5 s
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 30.0)


class LatencyHistogram:
    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: Sequence[float] = DEFAULT_BUCKETS) -> None:
        if not bounds or list(bounds) != sorted(set(bounds)) or bounds[0] <= 0:
            raise ValueError(f"bucket bounds must be positive and strictly increasing, "
                             f"got {list(bounds)!r}")
        self.bounds = tuple(float(b) for b in bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe_many(self, seconds: float, count: int = 1) -> None:
        """``count`` events that each took ``seconds`` (a batch shares its latency)."""
        if count <= 0:
            return
        if seconds < 0:  # the wall clock stepped back: count it as instant
            seconds = 0.0
        # bisect_left: a value equal to a bound belongs to that bucket (le = less or equal)
        self.counts[bisect_left(self.bounds, seconds)] += count
        self.count += count
        self.sum += seconds * count

    observe = observe_many  # the runner's on_applied hook calls it by this name

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs ending with ``+Inf``, as Prometheus wants."""
        out: list[tuple[str, float]] = []
        acc = 0
        for bound, n in zip(self.bounds, self.counts):
            acc += n
            out.append((_le(bound), float(acc)))
        out.append(("+Inf", float(acc + self.counts[-1])))
        return out

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket holding quantile ``q`` (what
        ``histogram_quantile`` would interpolate within); ``inf`` past the last bound."""
        if not 0 <= q <= 1:
            raise ValueError(f"q must be within [0, 1], got {q!r}")
        if not self.count:
            return 0.0
        rank = q * self.count
        acc = 0
        for bound, n in zip(self.bounds, self.counts):
            acc += n
            if acc >= rank:
                return bound
        return float("inf")


def _le(bound: float) -> str:
    # the exposition format's float spelling: 1.0 not 1, so le labels match across scrapes
    return repr(float(bound))
