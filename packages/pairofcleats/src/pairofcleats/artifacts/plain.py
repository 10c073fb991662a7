"""Shape checks of ``current.json`` and pieces manifests without pydantic (§1).

:func:`current_pointer_ok` and :func:`pieces_manifest_ok` accept only plainly valid
documents: every key known, values of exactly the JSON type, patterns and bounds met. A
document they accept validates as ``CurrentPointer`` / ``PiecesManifest`` to the same
values, so :mod:`pairofcleats.artifacts.trusted` builds those models from it without
validation, and the cold sqlite CLI path (:mod:`pairofcleats.search.lite`) reads it as plain
JSON without importing pydantic at all. Anything else is left to pydantic. A test keeps the
key sets equal to the models' fields.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MANIFEST_KEYS", "POINTER_KEYS", "current_pointer_ok", "pieces_manifest_ok"]

#: ``CurrentPointer``'s fields and ``PiecesManifest``'s (``extensions`` may be omitted).
POINTER_KEYS = frozenset(
    ("buildId", "buildRoot", "buildRoots", "promotedAt", "stage", "modes", "configHash",
     "artifactSurfaceVersion", "compatibilityKey", "tool", "repo")
)  # fmt: skip
MANIFEST_KEYS = frozenset(
    ("version", "artifactSurfaceVersion", "compatibilityKey", "generatedAt", "mode", "stage",
     "repoId", "buildId", "pieces", "extensions")
)  # fmt: skip

_BUILD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_CHECKSUM = re.compile(r"xxh64:[0-9a-f]{16}")
_FORMATS = ("json", "jsonl", "bin", "usearch", "sqlite")
POINTER_STR = (
    "buildRoot", "promotedAt", "stage", "configHash", "artifactSurfaceVersion",
    "compatibilityKey",
)  # fmt: skip
MANIFEST_STR = (
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


def current_pointer_ok(raw: Any) -> bool:
    """True when ``raw`` is a plainly valid ``current.json`` object."""
    if type(raw) is not dict or raw.keys() != POINTER_KEYS:
        return False
    build_id, tool, repo, modes = raw["buildId"], raw["tool"], raw["repo"], raw["modes"]
    return bool(
        _is_str(build_id)
        and _BUILD_ID.fullmatch(build_id)
        and all(_is_str(raw[k]) for k in POINTER_STR)
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
    )


def piece_ok(raw: Any) -> bool:
    """True when ``raw`` is a plainly valid ``PieceEntry`` object."""
    if type(raw) is not dict or not raw.keys() <= _PIECE_KEYS or len(raw) < 6:
        return False
    count = raw.get("count")
    return bool(
        all(_is_str(raw.get(k)) for k in ("type", "name", "path", "checksum", "format"))
        and raw["format"] in _FORMATS
        and _is_count(raw.get("bytes"))
        and _CHECKSUM.fullmatch(raw["checksum"])
        and (count is None or _is_count(count))
    )


def pieces_manifest_ok(raw: Any) -> bool:
    """True when ``raw`` is a plainly valid pieces manifest (every piece included)."""
    if type(raw) is not dict or not (MANIFEST_KEYS - {"extensions"} <= raw.keys() <= MANIFEST_KEYS):
        return False
    version, pieces, ext = raw["version"], raw["pieces"], raw.get("extensions", {})
    return bool(
        type(version) is int
        and version == 2
        and all(_is_str(raw[k]) for k in MANIFEST_STR)
        and type(pieces) is list
        and type(ext) is dict
        and all(piece_ok(p) for p in pieces)
    )
