"""Stage 4: one SQLite database per mode (§8, build side), plus its checks.

Schema 1 (all SQL lives here; the search side reads the same tables)::

    meta(key PK, value)                         compatibilityKey, buildId, mode, schemaVersion…
    chunks(id PK, chunk_id, chunk_uid, file, start, end, startLine, endLine, ext, lang,
           kind, name, signature, headline, weight, metaV2_json, file_id)
    chunks_fts  fts5(file, name, signature, kind, headline, doc, tokens,
                     tokenize='unicode61 remove_diacritics 2', content='')   rowid = chunks.id
    token_vocab(token PK, token_id)             WITHOUT ROWID
    token_postings(token_id, doc_id, tf)        WITHOUT ROWID, PK (token_id, doc_id)
    doc_lengths(doc_id PK, len)
    token_stats(key PK, value)                  avgDocLen, totalDocs
    field_vocab(field, token, token_id)         WITHOUT ROWID, PK (field, token)
    field_postings(field, token_id, doc_id, tf) WITHOUT ROWID
    field_stats(field PK, avg_doc_len, total_docs, doc_lengths BLOB <u4)
    field_tokens(doc_id PK, streams)            field \x1f space-joined tokens, \x1e between
    phrase_vocab(phrase PK, phrase_id)          first phrase of each block of PHRASE_BLOCK
    phrase_postings(phrase_id PK, phrases, bounds BLOB <u4, doc_ids BLOB <u4)   one block
    chargram_vocab(gram PK, gram_id) / chargram_postings(gram_id PK, doc_ids BLOB <u4)
    minhash_signatures(doc_id PK, sig BLOB 128 x <u4)
    dense_vectors(doc_id PK, vec BLOB uint8) / dense_meta(key PK, value)
    file_manifest(file PK, hash, mtimeMs, size, chunk_count)

The ``tokens`` column holds the unfielded stream with punctuation written as
``op`` + hex UTF-8 (``&&`` → ``op2626``) so unicode61 keeps it (§15 S2). Rows go
into FTS once and are never updated. The db is built as ``*.db.tmp`` with
``journal_mode=OFF`` in one transaction, indexes after the load, then
``PRAGMA optimize``, ``journal_mode=DELETE``, fsync and rename.

Load cost is per row, so only ``token_postings``/``field_postings`` (whose columns §8 fixes)
hold one row per posting; phrase and chargram doc lists (tens of millions of postings on a
real repo) are one ascending ``<u4`` blob per entry, and every vocabulary is keyed by its
text (sorted, so rows append in key order and no index is built afterwards). FTS5 automerge
is off while loading and the index is merged once (``optimize``). ``field_tokens`` lets the
search side answer phrase checks and typo candidates from the db alone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from groundwork import jsonio
from groundwork.fsio import fsync_dir

from pairofcleats.artifacts.schema import SQLITE_SCHEMA_VERSION
from pairofcleats.errors import IndexInvalid
from pairofcleats.sqlite_bulk import (
    PHRASE_SEP,
    WIDE_BLOCK_ROWS,
    Slices,
    doc_blobs,
    insert_columns,
    insert_packed,
    phrase_blocks,
    posting_columns,
    row_blobs,
)
from pairofcleats.tokenize import fts_token

_FTS_TABLE = """CREATE VIRTUAL TABLE chunks_fts USING fts5(file, name, signature, kind, headline,
  doc, tokens, tokenize='unicode61 remove_diacritics 2', content='')"""

_TABLES = (
    """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE chunks(id INTEGER PRIMARY KEY, chunk_id TEXT, chunk_uid TEXT, file TEXT, start INTEGER,
  "end" INTEGER, startLine INTEGER, endLine INTEGER, ext TEXT, lang TEXT, kind TEXT, name TEXT,
  signature TEXT, headline TEXT, weight REAL, metaV2_json TEXT, file_id INTEGER);
