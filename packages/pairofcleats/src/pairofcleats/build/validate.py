"""The validation gate (§6): every piece against its manifest, every invariant of §5.

``validate_build`` never raises on bad content; it returns the report that goes
into ``build_state.validation`` and decides promotion.
"""

from __future__ import annotations

import itertools
import multiprocessing
import operator
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import orjson
from groundwork import jsonio
from groundwork.errors import GroundworkError
from groundwork.proc import kill_tree
from pydantic import ValidationError

from pairofcleats.artifacts.reader import IndexReader
from pairofcleats.artifacts.schema import IndexState, PiecesManifest, shape_problem
from pairofcleats.artifacts.writer import checksum
from pairofcleats.build.memory import cap_mmap_threshold, gc_paused, release_free_memory
from pairofcleats.errors import IndexInvalid
from pairofcleats.paths import index_dir, sqlite_dir
from pairofcleats.postings import MINHASH_SEEDS
from pairofcleats.sqlite_stage import db_name, judge_sqlite, sqlite_facts

if TYPE_CHECKING:
    from pairofcleats.build.reuse import Trusted

_T = TypeVar("_T")


def _loads(data: bytes) -> Any:
    """orjson parse: pieces hold no integer beyond 64 bits, so it is exact here and it
    avoids jsonio's exact-bigint fallback that long digit strings in a vocab trigger."""
    return orjson.loads(data)


class _Report:
    def __init__(self) -> None:
        self.issues: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []

    def add(self, mode: str | None, artifact: str | None, code: str, message: str) -> None:
        self.issues.append({"mode": mode, "artifact": artifact, "code": code, "message": message})

    def warn(self, mode: str | None, artifact: str | None, code: str, message: str) -> None:
        self.warnings.append({"mode": mode, "artifact": artifact, "code": code, "message": message})


def _check_vocab(rep: _Report, mode: str, name: str, vocab: Any) -> None:
    if not isinstance(vocab, list):
        rep.add(mode, name, "VOCAB_INVALID", "vocab is not a list")
        return
    # one C-level pass (a Python loop over pairs was most of this check); the pair that
    # breaks the order is looked for only when there is one
    if all(map(operator.lt, vocab, itertools.islice(vocab, 1, None))):
        return
    for a, b in itertools.pairwise(vocab):
        if not a < b:
            rep.add(mode, name, "VOCAB_UNSORTED", f"vocab not sorted/unique at {a!r}, {b!r}")
            return


@dataclass(frozen=True, slots=True)
class FlatPostings:
    """docId lists as flat arrays: list lengths and all docIds in order."""

    lengths: np.ndarray[Any, Any]
    docs: np.ndarray[Any, Any]


def _flat_docs(postings: list[Any], with_tf: bool = False) -> FlatPostings:
    """The docIds of ``postings`` (lists of docIds, or of ``[docId, tf]`` pairs when
    ``with_tf``); raises TypeError/ValueError on anything else."""
    # fromiter over chained iterators stays in C; np.asarray of nested lists was the
    # slowest step of validation (profiled)
    chain = itertools.chain.from_iterable
    lengths = np.fromiter(map(len, postings), dtype=np.int64, count=len(postings))
    count = int(lengths.sum())
    if not with_tf:
        return FlatPostings(lengths, np.fromiter(chain(postings), dtype=np.int64, count=count))
    plens = np.fromiter(map(len, chain(postings)), dtype=np.int64, count=count)
    if bool((plens != 2).any()):
        raise ValueError("posting is not a [docId, tf] pair")
    del plens
    pairs = np.fromiter(chain(chain(postings)), dtype=np.int64, count=2 * count)
    return FlatPostings(lengths, pairs[0::2])


#: docId-list pieces parsed in slices: parsed whole, a medium code mode's phrase_ngrams
#: (104 MB) became 722 MB of Python ints on top of the build, validation's memory peak.
_SLICED = frozenset({"phrase_ngrams", "chargram_postings"})
_SLICE_BYTES = 4 << 20
_POSTINGS_HEAD = b'{"postings":['
_VOCAB_SEP = b'],"vocab":'
_LIST_CHARS = b"0123456789,[]"


