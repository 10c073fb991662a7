"""``serve`` freezes the startup heap and raises the GC thresholds (docs/adr/0006)."""

from __future__ import annotations

import gc

from spiderweb import cli


def test_freeze_startup_heap_freezes_and_sets_the_serve_thresholds() -> None:
    before = gc.get_threshold()
    try:
        cli._freeze_startup_heap()
        assert gc.get_threshold() == cli.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        young, older, full = cli.GC_THRESHOLDS
        assert young > before[0] and older >= before[1] and full >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
