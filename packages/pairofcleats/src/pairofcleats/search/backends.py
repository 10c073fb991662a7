"""Backend choice (§9.5): ``memory``, ``sqlite``, ``sqlite-fts`` (alias ``fts``) and ``auto``.

``auto`` picks ``sqlite`` when a db exists for every requested mode and the index is large
(chunks > ``sqliteAutoChunkThreshold`` or artifact bytes > ``sqliteAutoArtifactBytes``), else
``memory``. A missing db or table is a controlled fallback to memory with a warning (S5).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pairofcleats import paths
from pairofcleats.errors import InvalidRequest
from pairofcleats.search.engine import SearchWarning
from pairofcleats.search.index import ModeIndex
from pairofcleats.search.source import MemorySource, SparseSource

__all__ = [
    "SUPPORTED_ANN_BACKENDS",
    "SUPPORTED_BACKENDS",
    "choose_backend",
    "make_source",
    "sqlite_path",
]

SUPPORTED_BACKENDS = ("auto", "memory", "sqlite", "sqlite-fts")
SUPPORTED_ANN_BACKENDS = ("auto", "exact", "hnsw")


def sqlite_path(build_root: Path, mode: str) -> Path:
    """``<buildRoot>/index-sqlite/index-<mode>.db``."""
    return paths.sqlite_dir(build_root) / f"index-{mode}.db"


def _artifact_bytes(idx: ModeIndex) -> int:
    return sum(int(p.bytes) for p in idx.reader.manifest.pieces)


def choose_backend(
    backend: str,
    indexes: Mapping[str, ModeIndex],
    roots: Mapping[str, Path],
    cfg: Any,
) -> tuple[str, str]:
    """``(backend, reason)`` for the requested backend name."""
    if backend not in SUPPORTED_BACKENDS:
        raise InvalidRequest(
            f"backend {backend!r} is not supported; supported: " + ", ".join(SUPPORTED_BACKENDS),
            hint="pass --backend memory (or sqlite, sqlite-fts, auto)",
        )
    if backend != "auto":
        return backend, "requested"
    have_db = all(sqlite_path(roots[m], m).is_file() for m in indexes)
    if not have_db:
        return "memory", "no sqlite db for every mode"
    chunks = sum(idx.state.get("counts", {}).get("chunks", 0) or 0 for idx in indexes.values())
    size = sum(_artifact_bytes(idx) for idx in indexes.values())
    if chunks > cfg.sqlite_auto_chunk_threshold:
        return "sqlite", f"chunks {chunks} > {cfg.sqlite_auto_chunk_threshold}"
    if size > cfg.sqlite_auto_artifact_bytes:
        return "sqlite", f"artifact bytes {size} > {cfg.sqlite_auto_artifact_bytes}"
    return "memory", "small index"


def make_source(
    backend: str,
    idx: ModeIndex,
    build_root: Path,
    fts_column_weights: tuple[float, ...],
    warnings: list[SearchWarning],
) -> tuple[SparseSource, str]:
    """The source for one mode and the backend it really uses (after fallbacks)."""
    if backend in ("sqlite", "sqlite-fts"):
        from pairofcleats.search.sqlite_source import SqliteSource, SqliteUnavailable

        db = sqlite_path(build_root, idx.mode)
        try:
            # one warm source per (db, weights) and loaded index: its statistics, weights and
            # posting caches survive across queries
            source = idx.memo(
                f"sqlite-source:{db}:{fts_column_weights}",
                lambda: SqliteSource(idx, db, fts_column_weights),
            )
            return source, backend
        except SqliteUnavailable as err:
            warnings.append(
                SearchWarning(
                    "SQLITE_UNAVAILABLE", f"{err.message}; using the memory backend", idx.mode
                )
            )
    return MemorySource(idx), "memory"
