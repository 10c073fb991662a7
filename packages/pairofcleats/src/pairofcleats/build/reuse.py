"""Per-mode reuse of the current build's stage-1 pieces and SQLite db (§6 incremental).

A mode's derived stage-1 pieces (postings, field postings, phrase n-grams, chargrams, MinHash)
are a pure function of its field streams and tokens in id order and of the config. A build
records a digest of exactly those inputs in the mode manifest's ``extensions``; the next
build computes the same digest after assembling the mode (``collect`` and the
``chunk_meta``/``field_tokens`` pieces it writes anyway) and, when it equals the current
build's, hard-links that build's pieces instead of re-deriving them: an edit that leaves a
mode's tokens alone (a new function without comments for ``extracted-prose``, even when it
moves a docstring chunk's ``chunkUid`` post-context; any code edit for ``prose``) no longer
re-assembles that mode's postings. The bytes are what re-assembly produces (builds are
deterministic, §5), so the result equals a full build's (ADR 0007).

Trust is earned, never assumed (§15 B1): the source build must be the promoted current build,
its validation passed, written by this tool version with the same compatibilityKey and
configHash, and every linked piece's bytes must still hash to the checksum its manifest
records before it is linked. The new build's manifest lists the same entries, and the
validation gate still verifies every piece's bytes against them; it skips re-parsing only
pieces whose bytes equal those the source build's validation passed (``validate_build``'s
``trusted``), with the same chunk count.

The SQLite db of such a mode, when its vectors are byte-identical too, differs from the
current one only in ``file_manifest`` (the changed files' hash, size and mtime) and in the
``chunks`` rows of records that changed without their tokens: it is copied to ``*.db.tmp``,
those rows are rewritten in one transaction, fsynced and renamed; nothing to rewrite
hard-links the db. A changed record that differs in what FTS5 or an index holds makes the
caller build the db instead. A patched db is fully checked by validation (integrity, FTS
integrity, counts, key).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from groundwork.fsio import fsync_dir
from groundwork.hashing import hash_file, new_hasher
from pydantic import ValidationError

from pairofcleats import __version__
from pairofcleats.artifacts.reader import CurrentState, IndexReader
from pairofcleats.artifacts.schema import BuildState, PiecesManifest
from pairofcleats.errors import IndexInvalid
from pairofcleats.paths import RepoLayout, index_dir, sqlite_dir
from pairofcleats.sqlite_stage import chunk_columns, db_name

#: The manifest ``extensions`` key holding the stage-1 input digest.
DIGEST_KEY = "stage1InputDigest"
#: Stage-1 pieces derived from the tokens (``chunk_meta``/``field_tokens`` are always written).
DERIVED_PIECES = (
    "token_postings",
    "field_postings",
    "phrase_ngrams",
    "chargram_postings",
    "minhash_signatures",
)
#: Pieces whose content checks validation may skip when their bytes equal a validated build's.
TRUSTABLE = frozenset(
    (
        *DERIVED_PIECES,
        "field_tokens",
        "file_meta",
        "file_relations",
        "repo_map",
        "filter_index",
    )
)
#: Piece name of the vectors SQLite stores (the merged variant).
DENSE_BIN = "dense_vectors_uint8_bin"


@dataclass(slots=True)
class PrevMode:
    """What the current build offers one mode: its pieces, digest, chunk count and db."""

    index_dir: Path
    pieces: dict[str, dict[str, Any]]
    digest: str | None
    chunks: int
    db: Path | None = None
    db_entry: dict[str, Any] | None = None


@dataclass(slots=True)
class Trusted:
    """Pieces (by name → checksum) a validated build held for a mode with ``chunks`` chunks."""

    chunks: int
    pieces: dict[str, str] = field(default_factory=dict)
    dbs: dict[str, str] = field(default_factory=dict)


def _manifest(path: Path) -> PiecesManifest | None:
    try:
        return PiecesManifest.model_validate(orjson.loads(path.read_bytes()))
    except (OSError, orjson.JSONDecodeError, ValidationError):
        return None


def _entry(raw: dict[str, Any]) -> dict[str, Any]:
    """A manifest entry as the writer records it (no ``count`` key when it has none)."""
    return {k: v for k, v in raw.items() if not (k == "count" and v is None)}


def previous_modes(
    layout: RepoLayout, current: CurrentState, modes: Iterable[str], key: str, chash: str
) -> dict[str, PrevMode]:
    """The current build's reusable per-mode state; a mode with any doubt is left out."""
    ptr = current.pointer
    if ptr is None or ptr.compatibilityKey != key or ptr.configHash != chash:
        return {}
    out: dict[str, PrevMode] = {}
    states: dict[str, BuildState | None] = {}
    for mode in modes:
        rel = ptr.buildRoots.get(mode)
        if rel is None:
            continue
        root = layout.repo_dir / rel
        if rel not in states:
            try:
                states[rel] = BuildState.model_validate(
                    orjson.loads((root / "build_state.json").read_bytes())
                )
            except (OSError, orjson.JSONDecodeError, ValidationError):
                states[rel] = None
        state = states[rel]
        if (
            state is None
            or state.status != "promoted"
            or state.validation is None
            or not state.validation.ok
            or state.tool.get("version") != __version__
            or state.compatibilityKey != key
            or state.configHash != chash
        ):
            continue
        counts = state.counts.get(mode)
        chunks = counts.get("chunks") if isinstance(counts, Mapping) else None
        idir = index_dir(root, mode)
        man = _manifest(idir / "pieces" / "manifest.json")
        if man is None or man.compatibilityKey != key or not isinstance(chunks, int):
            continue
        digest = man.extensions.get(DIGEST_KEY)
        prev = PrevMode(
            idir,
            {p.name: _entry(p.model_dump()) for p in man.pieces},
            digest if isinstance(digest, str) else None,
            chunks,
        )
        sman = _manifest(sqlite_dir(root) / "pieces" / "manifest.json")
        if sman is not None and sman.compatibilityKey == key:
            for p in sman.pieces:
                if p.name == db_name(mode):
                    prev.db = sqlite_dir(root) / p.path
                    prev.db_entry = _entry(p.model_dump())
        out[mode] = prev
    return out


