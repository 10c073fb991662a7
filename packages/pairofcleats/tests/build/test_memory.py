"""Handing freed heap back to the OS (§13 build RSS)."""

from __future__ import annotations

import subprocess
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


_TEMPORARIES = """
import sys
import numpy as np
import psutil
from pairofcleats.build.memory import cap_mmap_threshold
if sys.argv[1] == "cap":
    assert cap_mmap_threshold()
proc = psutil.Process()
big = np.ones(4 << 17)
del big  # a freed 4 MiB mapping: glibc raises its threshold past the blocks below
blocks, pins = [], []
for _ in range(100):
    blocks.append(np.ones((2 << 20) // 8))
    pins.append(np.ones(100))  # small live blocks between them: no trim from the top
grown = proc.memory_info().rss
del blocks
print(grown - proc.memory_info().rss)
"""


def _freed(*args: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _TEMPORARIES, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_capped_mmap_threshold_unmaps_freed_temporaries() -> None:
    """2 MiB numpy temporaries stay resident once freed under glibc's default threshold,
    and are unmapped when it is capped."""
    assert _freed("default") < 50 * 1024 * 1024
    assert _freed("cap") > 150 * 1024 * 1024
