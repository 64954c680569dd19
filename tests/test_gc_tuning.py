"""The long-running processes' collector settings (``monitor.gc_tuning``)."""

from __future__ import annotations

import gc

from monitor.gc_tuning import THRESHOLDS, tune_gc


def test_tuning_freezes_what_exists_and_raises_the_thresholds():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
