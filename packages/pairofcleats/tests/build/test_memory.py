"""Handing freed heap back to the OS (§13 build RSS)."""

from __future__ import annotations

import sys

import psutil
import pytest
from pairofcleats.build.memory import release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_release_returns_freed_heap_to_the_os() -> None:
    proc = psutil.Process()
    release_free_memory()
    # ~200 MB of small strings from glibc's heap (not pymalloc: 600-byte blocks)
    junk = [b"x" * 600 + i.to_bytes(4, "little") for i in range(300_000)]
    keep = junk[::1000]
    grown = proc.memory_info().rss
    del junk
    assert release_free_memory()
    after = proc.memory_info().rss
    assert grown - after > 100 * 1024 * 1024, (grown, after)
    assert len(keep) == 300