def _sliced(data: bytes) -> dict[str, Any] | None:
    """``{"postings": FlatPostings, "vocab"}`` of a canon docId-list piece, parsed a few MB
    of lists at a time; None when the bytes are not that plain layout (sorted keys put
    ``postings`` first; only digits, commas and brackets in it), so the piece is parsed
    whole and any problem is reported the usual way.

    The arrays are sized up front from the bytes (lists = ``[``, docIds = commas + 1 -
    empty lists) and filled slice by slice: collected and concatenated, the docIds were
    held twice beside the piece's bytes (the medium code mode's chargrams: 15.5 M docIds).
    A count the slices do not fill exactly means the layout is not plain."""
    cut = data.find(_VOCAB_SEP)
    if not data.startswith(_POSTINGS_HEAD) or cut < 0 or not data.endswith(b"}"):
        return None
    start = len(_POSTINGS_HEAD)
    n_lists = data.count(b"[", start, cut)
    n_docs = data.count(b",", start, cut) + 1 - data.count(b"[]", start, cut) if n_lists else 0
    lengths = np.empty(n_lists, dtype=np.int64)
    docs = np.empty(max(n_docs, 0), dtype=np.int64)
    at_list = at_doc = 0
    try:
        while start < cut:
            end = data.find(b"],[", start + _SLICE_BYTES, cut)
            end = cut if end < 0 else end + 1
            part = data[start:end]
            if part.translate(None, _LIST_CHARS):
                return None
            flat = _flat_docs(orjson.loads(b"[" + part + b"]"))
            del part
            if at_list + flat.lengths.size > lengths.size or at_doc + flat.docs.size > docs.size:
                return None
            lengths[at_list : at_list + flat.lengths.size] = flat.lengths
            docs[at_doc : at_doc + flat.docs.size] = flat.docs
            at_list += flat.lengths.size
            at_doc += flat.docs.size
            start = end + 1
        if at_list != lengths.size or at_doc != docs.size:
            return None
        # a view, not a copy: the vocab's bytes are most of a phrase piece's
        vocab = orjson.loads(memoryview(data)[cut + len(_VOCAB_SEP) : -1])
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None
    return {"postings": FlatPostings(lengths, docs), "vocab": vocab}


def _check_postings(
    rep: _Report, mode: str, name: str, postings: Any, n: int, with_tf: bool
) -> None:
    """docIds strictly ascending per token and inside 0..n-1, checked as flat arrays."""
    if isinstance(postings, FlatPostings):
        flat = postings
    elif not isinstance(postings, list):
        rep.add(mode, name, "POSTINGS_INVALID", "postings is not a list")
        return
    else:
        try:
            flat = _flat_docs(postings, with_tf)
        except (TypeError, ValueError):
            rep.add(mode, name, "POSTINGS_INVALID", "malformed posting lists")
            return
    lengths, docs = flat.lengths, flat.docs
    total = int(lengths.sum())
    if docs.size == 0:
        return
    if docs.size != total:
        rep.add(mode, name, "POSTINGS_INVALID", "malformed posting lists")
        return
    # where each list ends in ``docs``: a step from one list's last docId to the next
    # list's first is not an order violation (no per-posting list-id array needed)
    ends = np.cumsum(lengths)
    # compared, not subtracted: no docIds-sized int64 temporary (and no wrapped difference)
    bad = docs[1:] <= docs[:-1]
    starts = ends[:-1]
    bad[starts[(starts > 0) & (starts < total)] - 1] = False
    if bool(bad.any()):
        tid = int(np.searchsorted(ends, int(np.argmax(bad)) + 1, side="right"))
        rep.add(mode, name, "POSTINGS_ORDER", f"token {tid}: docIds not strictly ascending")
        return
    if int(docs.min()) < 0 or int(docs.max()) >= n:
        outside = (docs < 0) | (docs >= n)
        tid = int(np.searchsorted(ends, int(np.argmax(outside)), side="right"))
        rep.add(mode, name, "POSTINGS_RANGE", f"token {tid}: docId outside 0..{n - 1}")


_DENSE = ("dense_vectors_uint8", "dense_vectors_doc_uint8", "dense_vectors_code_uint8")


def _is_chunk_piece(name: str) -> bool:
    return name == "chunk_meta" or name.startswith("chunk_meta.")


