"""Checks for the two documents every search reads (``current.json``, pieces manifests) that
build their models without pydantic validation when the input is plainly well formed.

Validating either model builds its pydantic schema and loads pydantic's plugin machinery
(``importlib.metadata`` and an entry-point scan): ~50 ms of a ~200 ms cold search. These
checks accept only exact shapes (every key known, values of exactly the JSON type, patterns
and bounds met) and then build the same model ``model_validate`` would (fields set
included); anything else returns None and the caller validates with pydantic, so errors and
lax coercions stay pydantic's own. A test compares both on real and mutated documents.
"""

from __future__ import annotations

from typing import Any

from pairofcleats.artifacts import plain
from pairofcleats.artifacts.schema import (
    CurrentPointer,
    PieceEntry,
    PiecesManifest,
    RepoInfo,
    ToolInfo,
)

__all__ = ["current_pointer", "pieces_manifest"]


def current_pointer(raw: Any) -> CurrentPointer | None:
    """``CurrentPointer.model_validate(raw)`` for a plainly valid ``raw``; else None."""
    if not plain.current_pointer_ok(raw):
        return None
    tool, repo, modes = raw["tool"], raw["repo"], raw["modes"]
    head = repo["head"]
    return CurrentPointer.model_construct(
        **{k: raw[k] for k in ("buildId", *plain.POINTER_STR)},
        buildRoots=dict(raw["buildRoots"]),
        modes=list(modes),
        tool=ToolInfo.model_construct(version=tool["version"]),
        repo=RepoInfo.model_construct(
            provider=repo["provider"],
            head=None if head is None else dict(head),
            dirty=repo["dirty"],
        ),
    )


def _piece(raw: dict[str, Any]) -> PieceEntry:
    return PieceEntry.model_construct(_fields_set=set(raw), **{"count": None, **raw})


def pieces_manifest(raw: Any) -> PiecesManifest | None:
    """``PiecesManifest.model_validate(raw)`` for a plainly valid ``raw``; else None."""
    if not plain.pieces_manifest_ok(raw):
        return None
    entries = [_piece(item) for item in raw["pieces"]]
    return PiecesManifest.model_construct(
        _fields_set=set(raw),
        **{k: raw[k] for k in ("version", *plain.MANIFEST_STR)},
        pieces=entries,
        extensions=dict(raw.get("extensions", {})),
    )
