"""Artifact writers and readers (§1, §5): pieces, the pieces manifest, state files.

Writers produce canonical bytes and checksum exactly what they write; readers
find every artifact through ``pieces/manifest.json`` only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pairofcleats.artifacts.reader import (
    CurrentState,
    IndexReader,
    PieceCorrupt,
    PieceMissing,
    index_signature,
    mode_root,
    read_current,
)
from pairofcleats.artifacts.schema import (
    ARTIFACT_SURFACE_VERSION,
    SCHEMA_HASH,
    SQLITE_SCHEMA_VERSION,
    BuildState,
    CurrentPointer,
    IndexState,
    PiecesManifest,
)

if TYPE_CHECKING:
    from pairofcleats.artifacts.writer import PieceWriter, checksum, write_state

# the writer (xxhash, blake3) loads on first use: a search only reads
_WRITER = ("PieceWriter", "checksum", "write_state")


def __getattr__(name: str) -> Any:
    if name in _WRITER:
        return getattr(importlib.import_module("pairofcleats.artifacts.writer"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARTIFACT_SURFACE_VERSION",
    "SCHEMA_HASH",
    "SQLITE_SCHEMA_VERSION",
    "BuildState",
    "CurrentPointer",
    "CurrentState",
    "IndexReader",
    "IndexState",
    "PieceCorrupt",
    "PieceMissing",
    "PieceWriter",
    "PiecesManifest",
    "checksum",
    "index_signature",
    "mode_root",
    "read_current",
    "write_state",
]
