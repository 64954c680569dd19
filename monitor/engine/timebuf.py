"""Event time: the reorder buffer and the duplicate filter.

The reorder buffer holds events until the watermark (max event time seen minus
``allowed_lateness``) passes them, then releases them in (event time, arrival) order.
Keys are independent, so one time-ordered buffer serves as every key's reorder buffer.
In-order input takes a deque fast path (append/popleft); only out-of-order events pay
for the heap. The engine pushes and releases inline (its per-event hot path), through
``_run``, ``_heap`` and ``_seq``; this class holds the structure, the early ``pop`` and
the snapshot view. The duplicate filter remembers event ids for a window of event time.

Both are bounded; both are pure (no clock: time arrives as event time).
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any

__all__ = ["Dedup", "ReorderBuffer"]


class ReorderBuffer:
    __slots__ = ("_run", "_heap", "_seq")

    def __init__(self) -> None:
        self._run: deque[tuple[float, int, Any]] = deque()  # non-decreasing times
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._run) + len(self._heap)

    def pop(self) -> Any:
        run, heap = self._run, self._heap
        if run and (not heap or run[0] < heap[0]):
            return run.popleft()[2]
        return heapq.heappop(heap)[2]

    def entries(self) -> list[tuple[float, int, Any]]:
        """Everything buffered, in release order (for snapshots)."""
        return sorted([*self._run, *self._heap], key=lambda e: (e[0], e[1]))

    def restore(self, entries: list[tuple[float, int, Any]], seq: int) -> None:
        self._run = deque(entries)
        self._heap = []
        self._seq = seq

    @property
    def seq(self) -> int:
        return self._seq


class Dedup:
    """Event ids seen within ``window`` seconds of event time, at most ``max_ids``."""

    __slots__ = ("_seen", "_order", "window", "max_ids", "evicted")

    def __init__(self, window: float, max_ids: int) -> None:
        self._seen: dict[str, float] = {}
        # (id, stamp) in arrival order. An id re-seen after its window gets a second entry;
        # the older one is stale (its stamp is no longer the id's) and is skipped, so it
        # neither counts towards ``max_ids`` nor evicts the id's newer entry. The last entry
        # of every id is live, so the table is rebuilt from the entries alone (snapshots).
        self._order: deque[tuple[str, float]] = deque()
        self.window = window
        self.max_ids = max_ids
        self.evicted = 0  # ids forgotten because of max_ids before their window ended

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, event_id: str, time: float, now: float) -> bool:
        """True if ``event_id`` is a duplicate; otherwise remember it. ``now`` is the
        max event time seen, which drives expiry."""
        prev = self._seen.get(event_id)
        if prev is not None and prev >= now - self.window:
            return True
        self._seen[event_id] = now
        self._order.append((event_id, now))
        self.expire(now)
        return False

    def expire(self, now: float) -> None:
        """Forget ids older than the window, and the oldest ids beyond ``max_ids``."""
        seen = self._seen
        order = self._order
        horizon = now - self.window
        while order:
            first, stamp = order[0]
            if seen.get(first) != stamp:  # stale: the id was seen again since
                order.popleft()
            elif stamp < horizon:
                order.popleft()
                del seen[first]
            elif len(seen) > self.max_ids:
                order.popleft()
                del seen[first]
                self.evicted += 1
            else:
                break

    def items(self) -> list[tuple[str, float]]:
        return list(self._order)

    def restore(self, items: list[tuple[str, float]]) -> None:
        self._seen.clear()
        self._seen.update(items)  # the last entry of an id is its live one
        self._order.clear()
        self._order.extend(items)
