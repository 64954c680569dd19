"""Garbage-collector settings of the long-running processes (``specmon run``, a Kafka
replica, ``specmon replay``): called once, after start-up, by their entry points only;
a library user's process keeps its own settings.

Why: the engines keep their live instances as small GC-tracked objects, and CPython's
default thresholds (700, 10, 10) traverse that whole heap again at every full
collection. Measured on ``specmon run`` fed 600 OTLP requests of 512 payment spans
(a harness around ``Runner``, CPU time in ``gc.callbacks``): the collector took 1.7-2.2 µs per span
(10-12% of the daemon's CPU) in ~1,000 collections, full ones pausing the loop for
~70 ms each; with the settings below, 0.6-0.8 µs per span in ~12 collections.

- ``gc.freeze()``: the specs, the compiled mappings, the modules and the restored
  state were built at start-up and live as long as the process; frozen, no collection
  looks at them again.
- a young generation of 50,000 allocations instead of 700: a 512-span request
  allocates tens of thousands of objects, nearly all freed by reference counting; the
  cyclic garbage that waits for a collection (aiohttp requests, asyncio futures) is at
  most ~50,000 objects, a few MB.
- (20, 10): older generations are examined 20x less often than the young one, full
  collections as often as CPython would for that young size (and still only when a
  quarter of the long-lived heap is new, CPython's own rule).
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLDS", "tune_gc"]

THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Freeze what start-up built and raise the collection thresholds (see above)."""
    gc.collect()  # what start-up left as garbage should not be frozen with the rest
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
