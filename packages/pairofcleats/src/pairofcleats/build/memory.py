"""Handing freed heap back to the OS between build steps (peak RSS, §13).

CPython frees a step's temporaries (posting arrays, serialised pieces, dropped bundles)
into glibc's heap, which keeps them mapped: RSS after a step stays at that step's peak, and
the next step's temporaries stack on top of it. ``malloc_trim(0)`` returns free pages (also
from the middle of the heap), so every step starts from what is really live. Measured on the
871-file slice: RSS entering validation went from 589 MB to 351 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` or None (musl, macOS, Windows: nothing to call)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    trim: Callable[[int], int] = fn
    return trim


def release_free_memory() -> bool:
    """Return freed heap pages to the OS; True when something could be asked to."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
