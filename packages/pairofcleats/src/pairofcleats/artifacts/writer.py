"""Writing pieces: canonical bytes, checksummed as written, atomically placed (§1, §15 B4/K4)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from groundwork import jsonio
from groundwork.fsio import atomic_write, atomic_writer
from groundwork.hashing import HashingWriter, hash_bytes

from pairofcleats.artifacts.schema import (
    ARTIFACT_SURFACE_VERSION,
    MANIFEST_VERSION,
    PIECE_SHAPES,
    PiecesManifest,
)
from pairofcleats.postings import PostingLists, Signatures, StrTable

CHUNK_META_SHARD_RECORDS = 100_000


#: Values that write their own canonical JSON bytes: numpy-backed postings, MinHash rows
#: and blob-backed vocabularies, never materialised as Python lists all at once.
_COMPACT = (PostingLists, Signatures, StrTable)


def _holds_compact(value: dict[Any, Any]) -> bool:
    return any(
        isinstance(v, _COMPACT) or (isinstance(v, dict) and _holds_compact(v))
        for v in value.values()
    )


def plain_float(x: float) -> bool:
    """True when json and orjson spell ``x`` the same (0, or 1e-4 <= |x| < 1e16)."""
    return x == 0.0 or 1e-4 <= abs(x) < 1e16


def canon(value: Any, plain_floats: bool = False) -> bytes:
    """Canonical JSON (the bytes of ``groundwork.jsonio.dumps``), fast for our pieces.

    jsonio re-encodes with the stdlib whenever orjson's output merely *might* hold
    a NaN (any ``null``) or an exponent float (any digit before an ``e``, which
    every token like ``utf8e`` trips). Pieces never hold NaN/infinity, and callers
    pass ``plain_floats=True`` only after checking every float with ``plain_float``
    (weights come from a fixed table; averages are checked), so orjson's bytes are
    the canonical bytes. Anything orjson refuses goes to jsonio for its verdict.
    """
    if not plain_floats:
        return jsonio.dumps(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return jsonio.dumps(value)


def canon_piece(value: Any, plain_floats: bool = False) -> bytes:
    """``canon`` of a whole piece that may hold ``PostingLists``/``Signatures``."""
    return b"".join(canon_chunks(value, plain_floats))


def canon_chunks(value: Any, plain_floats: bool = False) -> Iterator[bytes]:
    """``canon_piece`` as a stream: compact values write their own bytes batch by batch;
    the dicts around them are joined with sorted keys exactly as orjson/jsonio spell
    them (compact, no spaces), so a piece never sits in memory more than once."""
    if isinstance(value, _COMPACT):
        yield from value.json_chunks()
    elif isinstance(value, dict) and _holds_compact(value):
        sep = b"{"
        for k in sorted(value):
            yield sep + orjson.dumps(k) + b":"
            yield from canon_chunks(value[k], plain_floats)
            sep = b","
        yield b"}"
    else:
        yield canon(value, plain_floats)


def checksum(data: bytes) -> str:
    """``xxh64:<16 hex>`` of exactly these bytes."""
    return "xxh64:" + hash_bytes(data, "xxh64").hex


class PieceWriter:
    """Writes the pieces of one index dir and remembers their manifest entries."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = index_dir
        self.entries: list[dict[str, Any]] = []
        index_dir.mkdir(parents=True, exist_ok=True)

    def write_bytes(
        self, name: str, rel_path: str, data: bytes, *, type: str, format: str, count: int | None
    ) -> dict[str, Any]:
        """Write ``data`` to ``rel_path`` and record its entry (checksum of these bytes)."""
        path = self.dir / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        entry: dict[str, Any] = {
            "type": type,
            "name": name,
            "format": format,
            "path": rel_path,
            "bytes": len(data),
            "checksum": checksum(data),
        }
        if count is not None:
            entry["count"] = count
        self.entries = [e for e in self.entries if e["name"] != name]
        self.entries.append(entry)
        return entry

    def write_stream(
        self,
        name: str,
        rel_path: str,
        chunks: Iterable[bytes],
        *,
        type: str,
        format: str,
        count: int | None,
    ) -> dict[str, Any]:
        """``write_bytes`` of ``b"".join(chunks)`` without ever joining them: the chunks
        stream into the temp file and the checksum is taken as they pass."""
        path = self.dir / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(path) as fh:
            hw = HashingWriter(fh, "xxh64")
            for chunk in chunks:
                hw.write(chunk)
        entry: dict[str, Any] = {
            "type": type,
            "name": name,
            "format": format,
            "path": rel_path,
            "bytes": hw.bytes_written,
            "checksum": "xxh64:" + hw.digest().hex,
        }
        if count is not None:
            entry["count"] = count
        self.entries = [e for e in self.entries if e["name"] != name]
        self.entries.append(entry)
        return entry

    def write_json(
        self,
        name: str,
        value: Any,
        count: int | None = None,
        plain_floats: bool = False,
        *,
        compact: bool = True,
    ) -> dict[str, Any]:
        """A §5 JSON piece as canonical JSON (byte-identical for equal inputs).

        ``compact=False``: ``value`` holds no ``PostingLists``/``Signatures``/``StrTable``
        (its dicts are not searched for them: a filter index has ~10^5 keys).
        """
        type_, _fmt, _ = PIECE_SHAPES.get(name, ("other", "json", ""))
        return self.write_stream(
            name,
            f"{name}.json",
            canon_chunks(value, plain_floats) if compact else iter((canon(value, plain_floats),)),
            type=type_,
            format="json",
            count=count,
        )

    def write_jsonl(
        self, name: str, rows: Iterable[Any], plain_floats: bool = False
    ) -> dict[str, Any]:
        """A JSONL piece: one canonical line per row, streamed to disk."""
        counter = [0]

        def lines() -> Iterator[bytes]:
            for row in rows:
                counter[0] += 1
                yield canon(row, plain_floats) + b"\n"

        type_ = PIECE_SHAPES.get(name, ("other", "jsonl", ""))[0]
        entry = self.write_stream(
            name, f"{name}.jsonl", lines(), type=type_, format="jsonl", count=None
        )
        entry["count"] = counter[0]
        return entry

    def write_chunk_meta(self, records: list[dict[str, Any]], plain_floats: bool = False) -> None:
        """``chunk_meta.json``, or the sharded JSONL form above 100,000 records."""
        if len(records) <= CHUNK_META_SHARD_RECORDS:
            self.write_json("chunk_meta", records, count=len(records), plain_floats=plain_floats)
            return
        parts_meta = []
        total = 0
        for k in range(0, len(records), CHUNK_META_SHARD_RECORDS):
            part = records[k : k + CHUNK_META_SHARD_RECORDS]
            rel = f"chunk_meta.parts/part-{k // CHUNK_META_SHARD_RECORDS:05d}.jsonl"
            entry = self.write_stream(
                f"chunk_meta.part-{k // CHUNK_META_SHARD_RECORDS:05d}",
                rel,
                (canon(r, plain_floats) + b"\n" for r in part),
                type="chunks",
                format="jsonl",
                count=len(part),
            )
            parts_meta.append(
                {
                    "path": rel,
                    "records": len(part),
                    "bytes": entry["bytes"],
                    "checksum": entry["checksum"],
                }
            )
            total += entry["bytes"]
        meta = {
            "schemaVersion": 1,
            "artifact": "chunk_meta",
            "format": "jsonl-sharded",
            "totalRecords": len(records),
            "totalBytes": total,
            "parts": parts_meta,
        }
        self.write_bytes(
            "chunk_meta.meta",
            "chunk_meta.meta.json",
            jsonio.dumps(meta),
            type="chunks",
            format="json",
            count=len(records),
        )

    def write_manifest(
        self,
        *,
        mode: str,
        stage: str,
        repo_id: str,
        build_id: str,
        compatibility_key: str,
        extensions: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``pieces/manifest.json`` listing every piece written (sorted by name)."""
        manifest = {
            "version": MANIFEST_VERSION,
            "artifactSurfaceVersion": ARTIFACT_SURFACE_VERSION,
            "compatibilityKey": compatibility_key,
            "generatedAt": jsonio.utc_now_iso(),
            "mode": mode,
            "stage": stage,
            "repoId": repo_id,
            "buildId": build_id,
            "pieces": sorted(self.entries, key=lambda e: e["name"]),
            "extensions": extensions or {},
        }
        PiecesManifest.model_validate(manifest)
        path = self.dir / "pieces" / "manifest.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, jsonio.dumps_pretty(manifest))
        return manifest


def write_state(path: Path, value: dict[str, Any]) -> None:
    """A state file (index_state, build_state, current.json), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, jsonio.dumps_pretty(value))


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(base, f))
            except OSError:
                pass
    return total