def _load_piece(
    rep: _Report, reader: IndexReader, mode: str, entry: Any, parse: bool = True
) -> tuple[bool, Any]:
    """Read, size/checksum-verify and parse one piece; ``(False, None)`` after an issue.
    ``parse=False`` stops after the checksum (the value is then None)."""
    name = entry.name
    try:
        data = reader.read_bytes(name)
    except IndexInvalid as exc:
        rep.add(mode, name, "PIECE_MISSING", exc.message)
        return False, None
    if len(data) != entry.bytes:
        rep.add(mode, name, "PIECE_BYTES", f"{len(data)} bytes, manifest says {entry.bytes}")
        return False, None
    if checksum(data) != entry.checksum:
        rep.add(mode, name, "PIECE_CHECKSUM", "xxh64 checksum does not match the manifest")
        return False, None
    if not parse:
        return True, None
    if entry.format == "json":
        if name in _SLICED and (lean := _sliced(data)) is not None:
            return True, lean
        try:
            value = _loads(data)
        except (GroundworkError, ValueError, orjson.JSONDecodeError) as exc:
            rep.add(mode, name, "PIECE_INVALID_JSON", str(exc))
            return False, None
        problem = shape_problem(name, value)
        if problem:
            rep.add(mode, name, "PIECE_SHAPE", problem)
            return False, None
        return True, value
    if entry.format == "jsonl" and name == "field_tokens":
        return True, data.count(b"\n")  # bytes are checksum-verified; count lines
    if entry.format == "jsonl":
        try:
            return True, [_loads(line) for line in data.splitlines() if line]
        except (GroundworkError, ValueError, orjson.JSONDecodeError) as exc:
            rep.add(mode, name, "PIECE_INVALID_JSON", str(exc))
            return False, None
    return True, data


def _count_of(name: str, value: Any, n: int) -> int | None:
    if name in ("token_postings", "phrase_ngrams", "chargram_postings"):
        return len(value["vocab"])
    if name == "field_postings":
        return len(value["fields"])
    if name == "minhash_signatures":
        return len(value["signatures"])
    if name == "filter_index":
        return n
    if name.startswith("dense_vectors") and isinstance(value, dict):
        return int(value.get("count", -1))
    if isinstance(value, list):
        return len(value)
    if isinstance(value, int):
        return value
    return None


def _check_content(rep: _Report, mode: str, name: str, value: Any, n: int) -> None:
    """The §5 invariants of one parsed piece against the chunk count ``n``."""
    if name == "field_tokens" and value != n:
        rep.add(mode, "field_tokens", "COUNT_MISMATCH", f"{value} lines for {n} chunks")
    elif name == "token_postings":
        tp = value
        if len(tp["docLengths"]) != n or tp.get("totalDocs") != n:
            rep.add(
                mode,
                "token_postings",
                "COUNT_MISMATCH",
                f"docLengths/totalDocs differ from {n} chunks",
            )
        _check_vocab(rep, mode, "token_postings", tp["vocab"])
        if len(tp["postings"]) != len(tp["vocab"]):
            rep.add(mode, "token_postings", "COUNT_MISMATCH", "postings and vocab lengths differ")
        _check_postings(rep, mode, "token_postings", tp["postings"], n, True)
    elif name == "field_postings":
        for field, fv in sorted(value["fields"].items()):
            _check_vocab(rep, mode, f"field_postings.{field}", fv.get("vocab"))
            _check_postings(rep, mode, f"field_postings.{field}", fv.get("postings"), n, True)
            if len(fv.get("docLengths", [])) != n:
                rep.add(
                    mode,
                    f"field_postings.{field}",
                    "COUNT_MISMATCH",
                    "docLengths differ from chunks",
                )
    elif name in ("phrase_ngrams", "chargram_postings"):
        _check_vocab(rep, mode, name, value["vocab"])
        _check_postings(rep, mode, name, value["postings"], n, False)
    elif name == "minhash_signatures":
        sigs = value["signatures"]
        if len(sigs) != n:
            rep.add(
                mode,
                "minhash_signatures",
                "COUNT_MISMATCH",
                f"{len(sigs)} signatures for {n} chunks",
            )
        elif any(not isinstance(s, list) or len(s) != MINHASH_SEEDS for s in sigs):
            rep.add(mode, "minhash_signatures", "MINHASH_INVALID", "a signature is not 128 values")


# -- the tasks -------------------------------------------------------------------------------
# Validation is split into tasks that are pure functions of the build's bytes (and of the
# chunk count, for the pieces): a mode's head (manifest, index_state, chunk pieces), each of
# its other pieces, each SQLite db. ``_merge`` asks for their results in the sequential order
# and reports them in that order, so the report does not depend on where or when they ran.