def trusted_pieces(prev: Mapping[str, PrevMode]) -> dict[str, Trusted]:
    """Validation's ``trusted`` argument: the current build's validated piece checksums."""
    out: dict[str, Trusted] = {}
    for mode, p in prev.items():
        t = Trusted(p.chunks, {n: e["checksum"] for n, e in p.pieces.items()})
        if p.db_entry is not None:
            t.dbs[p.db_entry["name"]] = p.db_entry["checksum"]
        out[mode] = t
    return out


def stage1_digest(
    key: str,
    chash: str,
    entries: Iterable[Mapping[str, Any]],
    tokens: Iterable[list[str]],
) -> str:
    """xxh64 of everything a mode's derived stage-1 pieces are a function of: the keys, the
    written ``field_tokens`` checksum and the unfielded tokens in id order.

    ``chunk_meta`` is not an input of any of them (``assemble.stage1_values`` reads only
    ``tokens`` and ``field_tokens``): a chunk record that changes while its tokens do not
    (a docstring's ``chunkUid`` post-context after a function is appended below it) keeps
    the derived pieces, and ``reuse_sqlite`` rewrites its ``chunks`` row."""
    h = new_hasher("xxh64")
    head = [
        key,
        chash,
        sorted((e["name"], e["checksum"]) for e in entries if e["name"] == "field_tokens"),
    ]
    h.update(orjson.dumps(head))
    for toks in tokens:
        h.update(orjson.dumps(toks))
    return "xxh64:" + h.digest().hex


