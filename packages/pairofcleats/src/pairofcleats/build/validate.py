"""The validation gate (§6): every piece against its manifest, every invariant of §5.

``validate_build`` never raises on bad content; it returns the report that goes
into ``build_state.validation`` and decides promotion.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from groundwork import jsonio
from groundwork.errors import GroundworkError
from pydantic import ValidationError

from pairofcleats.artifacts.reader import IndexReader
from pairofcleats.artifacts.schema import IndexState, PiecesManifest, shape_problem
from pairofcleats.artifacts.writer import checksum
from pairofcleats.build.memory import release_free_memory
from pairofcleats.errors import IndexInvalid
from pairofcleats.paths import index_dir, sqlite_dir
from pairofcleats.postings import MINHASH_SEEDS
from pairofcleats.sqlite_stage import check_sqlite, db_name

if TYPE_CHECKING:
    from pairofcleats.build.reuse import Trusted


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


def _validate_mode(
    rep: _Report, root: Path, mode: str, key: str | None, trusted: Trusted | None = None
) -> int | None:
    """Check ``index-<mode>``; returns its chunk count (None if unreadable).

    Pieces are parsed and checked one at a time and dropped at once: holding every
    parsed piece of a mode together made validation the build's memory peak.

    ``trusted`` holds the checksums of pieces a validated build of the same compatibilityKey
    and tool version had for this mode, with its chunk count. Validation is a pure function
    of a piece's bytes and the chunk count, so a piece whose bytes verify against its manifest
    checksum and equal a trusted one (same name, same count of chunks) passed these checks
    already: it is checksum-verified here but not parsed again.
    """
    idir = index_dir(root, mode)
    try:
        reader = IndexReader(idir)
    except IndexInvalid as exc:
        rep.add(mode, "pieces/manifest.json", "MANIFEST_INVALID", exc.message)
        return None
    state: IndexState | None = None
    try:
        state = reader.index_state()
    except IndexInvalid as exc:
        rep.add(mode, "index_state.json", "INDEX_STATE_INVALID", exc.message)
    entries = list(reader.manifest.pieces)

    def same(entry: Any) -> bool:
        return trusted is not None and trusted.pieces.get(entry.name) == entry.checksum

    chunk_entries = [e for e in entries if _is_chunk_piece(e.name)]
    if trusted is not None and chunk_entries and all(same(e) for e in chunk_entries):
        # the validated build's chunk_meta bytes: its ids and counts held for its chunk count
        if all(_load_piece(rep, reader, mode, e, parse=False)[0] for e in chunk_entries):
            n = trusted.chunks
            return _validate_rest(rep, reader, state, mode, key, entries, n, trusted)
        return None
    chunk_values: dict[str, Any] = {}
    for entry in entries:
        if _is_chunk_piece(entry.name):
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
        if not any(
            i["mode"] == mode and str(i["artifact"]).startswith("chunk_meta") for i in rep.issues
        ):
            rep.add(mode, "chunk_meta", "PIECE_MISSING", "no chunk_meta in the manifest")
        return None
    n = len(chunks)
    if [c.get("id") for c in chunks] != list(range(n)):
        rep.add(mode, "chunk_meta", "IDS_INVALID", "chunk ids are not 0..n-1 in order")
    for entry in entries:
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
    return _validate_rest(rep, reader, state, mode, key, entries, n, trusted)


def _validate_rest(
    rep: _Report,
    reader: IndexReader,
    state: IndexState | None,
    mode: str,
    key: str | None,
    entries: list[Any],
    n: int,
    trusted: Trusted | None,
) -> int:
    """The pieces other than chunk_meta against the chunk count ``n``, and the keys."""
    from pairofcleats.build.reuse import TRUSTABLE

    dense_meta: dict[str, Any] = {}
    bin_bytes: dict[str, int] = {}
    for entry in entries:
        name = entry.name
        if _is_chunk_piece(name):
            continue
        if (
            trusted is not None
            and trusted.chunks == n
            and name in TRUSTABLE
            and trusted.pieces.get(name) == entry.checksum
        ):
            _load_piece(rep, reader, mode, entry, parse=False)
            continue
        ok, value = _load_piece(rep, reader, mode, entry)
        if not ok:
            continue
        if entry.count is not None:
            got = _count_of(name, value, n)
            if got is not None and got != entry.count:
                rep.add(mode, name, "PIECE_COUNT", f"{got} records, manifest says {entry.count}")
        _check_content(rep, mode, name, value, n)
        if name in _DENSE:
            dense_meta[name] = value
        elif isinstance(value, bytes | bytearray):
            bin_bytes[name] = len(value)
        del value
    for name in _DENSE:
        meta = dense_meta.get(name)
        if meta is None:
            continue
        raw = bin_bytes.get(name + "_bin")
        if raw is None:
            rep.add(mode, name, "PIECE_MISSING", "vectors without their .bin piece")
        elif meta.get("count") != n or raw != n * int(meta.get("dims", 0)):
            rep.add(mode, name, "COUNT_MISMATCH", f"dense rows differ from {n} chunks")
    if key is not None:
        if reader.manifest.compatibilityKey != key:
            rep.add(
                mode, "pieces/manifest.json", "COMPAT_MISMATCH", "manifest compatibilityKey differs"
            )
        if state is not None and state.compatibilityKey != key:
            rep.add(
                mode, "index_state.json", "COMPAT_MISMATCH", "index_state compatibilityKey differs"
            )
    return n


def validate_build(
    build_root: Path,
    modes: list[str],
    key: str | None,
    check_sqlite_dbs: bool,
    trusted: Mapping[str, Trusted] | None = None,
) -> dict[str, Any]:
    """``{ok, checkedAt, issueCount, warningCount, issues[], warnings[]}`` for a build dir.

    ``trusted`` (per mode, see ``_validate_mode``) comes from a validated build of the same
    ``key``; a SQLite db with a trusted checksum, verified, skips the integrity checks.
    """
    rep = _Report()
    counts: dict[str, int | None] = {}
    trusted = trusted or {}
    for mode in modes:
        counts[mode] = _validate_mode(rep, build_root, mode, key, trusted.get(mode))
        release_free_memory()  # the mode's parsed pieces
    if check_sqlite_dbs:
        sdir = sqlite_dir(build_root)
        try:
            sreader = IndexReader(sdir)
        except IndexInvalid as exc:
            rep.add("sqlite", "pieces/manifest.json", "MANIFEST_INVALID", exc.message)
            sreader = None
        if sreader is not None:
            for mode in modes:
                name = db_name(mode)
                if not sreader.has(name):
                    rep.add(mode, name, "PIECE_MISSING", "sqlite db not in the sqlite manifest")
                    continue
                try:
                    sreader.verify_file(name)  # streamed: dbs are large
                except IndexInvalid as exc:
                    rep.add(mode, name, "PIECE_CHECKSUM", exc.message)
                    continue
                n = counts.get(mode)
                t = trusted.get(mode)
                if (
                    t is not None
                    and n == t.chunks
                    and t.dbs.get(name) == sreader.entry(name).checksum
                ):
                    continue
                for code, msg in check_sqlite(
                    sreader.path(name), n if n is not None else -1, key or ""
                ):
                    rep.add(mode, name, code, msg)
    return {
        "ok": not rep.issues,
        "checkedAt": jsonio.utc_now_iso(),
        "issueCount": len(rep.issues),
        "warningCount": len(rep.warnings),
        "issues": rep.issues,
        "warnings": rep.warnings,
    }


def manifest_valid(path: Path) -> bool:
    """True when ``path`` parses as a pieces manifest."""
    try:
        PiecesManifest.model_validate(jsonio.loads(path.read_bytes()))
        return True
    except (OSError, GroundworkError, ValueError, ValidationError):
        return False