@dataclass(frozen=True, slots=True)
class _Head:
    """A mode's manifest, index_state and chunk pieces.

    ``n`` is the chunk count, None when the mode's other pieces are not checked; ``rest``
    their positions in the manifest; ``keys`` the compatibilityKey issues (reported after
    the pieces); ``no_chunks``: the manifest has no chunk_meta at all."""

    issues: list[dict[str, Any]]
    n: int | None
    rest: tuple[int, ...] = ()
    keys: list[dict[str, Any]] = field(default_factory=list)
    no_chunks: bool = False


@dataclass(frozen=True, slots=True)
class _Piece:
    """One piece's issues; ``parsed``: it was parsed and checked, and then a dense meta
    piece's value is in ``dense``, a binary piece's length in ``raw_bytes``."""

    name: str
    issues: list[dict[str, Any]]
    parsed: bool = False
    dense: Any = None
    raw_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class _Db:
    """A db's checksum problem (then no facts), or its ``sqlite_facts`` when asked for."""

    error: str | None
    facts: list[Any] | None = None


def _mode_head(root: Path, mode: str, key: str | None, trusted: Trusted | None) -> _Head:
    """Check ``index-<mode>``'s manifest, index_state and chunk pieces.

    ``trusted`` holds the checksums of pieces a validated build of the same compatibilityKey
    and tool version had for this mode, with its chunk count. Validation is a pure function
    of a piece's bytes and the chunk count, so a piece whose bytes verify against its manifest
    checksum and equal a trusted one (same name, same count of chunks) passed these checks
    already: it is checksum-verified here but not parsed again.
    """
    rep = _Report()
    try:
        reader = IndexReader(index_dir(root, mode))
    except IndexInvalid as exc:
        rep.add(mode, "pieces/manifest.json", "MANIFEST_INVALID", exc.message)
        return _Head(rep.issues, None)
    state: IndexState | None = None
    try:
        state = reader.index_state()
    except IndexInvalid as exc:
        rep.add(mode, "index_state.json", "INDEX_STATE_INVALID", exc.message)
    keys = _Report()
    if key is not None:
        if reader.manifest.compatibilityKey != key:
            keys.add(
                mode, "pieces/manifest.json", "COMPAT_MISMATCH", "manifest compatibilityKey differs"
            )
        if state is not None and state.compatibilityKey != key:
            keys.add(
                mode, "index_state.json", "COMPAT_MISMATCH", "index_state compatibilityKey differs"
            )
    entries = list(reader.manifest.pieces)
    rest = tuple(i for i, e in enumerate(entries) if not _is_chunk_piece(e.name))

    def same(entry: Any) -> bool:
        return trusted is not None and trusted.pieces.get(entry.name) == entry.checksum

    chunk_entries = [e for e in entries if _is_chunk_piece(e.name)]
    if trusted is not None and chunk_entries and all(same(e) for e in chunk_entries):
        # the validated build's chunk_meta bytes: its ids and counts held for its chunk count
        if all(_load_piece(rep, reader, mode, e, parse=False)[0] for e in chunk_entries):
            return _Head(rep.issues, trusted.chunks, rest, keys.issues)
        return _Head(rep.issues, None)
    chunk_values: dict[str, Any] = {}
    for entry in chunk_entries:
        ok, value = _load_piece(rep, reader, mode, entry)
        if ok:
            chunk_values[entry.name] = value
        # not left bound to the last chunk piece: ``chunk_meta`` parsed (450 MB on the
        # medium code mode) outlived ``del chunks`` through every other piece's check
        del value
    chunks = chunk_values.get("chunk_meta")
    if chunks is None and "chunk_meta.meta" in chunk_values:
        chunks = []
        k = 0
        while f"chunk_meta.part-{k:05d}" in chunk_values:
            chunks.extend(chunk_values[f"chunk_meta.part-{k:05d}"])
            k += 1
    if chunks is None:
        return _Head(rep.issues, None, no_chunks=True)
    n = len(chunks)
    if [c.get("id") for c in chunks] != list(range(n)):
        rep.add(mode, "chunk_meta", "IDS_INVALID", "chunk ids are not 0..n-1 in order")
    for entry in chunk_entries:
        if (
            entry.name in chunk_values
            and entry.count is not None
            and entry.name != "chunk_meta.meta"
        ):
            got = _count_of(entry.name, chunk_values[entry.name], n)
            if got is not None and got != entry.count:
                rep.add(
                    mode, entry.name, "PIECE_COUNT", f"{got} records, manifest says {entry.count}"
                )
    del chunks, chunk_values
    return _Head(rep.issues, n, rest, keys.issues)