def same_chunk_pieces(prev: PrevMode, entries: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the ``chunk_meta`` pieces just written equal ``prev``'s byte for byte."""
    mine = {e["name"]: e["checksum"] for e in entries if _is_chunk_piece(e["name"])}
    theirs = {n: e["checksum"] for n, e in prev.pieces.items() if _is_chunk_piece(n)}
    return bool(mine) and mine == theirs


def _is_chunk_piece(name: str) -> bool:
    return name == "chunk_meta" or name.startswith("chunk_meta.")


#: ``chunks`` columns that feed ``chunks_fts`` or an index of the db (``sqlite_stage``):
#: a row may be rewritten in place only while these stay equal (``doc``, the other FTS
#: column taken from the record, is compared separately).
_FIXED_COLUMNS = ("id", "file", "kind", "name", "signature", "headline", "weight")


def _chunk_updates(
    prev: PrevMode, chunks: list[dict[str, Any]], columns: list[str]
) -> list[tuple[Any, ...]] | None:
    """``(values…, id)`` rows turning ``prev``'s ``chunks`` table into that of ``chunks``,
    or None when a record differs in what FTS5 or an index holds (the db is then built).

    ``prev``'s records come from its checksum-verified ``chunk_meta``; both sides go through
    ``chunk_columns``, the function a full build inserts the table with."""
    if any(c not in columns for c in _FIXED_COLUMNS):
        return None
    old = _records(prev.index_dir)
    if old is None or len(old) != len(chunks):
        return None
    # equal records give equal rows; only the few that differ go through chunk_columns
    changed = [i for i, (a, b) in enumerate(zip(old, chunks, strict=True)) if a != b]
    if not changed:
        return []
    fixed = [columns.index(c) for c in _FIXED_COLUMNS]
    try:
        old_rows = list(zip(*chunk_columns([old[i] for i in changed]), strict=True))
        new_rows = list(zip(*chunk_columns([chunks[i] for i in changed]), strict=True))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if any(len(r) != len(columns) for r in new_rows[:1]):
        return None
    out: list[tuple[Any, ...]] = []
    for i, a, b in zip(changed, old_rows, new_rows, strict=True):
        if a == b:
            continue
        if any(a[k] != b[k] for k in fixed) or (old[i]["metaV2"].get("doc") or "") != (
            chunks[i]["metaV2"].get("doc") or ""
        ):
            return None
        out.append((*b[1:], b[0]))
    return out


def _records(idir: Path) -> list[dict[str, Any]] | None:
    """The checksum-verified chunk records of ``idir``, or None.

    orjson, not the exact parser (3.5x faster on a medium mode): a record holds no integer
    beyond 64 bits, and if one did, the rounded value would only make that row look changed
    (rewritten with the new record's values, or the db built in full)."""
    try:
        reader = IndexReader(idir)
        if not reader.has("chunk_meta"):
            return reader.chunk_meta(verify=True)  # the sharded form: rare, parsed exactly
        value = orjson.loads(reader.read_bytes("chunk_meta", verify=True))
    except (IndexInvalid, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, list) else None


def _intact(path: Path, entry: Mapping[str, Any]) -> bool:
    try:
        return bool(
            path.stat().st_size == entry["bytes"]
            and "xxh64:" + hash_file(path, "xxh64").hex == entry["checksum"]
        )
    except OSError:
        return False


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def link_pieces(prev: PrevMode, out_dir: Path, names: Iterable[str]) -> list[dict[str, Any]] | None:
    """Hard-link ``names`` (those ``prev`` has) into ``out_dir`` once every one's bytes
    verify; their manifest entries, or None (nothing linked) if any does not."""
    wanted = [prev.pieces[n] for n in names if n in prev.pieces]
    for e in wanted:
        if not _intact(prev.index_dir / e["path"], e):
            return None
    for e in wanted:
        _link(prev.index_dir / e["path"], out_dir / e["path"])
    return [dict(e) for e in wanted]


def reuse_sqlite(
    prev: PrevMode,
    out_dir: Path,
    mode: str,
    files: list[tuple[str, str, int, int, int]],
    chunks: list[dict[str, Any]] | None = None,
) -> Path | None:
    """``index-<mode>.db`` from the current build's db with ``file_manifest`` set to
    ``files`` and, given ``chunks`` (records that differ from ``prev``'s), the ``chunks``
    rows that changed rewritten; None when that db does not verify or a changed record
    touches what FTS5 or an index holds (the caller builds one)."""
    if prev.db is None or prev.db_entry is None or not _intact(prev.db, prev.db_entry):
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / db_name(mode)
    try:
        con = sqlite3.connect(f"file:{prev.db}?mode=ro&immutable=1", uri=True)
        try:
            have = con.execute(
                "SELECT file, hash, mtimeMs, size, chunk_count FROM file_manifest ORDER BY file"
            ).fetchall()
            columns = [r[1] for r in con.execute("PRAGMA table_info(chunks)")]
        finally:
            con.close()
    except sqlite3.Error:
        return None
    updates: list[tuple[Any, ...]] = []
    if chunks is not None:
        got = _chunk_updates(prev, chunks, columns)
        if got is None:
            return None
        updates = got
    want = sorted(files)
    if have == want and not updates:
        _link(prev.db, final)
        return final
    tmp = out_dir / (db_name(mode) + ".tmp")
    for p in (tmp, Path(str(tmp) + "-journal")):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    shutil.copyfile(prev.db, tmp)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        stale = {r[0] for r in have} - {r[0] for r in want}
        con.executemany("DELETE FROM file_manifest WHERE file = ?", [(f,) for f in stale])
        changed = sorted(set(want) - set(have))
        con.executemany("INSERT OR REPLACE INTO file_manifest VALUES (?,?,?,?,?)", changed)
        if updates:
            sets = ", ".join(f'"{c}" = ?' for c in columns[1:])
            con.executemany(f"UPDATE chunks SET {sets} WHERE id = ?", updates)
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(out_dir)
    return final