CREATE TABLE token_vocab(token TEXT PRIMARY KEY, token_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE token_postings(token_id INTEGER, doc_id INTEGER, tf INTEGER,
  PRIMARY KEY(token_id, doc_id)) WITHOUT ROWID;
CREATE TABLE doc_lengths(doc_id INTEGER PRIMARY KEY, len INTEGER);
CREATE TABLE token_stats(key TEXT PRIMARY KEY, value REAL) WITHOUT ROWID;
CREATE TABLE field_vocab(field TEXT, token TEXT, token_id INTEGER NOT NULL,
  PRIMARY KEY(field, token)) WITHOUT ROWID;
CREATE TABLE field_postings(field TEXT, token_id INTEGER, doc_id INTEGER, tf INTEGER,
  PRIMARY KEY(field, token_id, doc_id)) WITHOUT ROWID;
CREATE TABLE field_stats(field TEXT PRIMARY KEY, avg_doc_len REAL, total_docs INTEGER,
  doc_lengths BLOB) WITHOUT ROWID;
CREATE TABLE field_tokens(doc_id INTEGER PRIMARY KEY, streams TEXT);
CREATE TABLE phrase_vocab(phrase TEXT PRIMARY KEY, phrase_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE phrase_postings(phrase_id INTEGER PRIMARY KEY, phrases TEXT, bounds BLOB,
  doc_ids BLOB) WITHOUT ROWID;
CREATE TABLE chargram_vocab(gram TEXT PRIMARY KEY, gram_id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE chargram_postings(gram_id INTEGER PRIMARY KEY, doc_ids BLOB) WITHOUT ROWID;
CREATE TABLE minhash_signatures(doc_id INTEGER PRIMARY KEY, sig BLOB);
CREATE TABLE dense_vectors(doc_id INTEGER PRIMARY KEY, vec BLOB);
CREATE TABLE dense_meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE file_manifest(file TEXT PRIMARY KEY, hash TEXT, mtimeMs INTEGER, size INTEGER,
  chunk_count INTEGER) WITHOUT ROWID;
"""
    + _FTS_TABLE
)

_INDEXES = """
CREATE INDEX chunks_file ON chunks(file);
CREATE INDEX chunks_weight ON chunks(weight);
"""
# chunks_weight covers ``SELECT id, weight FROM chunks`` (id is the rowid): a query that
# scores many chunks reads a few hundred KiB instead of every wide chunks row.

#: FTS5 pending-terms hash size while loading, and its default restored afterwards.
FTS_HASH_LOAD = 48 * 1024 * 1024
FTS_HASH = 1024 * 1024

#: ``field_tokens.streams`` separators: tokens never hold a character <= U+0020 (the
#: postings builder rejects them), so these control characters cannot collide.
STREAM_SEP = "\x1e"
FIELD_SEP = "\x1f"

TABLE_NAMES = (
    "meta",
    "chunks",
    "chunks_fts",
    "token_vocab",
    "token_postings",
    "doc_lengths",
    "token_stats",
    "field_vocab",
    "field_postings",
    "field_stats",
    "field_tokens",
    "phrase_vocab",
    "phrase_postings",
    "chargram_vocab",
    "chargram_postings",
    "minhash_signatures",
    "dense_vectors",
    "dense_meta",
    "file_manifest",
)


def fts_stream(vocab: list[str]) -> Callable[[list[str]], str]:
    """``tokens`` column text of one stream whose tokens are all in ``vocab``.

    Only punctuation tokens change under ``fts_token`` (1.7k of 87k on a medium repo), so
    they go in a dict and ``map(dict.get, toks, toks)`` rewrites a stream without a Python
    call per token (half the cost of a memoised ``fts_token`` per token)."""
    enc = {t: e for t in vocab if (e := fts_token(t)) != t}
    get = enc.get
    if not enc:
        return " ".join
    return lambda toks: " ".join(map(get, toks, toks))


def _meta_json(meta: dict[str, Any]) -> str:
    """metaV2 as canonical JSON. It holds no floats (chunk_meta is written with orjson on
    the same premise), so orjson's sorted output is the canonical spelling; jsonio would
    re-encode nearly every record with the stdlib (any digit before an ``e`` in a hash
    trips its exponent-float check), 3x slower. Anything orjson refuses goes to jsonio."""
    try:
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return jsonio.dumps(meta).decode("utf-8")


def db_name(mode: str) -> str:
    """``index-<mode>.db``."""
    return f"index-{mode}.db"


def encode_streams(row: dict[str, list[str]]) -> str:
    """A ``field_tokens`` row as one text: ``field \\x1f tokens…`` joined by ``\\x1e``, fields
    in sorted order as in the ``field_tokens`` piece (a worker's and a parsed bundle's dicts
    order them differently, so the db of an incremental build differed from a full one's)."""
    return STREAM_SEP.join(f + FIELD_SEP + " ".join(toks) for f, toks in sorted(row.items()))


def decode_streams(text: str | None) -> dict[str, list[str]]:
    """Inverse of :func:`encode_streams` (empty streams come back as empty lists)."""
    out: dict[str, list[str]] = {}
    if not text:
        return out
    for part in text.split(STREAM_SEP):
        field, _, toks = part.partition(FIELD_SEP)
        out[field] = toks.split(" ") if toks else []
    return out


#: The block holding a phrase: the last whose first phrase sorts <= it (BINARY collation
#: compares UTF-8 bytes, which orders like Python's code-point ``sorted``).
PHRASE_BLOCK_SQL = (
    "SELECT p.phrases, p.bounds, p.doc_ids FROM phrase_vocab v CROSS JOIN phrase_postings p"
    " ON p.phrase_id = v.phrase_id WHERE v.phrase <= ? ORDER BY v.phrase DESC LIMIT 1"
)


def decode_phrase_block(
    row: tuple[str, bytes, bytes] | None, phrase: str
) -> npt.NDArray[np.uint32] | None:
    """``phrase``'s ascending doc ids from its ``PHRASE_BLOCK_SQL`` row; None if absent."""
    if row is None:
        return None
    text, bounds, docs = row
    names = text.split(PHRASE_SEP)
    i = bisect_left(names, phrase)
    if i == len(names) or names[i] != phrase:
        return None
    if len(bounds) != 4 * (len(names) + 1) or len(docs) % 4:
        raise IndexInvalid(f"corrupt phrase block: {len(names)} phrases, {len(bounds)} bound bytes")
    a, b = np.frombuffer(bounds, dtype="<u4")[i : i + 2].tolist()
    if not a <= b <= len(docs) // 4:
        raise IndexInvalid("corrupt phrase block: bounds out of range")
    return np.frombuffer(docs, dtype="<u4", count=b - a, offset=4 * a).astype(np.uint32)


#: FTS5's shadow tables of ``chunks_fts`` (content='': no content table), copied from
#: the side file where the FTS load ran, in this order.
FTS_SHADOW_TABLES = ("data", "idx", "docsize", "config")

#: Tables loaded in the side file with ``chunks_fts`` and copied in, in this order: few
#: rows for their load's CPU (1.9 s to load on a medium code db, 0.5 s to copy), which
#: splits the CPU of a db's two loads about evenly.
SIDE_TABLES = ("chunks", "field_tokens", "phrase_vocab", "phrase_postings")


def _create_sql(table: str) -> str:
    """The ``CREATE TABLE`` statement of ``table`` in ``_TABLES``."""
    head = f"CREATE TABLE {table}("
    return next(s.strip() for s in _TABLES.split(";") if s.strip().startswith(head))


def _load_pragmas(con: sqlite3.Connection) -> None:
    """Settings of a one-shot load into a fresh file (nothing is persisted but page_size)."""
    con.execute("PRAGMA page_size=8192")
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA temp_store=MEMORY")
    con.execute("PRAGMA cache_size=-32768")  # 32 MiB per load; not persisted
    con.execute("PRAGMA main.locking_mode=EXCLUSIVE")  # main only: not an attached side file


def _remove(*paths: Path) -> None:
    for p in paths:
        if p.exists():
            p.unlink()


@dataclass(slots=True)
class ChunkRows:
    """A mode's chunk records, tokens and field streams as the rows stage 4 loads them,
    each made a block at a time as the load reads it.

    Made whole up front, the rows (metaV2 JSON, token texts, field streams) were +177 MB
    of a medium code db's load on top of the records they come from (§13 RSS)."""

    #: The ``chunks`` table's columns (:func:`chunk_columns`, a block of chunks at once).
    columns: list[Slices]
    #: ``chunks_fts`` rows: ``(rowid, file, name, signature, kind, headline, doc, tokens)``.
    fts: Iterable[tuple[Any, ...]]
    #: ``field_tokens`` rows (:func:`encode_streams`), when the mode has field streams.
    streams: Slices | None


def fts_rows(
    chunks: Sequence[dict[str, Any]], tokens: Sequence[list[str]], vocab: list[str]
) -> Iterator[tuple[Any, ...]]:
    """``chunks_fts`` rows of ``chunks``, one at a time; ``vocab`` is the vocabulary of
    ``tokens`` (the unfielded stream of each chunk)."""
    stream = fts_stream(vocab)
    for c, toks in zip(chunks, tokens, strict=True):
        meta = c["metaV2"]
        yield (
            c["id"],
            c["file"],
            c["name"],
            meta.get("signature") or "",
            c["kind"],
            c["headline"],
            meta.get("doc") or "",
            stream(toks),
        )


def chunk_rows(
    chunks: Sequence[dict[str, Any]],
    tokens: Sequence[list[str]],
    vocab: list[str],
    field_tokens: Sequence[dict[str, list[str]]] | None,
) -> ChunkRows:
    """What stage 4 loads from ``chunks`` (with their ``tokens`` and ``field_tokens``)."""
    n = len(chunks)
    last: list[Any] = [None, None]  # the block all column slices of one insert share

    def block(lo: int, hi: int) -> list[Sequence[Any]]:
        if last[0] != (lo, hi):
            last[:] = [(lo, hi), chunk_columns(chunks[lo:hi])]
        cols: list[Sequence[Any]] = last[1]
        return cols

    def column(j: int) -> Slices:
        return Slices(n, lambda lo, hi: list(block(lo, hi)[j]), "chunk column")

    streams = None
    if field_tokens is not None:
        ft = field_tokens
        streams = Slices(
            len(ft), lambda lo, hi: list(map(encode_streams, ft[lo:hi])), "field streams"
        )
    columns = [column(j) for j in range(CHUNK_COLUMNS)]
    return ChunkRows(columns, fts_rows(chunks, tokens, vocab), streams)


def load_fts(con: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (:func:`fts_rows`) into ``chunks_fts`` and merge the index once."""
    # FTS5 merges level-0 segments as they accumulate (automerge); during a one-shot
    # load that rewrites the index several times, so merging waits for one optimize
    con.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('automerge', 0)")
    # FTS5 flushes a level-0 segment whenever its pending-terms hash passes 'hashsize'
    # (1 MiB): 48 MiB holds a medium code db's whole index (72 MB of text) until the one
    # flush the optimize makes, so it writes one segment and merges nothing (32 MiB: a
    # flush mid-load, a merge, and a 16% larger side file; ~0.2 s more FTS CPU)
    con.execute(f"INSERT INTO chunks_fts(chunks_fts, rank) VALUES('hashsize', {FTS_HASH_LOAD})")
    con.executemany(
        "INSERT INTO chunks_fts(rowid, file, name, signature, kind, headline, doc, tokens)"
        " VALUES (?,?,?,?,?,?,?,?)",
        rows,
    )
    con.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')")
    con.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('automerge', 4)")
    con.execute(f"INSERT INTO chunks_fts(chunks_fts, rank) VALUES('hashsize', {FTS_HASH})")


def _build_fts_file(
    path: Path,
    rows: Iterable[tuple[Any, ...]],
    tables: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """``chunks_fts`` in its own file (the side load of :func:`build_sqlite`), after the
    ``SIDE_TABLES`` that ``tables`` loads (if given)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        _load_pragmas(con)
        # FTS5 buffers its terms in its own hash and writes segments in order, and the
        # other tables append in key order: little cache
        con.execute("PRAGMA cache_size=-8192")
        con.execute("BEGIN")
        con.execute(_FTS_TABLE)
        if tables is not None:
            for table in SIDE_TABLES:
                con.execute(_create_sql(table))
            tables(con)
        load_fts(con, rows)
        con.execute("COMMIT")
    finally:
        con.close()


def copy_side(con: sqlite3.Connection, schema: str) -> None:
    """Copy in what the side load built in attached db ``schema``: the FTS index, then the
    ``SIDE_TABLES``. ``INSERT … SELECT *`` between two tables of one definition into an
    empty one is SQLite's transfer: records are appended as they are, not re-checked."""
    copy_fts(con, schema)
    for table in SIDE_TABLES:
        con.execute(f"INSERT INTO main.{table} SELECT * FROM {schema}.{table}")


def copy_fts(con: sqlite3.Connection, schema: str) -> None:
    """Replace ``chunks_fts``'s shadow tables with those of attached db ``schema``.

    A contentless FTS5 table is its shadow tables (segments and structure in ``_data``,
    the segment index, per-row column sizes, config), so copying them row for row gives
    the same index as loading it here; the freshly created table's initial rows go first."""
    for part in FTS_SHADOW_TABLES:
        con.execute(f"DELETE FROM main.chunks_fts_{part}")
        con.execute(f"INSERT INTO main.chunks_fts_{part} SELECT * FROM {schema}.chunks_fts_{part}")


def build_sqlite(
    out_dir: Path,
    mode: str,
    *,
    rows: ChunkRows,
    token_postings: dict[str, Any],
    field_postings: dict[str, Any] | None,
    phrase_ngrams: dict[str, Any] | None,
    chargram_postings: dict[str, Any] | None,
    minhash: list[list[int]],
    dense: tuple[dict[str, Any], np.ndarray[Any, Any]] | None,
    files: list[dict[str, Any]],
    meta: dict[str, str],
) -> Path:
    """Write ``index-<mode>.db`` (tmp + rename) and return its path.

    The FTS5 load and the ``SIDE_TABLES`` (half the work, mostly inside SQLite, which
    releases the GIL) run on a second thread into a side file while this thread loads the
    other tables; they are then copied in (FTS segment blobs and a few wide rows). With the
    FTS load alone on the side, this thread held 2/3 of a code db's CPU and ran on by itself
    once the smaller modes were done. The statements each file sees, and so the bytes of
    the db, do not depend on the timing."""
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / db_name(mode)
    tmp = out_dir / (db_name(mode) + ".tmp")
    fts_tmp = out_dir / (db_name(mode) + ".fts.tmp")
    _remove(tmp, Path(str(tmp) + "-journal"), fts_tmp, Path(str(fts_tmp) + "-journal"))
    fts_error: list[BaseException] = []

    def side_load() -> None:
        try:
            _build_fts_file(
                fts_tmp,
                rows.fts,
                lambda side_con: _load_side_tables(side_con, rows, phrase_ngrams),
            )
        except BaseException as exc:  # re-raised on the calling thread
            fts_error.append(exc)

    side = threading.Thread(target=side_load, name=f"fts-{mode}", daemon=True)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        try:
            _load_pragmas(con)
            # attached (as an empty file) before the side load opens it, as ATTACH is
            # refused inside a transaction; it is first read once the side load is closed
            con.execute("ATTACH DATABASE ? AS fts_side", (str(fts_tmp),))
            side.start()
            con.execute("BEGIN")
            for stmt in _TABLES.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            _load_tables(
                con,
                mode,
                token_postings=token_postings,
                field_postings=field_postings,
                chargram_postings=chargram_postings,
                minhash=minhash,
                dense=dense,
                files=files,
                meta=meta,
            )
        finally:
            if side.ident is not None:
                side.join()
        if fts_error:
            raise fts_error[0]
        copy_side(con, "fts_side")
        for stmt in _INDEXES.split(";"):
            if stmt.strip():
                con.execute(stmt)
        con.execute("COMMIT")
        con.execute("DETACH DATABASE fts_side")
        con.execute("PRAGMA optimize")
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
        if side.ident is not None:
            side.join()
        _remove(fts_tmp, Path(str(fts_tmp) + "-journal"))
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    fsync_dir(out_dir)
    return final


_CHUNK_KEYS = itemgetter(
    "id", "file", "start", "end", "startLine", "endLine", "kind", "name", "headline", "weight",
    "fileId", "metaV2",
)  # fmt: skip
_META_IDS = itemgetter("chunkId", "chunkUid")
#: Columns of the ``chunks`` table, as :func:`chunk_columns` gives them.
CHUNK_COLUMNS = 17


def chunk_columns(chunks: Sequence[dict[str, Any]]) -> list[Sequence[Any]]:
    """The ``chunks`` table's 17 columns, in order, one sequence each (for
    ``insert_columns``): the required keys are pulled by ``itemgetter`` and transposed by
    ``zip``, with no Python frame per chunk and field."""
    if not chunks:
        return [[] for _ in range(CHUNK_COLUMNS)]
    ids, files, starts, ends, slines, elines, kinds, names, heads, weights, fids, metas = zip(
        *map(_CHUNK_KEYS, chunks), strict=True
    )
    cids, uids = zip(*map(_META_IDS, metas), strict=True)
    return [
        ids,
        cids,
        uids,
        files,
        starts,
        ends,
        slines,
        elines,
        [c.get("ext") for c in chunks],
        [c.get("lang") for c in chunks],
        kinds,
        names,
        [m.get("signature") or "" for m in metas],
        heads,
        weights,
        list(map(_meta_json, metas)),
        fids,
    ]


def _load_side_tables(
    con: sqlite3.Connection, rows: ChunkRows, phrase_ngrams: dict[str, Any] | None
) -> None:
    """The ``SIDE_TABLES`` (created empty by :func:`_build_fts_file`)."""
    insert_columns(con, "chunks", rows.columns, WIDE_BLOCK_ROWS)
    if rows.streams is not None:
        insert_columns(
            con, "field_tokens", [range(len(rows.streams)), rows.streams], WIDE_BLOCK_ROWS
        )
    if phrase_ngrams is not None:
        block_ids, firsts, texts, bounds, docs = phrase_blocks(
            phrase_ngrams["vocab"], phrase_ngrams["postings"]
        )
        insert_columns(con, "phrase_vocab", [firsts, block_ids])
        insert_columns(con, "phrase_postings", [block_ids, texts, bounds, docs], WIDE_BLOCK_ROWS)


def _load_tables(
    con: sqlite3.Connection,
    mode: str,
    *,
    token_postings: dict[str, Any],
    field_postings: dict[str, Any] | None,
    chargram_postings: dict[str, Any] | None,
    minhash: list[list[int]],
    dense: tuple[dict[str, Any], np.ndarray[Any, Any]] | None,
    files: list[dict[str, Any]],
    meta: dict[str, str],
) -> None:
    """Every table but ``chunks_fts`` and the ``SIDE_TABLES`` (created empty by
    ``_TABLES``; the side load fills them)."""
    full_meta = {"schemaVersion": str(SQLITE_SCHEMA_VERSION), "mode": mode, **meta}
    con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(full_meta.items()))
    # vocabularies are sorted and unique, so keyed by the text they append in key order
    # and need no separate index
    vocab = token_postings["vocab"]
    insert_columns(con, "token_vocab", [vocab, range(len(vocab))])
    # one row per posting (§8): the largest loads, packed so SQLite reads them itself
    insert_packed(con, "token_postings", posting_columns(token_postings["postings"]))
    lengths = token_postings["docLengths"]
    insert_columns(con, "doc_lengths", [range(len(lengths)), lengths])
    con.executemany(
        "INSERT INTO token_stats VALUES (?, ?)",
        [
            ("avgDocLen", token_postings["avgDocLen"]),
            ("totalDocs", token_postings["totalDocs"]),
        ],
    )
    if field_postings is not None:
        for field in sorted(field_postings["fields"]):
            fp = field_postings["fields"][field]
            fvocab = fp["vocab"]
            insert_columns(con, "field_vocab", [[field] * len(fvocab), fvocab, range(len(fvocab))])
            insert_packed(con, "field_postings", posting_columns(fp["postings"]), (field,))
            con.execute(
                "INSERT INTO field_stats VALUES (?,?,?,?)",
                (
                    field,
                    fp["avgDocLen"],
                    fp["totalDocs"],
                    np.asarray(fp["docLengths"], dtype="<u4").tobytes(),
                ),
            )
    if chargram_postings is not None:
        gv = chargram_postings["vocab"]
        insert_columns(con, "chargram_vocab", [gv, range(len(gv))])
        blobs = doc_blobs(chargram_postings["postings"])
        insert_columns(con, "chargram_postings", [range(len(blobs)), blobs])
    if minhash:
        sig = np.asarray(minhash, dtype="<u4")
        insert_columns(
            con, "minhash_signatures", [range(sig.shape[0]), row_blobs(sig)], WIDE_BLOCK_ROWS
        )
    if dense is not None:
        dmeta, mat = dense
        insert_columns(con, "dense_vectors", [range(mat.shape[0]), row_blobs(mat)], WIDE_BLOCK_ROWS)
        con.executemany(
            "INSERT INTO dense_meta VALUES (?, ?)",
            sorted((k, jsonio.dumps(v).decode("utf-8")) for k, v in dmeta.items()),
        )
    con.executemany(
        "INSERT INTO file_manifest VALUES (?,?,?,?,?)",
        ((f["file"], f["hash"], f["mtimeMs"], f["size"], f["chunkCount"]) for f in files),
    )


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open a promoted db read-only and immutable (it is never modified)."""
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def fts_integrity(path: Path) -> str | None:
    """What FTS5's ``integrity-check`` finds wrong with ``chunks_fts``, or None.

    The check is a write statement, which the immutable connection refuses (it was
    skipped there, its error taken for "read-only"), so it runs on a read-write one. It
    dirties no page: the db's bytes, and so its recorded checksum, stay the same. Only on a
    file that cannot be opened for writing is it skipped."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error:
        return None  # not writable here (a read-only mount): nothing can run the check
    try:
        con.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 0)")
    except sqlite3.Error as exc:
        if "readonly" in str(exc).lower() or "read-only" in str(exc).lower():
            return None
        return str(exc)
    finally:
        con.close()
    return None


def sqlite_facts(path: Path) -> list[Any]:
    """``check_sqlite``'s checks of ``path`` with the expected chunk count and key left open,
    in the order it reports them: ``("issue", code, message)``, ``("count", table, rows)``
    and ``("key", stored compatibilityKey or None)``. They need no expectation, so they can
    run before the chunk count is known (validation checks a db beside its mode's pieces)."""
    facts: list[Any] = []
    try:
        con = open_readonly(path)
    except sqlite3.Error as exc:
        return [("issue", "SQLITE_OPEN", f"cannot open {path.name}: {exc}")]
    try:
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
            if rows != [("ok",)]:
                facts.append(("issue", "SQLITE_INTEGRITY", f"{path.name}: {rows[0][0]}"))
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in TABLE_NAMES if t not in names]
            if missing:
                msg = f"{path.name}: missing {', '.join(missing)}"
                facts.append(("issue", "SQLITE_TABLE_MISSING", msg))
                return facts
            fts = fts_integrity(path)
            if fts is not None:
                facts.append(("issue", "SQLITE_FTS_INTEGRITY", f"{path.name}: {fts}"))
            for table in ("chunks", "doc_lengths"):
                n = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                facts.append(("count", table, n))
            row = con.execute("SELECT value FROM meta WHERE key='compatibilityKey'").fetchone()
            facts.append(("key", None if row is None else row[0]))
        except sqlite3.Error as exc:
            facts.append(("issue", "SQLITE_INTEGRITY", f"{path.name}: {exc}"))
    finally:
        con.close()
    return facts


def judge_sqlite(
    name: str, facts: list[Any], expected_chunks: int, expected_key: str
) -> list[tuple[str, str]]:
    """``(code, message)`` issues of ``sqlite_facts`` for db file ``name``."""
    issues: list[tuple[str, str]] = []
    for fact in facts:
        if fact[0] == "issue":
            issues.append((fact[1], fact[2]))
        elif fact[0] == "count":
            if fact[2] != expected_chunks:
                msg = f"{name}: {fact[2]} {fact[1]}, expected {expected_chunks}"
                issues.append(("SQLITE_COUNT", msg))
        elif fact[1] is None or fact[1] != expected_key:
            issues.append(("SQLITE_KEY", f"{name}: stored compatibilityKey differs"))
    return issues


def check_sqlite(path: Path, expected_chunks: int, expected_key: str) -> list[tuple[str, str]]:
    """``(code, message)`` issues: integrity, FTS integrity, row counts, stored key."""
    return judge_sqlite(path.name, sqlite_facts(path), expected_chunks, expected_key)