def _mode_piece(root: Path, mode: str, index: int, n: int, trusted: Trusted | None) -> _Piece:
    """Check the piece at ``index`` of ``index-<mode>``'s manifest against ``n`` chunks
    (``trusted`` as in ``_mode_head``: a trusted piece is checksum-verified only)."""
    from pairofcleats.build.reuse import TRUSTABLE

    reader = IndexReader(index_dir(root, mode))
    entry = reader.manifest.pieces[index]
    name = entry.name
    rep = _Report()
    if (
        trusted is not None
        and trusted.chunks == n
        and name in TRUSTABLE
        and trusted.pieces.get(name) == entry.checksum
    ):
        _load_piece(rep, reader, mode, entry, parse=False)
        return _Piece(name, rep.issues)
    ok, value = _load_piece(rep, reader, mode, entry)
    if not ok:
        return _Piece(name, rep.issues)
    if entry.count is not None:
        got = _count_of(name, value, n)
        if got is not None and got != entry.count:
            rep.add(mode, name, "PIECE_COUNT", f"{got} records, manifest says {entry.count}")
    _check_content(rep, mode, name, value, n)
    if name in _DENSE:
        return _Piece(name, rep.issues, True, dense=value)
    if isinstance(value, bytes | bytearray):
        return _Piece(name, rep.issues, True, raw_bytes=len(value))
    return _Piece(name, rep.issues, True)


def _db_check(root: Path, mode: str, facts: bool) -> _Db:
    """Verify ``mode``'s SQLite db against the sqlite manifest (streamed: dbs are large);
    with ``facts``, then run its checks (``sqlite_facts``)."""
    sreader = IndexReader(sqlite_dir(root))
    name = db_name(mode)
    try:
        sreader.verify_file(name)
    except IndexInvalid as exc:
        return _Db(exc.message)
    return _Db(None, sqlite_facts(sreader.path(name)) if facts else None)


def _call(fn: Callable[..., _T], *args: Any) -> _T:
    """Run one task with the cyclic GC paused (its objects hold no cycles and die with it)
    and hand its freed heap back to the OS afterwards."""
    with gc_paused(freeze=False):
        out = fn(*args)
    release_free_memory()
    return out


# -- the merge -------------------------------------------------------------------------------


class _Inline:
    """Task results computed when the merge asks for them: the sequential path."""

    def get(self, key: tuple[Any, ...], fn: Callable[..., _T], *args: Any) -> _T:
        return _call(fn, *args)


def _merge(
    run: _Inline,
    build_root: Path,
    modes: list[str],
    key: str | None,
    check_sqlite_dbs: bool,
    trusted: Mapping[str, Trusted],
) -> _Report:
    """The report: each task's result asked of ``run`` and merged in the sequential order.

    A task's key names its inputs; ``_plan`` gives the tasks it starts early the same keys,
    so a result computed with a guessed chunk count is used only when the guess was right."""
    rep = _Report()
    counts: dict[str, int | None] = {}
    for mode in modes:
        t = trusted.get(mode)
        head = run.get(("head", mode), _mode_head, build_root, mode, key, t)
        rep.issues.extend(head.issues)
        n = counts[mode] = head.n
        if n is None:
            if head.no_chunks and not any(
                i["mode"] == mode and str(i["artifact"]).startswith("chunk_meta")
                for i in rep.issues
            ):
                rep.add(mode, "chunk_meta", "PIECE_MISSING", "no chunk_meta in the manifest")
            continue
        dense_meta: dict[str, Any] = {}
        bin_bytes: dict[str, int] = {}
        for index in head.rest:
            piece = run.get(("piece", mode, index, n), _mode_piece, build_root, mode, index, n, t)
            rep.issues.extend(piece.issues)
            if not piece.parsed:
                continue
            if piece.name in _DENSE:
                dense_meta[piece.name] = piece.dense
            elif piece.raw_bytes is not None:
                bin_bytes[piece.name] = piece.raw_bytes
        for name in _DENSE:
            meta = dense_meta.get(name)
            if meta is None:
                continue
            raw = bin_bytes.get(name + "_bin")
            if raw is None:
                rep.add(mode, name, "PIECE_MISSING", "vectors without their .bin piece")
            elif meta.get("count") != n or raw != n * int(meta.get("dims", 0)):
                rep.add(mode, name, "COUNT_MISMATCH", f"dense rows differ from {n} chunks")
        rep.issues.extend(head.keys)
    if not check_sqlite_dbs:
        return rep
    try:
        sreader = IndexReader(sqlite_dir(build_root))
    except IndexInvalid as exc:
        rep.add("sqlite", "pieces/manifest.json", "MANIFEST_INVALID", exc.message)
        return rep
    for mode in modes:
        name = db_name(mode)
        if not sreader.has(name):
            rep.add(mode, name, "PIECE_MISSING", "sqlite db not in the sqlite manifest")
            continue
        n = counts.get(mode)
        t = trusted.get(mode)
        # a trusted db (same bytes, same chunk count) is verified only
        checks = not (
            t is not None and n == t.chunks and t.dbs.get(name) == sreader.entry(name).checksum
        )
        db = run.get(("db", mode, checks), _db_check, build_root, mode, checks)
        if db.error is not None:
            rep.add(mode, name, "PIECE_CHECKSUM", db.error)
            continue
        if db.facts is None:
            continue
        fname = sreader.path(name).name
        for code, msg in judge_sqlite(fname, db.facts, n if n is not None else -1, key or ""):
            rep.add(mode, name, code, msg)
    return rep


