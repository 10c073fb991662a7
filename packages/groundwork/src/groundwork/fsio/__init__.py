"""Filesystem safety: atomic writes, advisory locks with stale takeover, safe joins.

The public names live here; the sub-modules split them by concern.
"""

from __future__ import annotations

from groundwork.fsio.atomic import TEMP_MARKER, atomic_write, atomic_writer, fsync_dir, fsync_tree

__all__ = ["TEMP_MARKER", "atomic_write", "atomic_writer", "fsync_dir", "fsync_tree"]
