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

import re
from typing import Any

from pairofcleats.artifacts.schema import (
    CurrentPointer,
    PieceEntry,
    PiecesManifest,
    RepoInfo,
    ToolInfo,
)

__all__ = ["current_pointer", "pieces_manifest"]

_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_CHECKSUM = re.compile(r"xxh64:[0-9a-f]{16}")
_FORMATS = ("json", "jsonl", "bin", "usearch", "sqlite")
_POINTER_STR = (
    "buildRoot", "promotedAt", "stage", "configHash", "artifactSurfaceVersion",
    "compatibilityKey",
)  # fmt: skip
_MANIFEST_STR = (
    "artifactSurfaceVersion", "compatibilityKey", "generatedAt", "mode", "stage", "repoId",
    "buildId",
)  # fmt: skip
_PIECE_KEYS = {"type", "name", "format", "path", "bytes", "checksum", "count"}


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _str_dict(value: Any) -> bool:
    return type(value) is dict and all(_is_str(k) and _is_str(v) for k, v in value.items())


def current_pointer(raw: Any) -> CurrentPointer | None:
    """``CurrentPointer.model_validate(raw)`` for a plainly valid ``raw``; else None."""
    if type(raw) is not dict or raw.keys() != CurrentPointer.model_fields.keys():
        return None
    build_id, tool, repo, modes = raw["buildId"], raw["tool"], raw["repo"], raw["modes"]
    if not (
        _is_str(build_id)
        and _BUILD_ID.fullmatch(build_id)
        and all(_is_str(raw[k]) for k in _POINTER_STR)
        and _str_dict(raw["buildRoots"])
        and type(modes) is list
        and all(_is_str(m) for m in modes)
        and type(tool) is dict
        and tool.keys() == {"version"}
        and _is_str(tool["version"])
        and type(repo) is dict
        and repo.keys() == {"provider", "head", "dirty"}
        and _is_str(repo["provider"])
        and (repo["head"] is None or type(repo["head"]) is dict)
        and (repo["dirty"] is None or type(repo["dirty"]) is bool)
    ):
        return None
    head = repo["head"]
    return CurrentPointer.model_construct(
        **{k: raw[k] for k in ("buildId", *_POINTER_STR)},
        buildRoots=dict(raw["buildRoots"]),
        modes=list(modes),
        tool=ToolInfo.model_construct(version=tool["version"]),
        repo=RepoInfo.model_construct(
            provider=repo["provider"],
            head=None if head is None else dict(head),
            dirty=repo["dirty"],
        ),
    )


def _piece(raw: Any) -> PieceEntry | None:
    if type(raw) is not dict or not raw.keys() <= _PIECE_KEYS or len(raw) < 6:
        return None
    count = raw.get("count")
    if not (
        all(_is_str(raw.get(k)) for k in ("type", "name", "path", "checksum", "format"))
        and raw["format"] in _FORMATS
        and _is_count(raw.get("bytes"))
        and _CHECKSUM.fullmatch(raw["checksum"])
        and (count is None or _is_count(count))
    ):
        return None
    return PieceEntry.model_construct(_fields_set=set(raw), **{"count": None, **raw})


def pieces_manifest(raw: Any) -> PiecesManifest | None:
    """``PiecesManifest.model_validate(raw)`` for a plainly valid ``raw``; else None."""
    fields = PiecesManifest.model_fields.keys()
    if type(raw) is not dict or not (fields - {"extensions"} <= raw.keys() <= fields):
        return None
    version, pieces, ext = raw["version"], raw["pieces"], raw.get("extensions", {})
    if not (
        type(version) is int
        and version == 2
        and all(_is_str(raw[k]) for k in _MANIFEST_STR)
        and type(pieces) is list
        and type(ext) is dict
    ):
        return None
    entries: list[PieceEntry] = []
    for item in pieces:
        entry = _piece(item)
        if entry is None:
            return None
        entries.append(entry)
    return PiecesManifest.model_construct(
        _fields_set=set(raw),
        **{k: raw[k] for k in ("version", *_MANIFEST_STR)},
        pieces=entries,
        extensions=dict(ext),
    )