def validate_build(
    build_root: Path,
    modes: list[str],
    key: str | None,
    check_sqlite_dbs: bool,
    trusted: Mapping[str, Trusted] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """``{ok, checkedAt, issueCount, warningCount, issues[], warnings[]}`` for a build dir.

    ``trusted`` (per mode, see ``_mode_head``) comes from a validated build of the same
    ``key``; a SQLite db with a trusted checksum, verified, skips the integrity checks.

    Each mode's pieces are checked, then each mode's SQLite db. With ``threads`` > 1 the
    independent tasks (a mode's chunk pieces, each other piece, each db) run at once, in
    this process and up to ``threads - 1`` worker processes (see ``_lanes``, ``_Pool``);
    the report is the sequential one either way: results are merged in sequential order.
    """
    trusted = trusted or {}
    run: _Inline = _Inline()
    if threads > 1:
        tasks = _plan(build_root, modes, key, check_sqlite_dbs, trusted)
        lanes = _lanes(tasks, threads)
        placed = _assign(tasks, lanes)
        if placed is not None:
            run = _Pool(*placed, workers=lanes - 1)
    try:
        if isinstance(run, _Pool):
            run.run_here()
        rep = _merge(run, build_root, modes, key, check_sqlite_dbs, trusted)
    finally:
        if isinstance(run, _Pool):
            run.close()
    return {
        "ok": not rep.issues,
        "checkedAt": jsonio.utc_now_iso(),
        "issueCount": len(rep.issues),
        "warningCount": len(rep.warnings),
        "issues": rep.issues,
        "warnings": rep.warnings,
    }


# -- running the tasks at once ---------------------------------------------------------------

#: Estimated ``(seconds, peak MB)`` per MB of a piece checked, by piece name (the medium
#: corpus, one core); they only place the tasks, never change what is reported.
_PIECE_COST: dict[str, tuple[float, float]] = {
    "token_postings": (0.033, 14.0),
    "field_postings": (0.030, 13.0),
    "phrase_ngrams": (0.017, 3.5),
    "chargram_postings": (0.018, 2.7),
    "minhash_signatures": (0.011, 9.0),
    "filter_index": (0.013, 8.0),
    "chunk_meta": (0.009, 5.0),
    "field_tokens": (0.0015, 1.0),
}
_JSON_COST = (0.010, 5.0)  # other JSON and JSONL pieces
_RAW_COST = (0.001, 1.0)  # binary pieces, and pieces only checksum-verified
_DB_COST = (0.0035, 0.0)  # a db's checks: SQLite's page cache is small
_DB_VERIFY_COST = (0.0005, 0.0)  # a db's streamed checksum
_TASK_COST = 0.005  # seconds: opening the manifest, sending the result
#: Seconds a spawned worker takes to start (an interpreter importing this module).
_START_COST = 0.6
#: Below this many estimated seconds of work the pool's start costs more than it saves.
_POOL_MIN_COST = 2.0


@dataclass(frozen=True, slots=True)
class _Task:
    key: tuple[Any, ...]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cost: float
    mem: float


def _cost(entry: Any, verify_only: bool = False) -> tuple[float, float]:
    mb = entry.bytes / (1 << 20)
    if verify_only or entry.format not in ("json", "jsonl"):
        per = _RAW_COST
    else:
        base = entry.name.split(".", 1)[0]
        per = _PIECE_COST.get(entry.name, _PIECE_COST.get(base, _JSON_COST))
    return _TASK_COST + per[0] * mb, per[1] * mb


def _guess_chunks(entries: list[Any], trusted: Trusted | None) -> int | None:
    """The chunk count ``_mode_head`` will find if the chunk pieces are sound: the trusted
    count for trusted chunk pieces, else the manifest's record counts; None if unknown."""
    chunk = [e for e in entries if _is_chunk_piece(e.name)]
    if (
        trusted is not None
        and chunk
        and all(trusted.pieces.get(e.name) == e.checksum for e in chunk)
    ):
        return trusted.chunks
    by_name = {e.name: e for e in entries}
    if "chunk_meta" in by_name:
        count: int | None = by_name["chunk_meta"].count
        return count
    if "chunk_meta.meta" not in by_name:
        return None
    total = 0
    k = 0
    while (part := by_name.get(f"chunk_meta.part-{k:05d}")) is not None:
        if part.count is None:
            return None
        total += part.count
        k += 1
    return total


def _plan(
    build_root: Path,
    modes: list[str],
    key: str | None,
    check_sqlite_dbs: bool,
    trusted: Mapping[str, Trusted],
) -> list[_Task]:
    """The tasks ``_merge`` will ask for, keyed as it asks (the pieces' chunk count guessed
    from the manifests), with their estimated cost. A wrong guess (a corrupt build) only
    means that task runs again when the merge asks for it."""
    from pairofcleats.build.reuse import TRUSTABLE

    tasks: list[_Task] = []
    guesses: dict[str, int | None] = {}
    for mode in modes:
        t = trusted.get(mode)
        try:
            entries = list(IndexReader(index_dir(build_root, mode)).manifest.pieces)
        except IndexInvalid:
            continue  # the head reports it, at no cost
        n = guesses[mode] = _guess_chunks(entries, t)
        chunk_trusted = n is not None and t is not None and n == t.chunks
        head = [_cost(e, chunk_trusted) for e in entries if _is_chunk_piece(e.name)]
        tasks.append(
            _Task(
                ("head", mode),
                _mode_head,
                (build_root, mode, key, t),
                sum(c for c, _ in head),
                max((m for _, m in head), default=0.0),
            )
        )
        if n is None:
            continue
        for index, e in enumerate(entries):
            if _is_chunk_piece(e.name):
                continue
            skip = (
                t is not None
                and t.chunks == n
                and e.name in TRUSTABLE
                and t.pieces.get(e.name) == e.checksum
            )
            cost, mem = _cost(e, skip)
            args = (build_root, mode, index, n, t)
            tasks.append(_Task(("piece", mode, index, n), _mode_piece, args, cost, mem))
    if not check_sqlite_dbs:
        return tasks
    try:
        sreader = IndexReader(sqlite_dir(build_root))
    except IndexInvalid:
        return tasks
    for mode in modes:
        name = db_name(mode)
        if not sreader.has(name):
            continue
        entry = sreader.entry(name)
        t = trusted.get(mode)
        checks = not (
            t is not None and guesses.get(mode) == t.chunks and t.dbs.get(name) == entry.checksum
        )
        per = _DB_COST if checks else _DB_VERIFY_COST
        cost = _TASK_COST + per[0] * entry.bytes / (1 << 20)
        tasks.append(_Task(("db", mode, checks), _db_check, (build_root, mode, checks), cost, 0.0))
    return tasks


def _lanes(tasks: list[_Task], threads: int) -> int:
    """``threads``, but no more lanes than the longest task fits into the estimated total:
    more cannot end sooner, and each worker adds its start-up and its peak RSS."""
    if not tasks:
        return 1
    longest = max(t.cost for t in tasks)
    return max(1, min(threads, int(sum(t.cost for t in tasks) // longest)))


def _assign(tasks: list[_Task], threads: int) -> tuple[list[_Task], list[_Task]] | None:
    """``(here, pool)``: the tasks for this process and for the ``threads - 1`` workers, or
    None when the work is too small to be worth a pool.

    The pool gets its share of the estimated time (less its start-up), taken from the tasks
    of least memory up: this process's heap was grown by the build before and has room to
    spare (its free pages are reused), a worker's peak adds to the build's. The pool's tasks
    go longest first, so its workers end together."""
    workers = threads - 1
    total = sum(t.cost for t in tasks)
    if workers < 1 or total < _POOL_MIN_COST:
        return None
    share = (total + workers * _START_COST) * workers / threads - workers * _START_COST
    pool: list[_Task] = []
    load = 0.0
    for task in sorted(tasks, key=lambda t: (t.mem, -t.cost)):
        if load + task.cost / 2 <= share:
            pool.append(task)
            load += task.cost
    if not pool:
        return None
    keys = {t.key for t in pool}
    pool.sort(key=lambda t: -t.cost)
    return [t for t in tasks if t.key not in keys], pool


#: Seconds between a worker's looks at whether its parent is still alive.
_PARENT_POLL_S = 0.5


def _worker_init(parent: int) -> None:
    """A worker leaves SIGINT to its parent (which ends the pool), caps the mmap threshold
    as the build does (§13), and exits once its parent is gone: a pool's workers hold the
    write end of their own task queue, so a parent killed with SIGKILL left them (and the
    resource tracker they keep open) waiting for a task forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cap_mmap_threshold()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_S)
    os._exit(1)  # mid-task too: nothing a worker does needs cleaning up


class _Pool(_Inline):
    """The tasks of ``here`` run in this process (``run_here``), those of ``pool`` in
    ``workers`` spawned processes; the merge takes each result when it comes to it.

    Spawned, not forked: the build has threads live at validation (the lock's heartbeat),
    a fork copies whatever lock one of them holds, and a forked worker's RSS counts the
    parent's whole heap. A spawned worker starts in about 0.55 s (measured; importing this
    module), overlapped with this process's own tasks. As with any spawn pool, it imports
    the host's ``__main__``: a host script guards its entry point.

    A task that raised in a worker, or whose worker died, is run again here when the merge
    asks for it, so what is raised is what (and where) the sequential path raises. ``close``
    always shuts the pool down, killing its workers (``kill_tree``) if tasks are still
    pending: guessed ones the merge did not want, or after an exception or an interrupt."""

    def __init__(self, here: list[_Task], pool: list[_Task], workers: int) -> None:
        self._here = here
        self._done: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        self._executor = ProcessPoolExecutor(
            max_workers=min(workers, len(pool)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        self._futures: dict[tuple[Any, ...], Future[Any]] = {}
        try:
            for task in pool:
                self._futures[task.key] = self._executor.submit(_call, task.fn, *task.args)
        except BaseException:
            self.close()
            raise

    def run_here(self) -> None:
        for task in self._here:
            try:
                self._done[task.key] = (True, _call(task.fn, *task.args))
            except Exception as exc:  # raised where the merge asks for this result
                self._done[task.key] = (False, exc)

    def get(self, key: tuple[Any, ...], fn: Callable[..., _T], *args: Any) -> _T:
        done = self._done.pop(key, None)
        if done is not None:
            if done[0]:
                value: _T = done[1]
                return value
            raise done[1]
        fut = self._futures.pop(key, None)
        if fut is None:
            return _call(fn, *args)
        try:
            out: _T = fut.result()
        except Exception:  # the task raised, or its worker died (BrokenProcessPool)
            return _call(fn, *args)  # so it raises here what the sequential path raises
        return out

    def close(self) -> None:
        # no future is cancelled: on 3.11 a pool that breaks with a cancelled future
        # pending crashes its manager thread (set_exception on it); killed workers break
        # the pool, which fails the pending futures, and shutdown then returns
        if any(not f.done() for f in self._futures.values()):
            for proc in list((getattr(self._executor, "_processes", None) or {}).values()):
                if proc.pid is not None:
                    kill_tree(proc.pid, grace_s=1.0)
        self._executor.shutdown(wait=True)
        self._futures.clear()


def manifest_valid(path: Path) -> bool:
    """True when ``path`` parses as a pieces manifest."""
    try:
        PiecesManifest.model_validate(jsonio.loads(path.read_bytes()))
        return True
    except (OSError, GroundworkError, ValueError, ValidationError):
        return False
