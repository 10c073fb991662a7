"""Filesystem safety: atomic writes, advisory locks with stale takeover, safe joins.

- ``atomic``: ``atomic_write``, ``atomic_writer``, ``fsync_dir``, ``fsync_tree``,
  ``remove_temp_files`` (recovery of a writer killed mid-write).
- ``rename``: ``rename_noreplace`` for publishing files and directories.
- ``lock``: ``FileLock``, ``read_lock``.
- ``paths``: ``safe_join``, ``resolve_within``, ``normalize_relpath``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundwork.errors import LockHeld, LockLost
from groundwork.fsio.atomic import (
    TEMP_MARKER,
    atomic_write,
    atomic_writer,
    fsync_dir,
    fsync_tree,
    remove_temp_files,
)
from groundwork.fsio.paths import PathEscape, normalize_relpath, resolve_within, safe_join
from groundwork.fsio.rename import rename_noreplace

if TYPE_CHECKING:
    from groundwork.fsio.lock import FileLock, LockStatus, read_lock, stale_reason

# The lock pulls in psutil and groundwork.proc (asyncio): ~35 ms that a reader
# who only needs safe_join or atomic_write (a cold CLI search) should not pay.
_LAZY = {"FileLock", "LockStatus", "read_lock", "stale_reason"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from groundwork.fsio import lock

        return getattr(lock, name)
    raise AttributeError(f"module 'groundwork.fsio' has no attribute {name!r}")


__all__ = [
    "TEMP_MARKER",
    "FileLock",
    "LockHeld",
    "LockLost",
    "LockStatus",
    "PathEscape",
    "atomic_write",
    "atomic_writer",
    "fsync_dir",
    "fsync_tree",
    "normalize_relpath",
    "read_lock",
    "remove_temp_files",
    "rename_noreplace",
    "resolve_within",
    "safe_join",
    "stale_reason",
]
