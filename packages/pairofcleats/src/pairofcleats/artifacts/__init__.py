"""Artifact writers and readers (§1, §5): pieces, the pieces manifest, state files.

Writers produce canonical bytes and checksum exactly what they write; readers
find every artifact through ``pieces/manifest.json`` only.

Every name here loads its module on first use: the reader needs numpy and the schemas
pydantic, which a cold sqlite search (reading :mod:`pairofcleats.artifacts.plain` only)
never imports; the writer needs xxhash and blake3, which a search never imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from pairofcleats.artifacts.writer import PieceWriter, checksum, write_state

_LAZY = {
    **dict.fromkeys(
        ("CurrentState", "IndexReader", "PieceCorrupt", "PieceMissing", "index_signature",
         "mode_root", "read_current"),
        "reader",
    ),
    **dict.fromkeys(
        ("ARTIFACT_SURFACE_VERSION", "SCHEMA_HASH", "SQLITE_SCHEMA_VERSION", "BuildState",
         "CurrentPointer", "IndexState", "PiecesManifest"),
        "schema",
    ),
    **dict.fromkeys(("PieceWriter", "checksum", "write_state"), "writer"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        return getattr(importlib.import_module(f"pairofcleats.artifacts.{module}"), name)
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
