"""The ``sqlite`` and ``sqlite-fts`` backends (§8, §9.5) over ``index-<mode>.db``.

``sqlite`` reads only the query tokens' posting lists from the database and feeds them to the
same BM25 code as ``memory``, so ids and scores agree to 1e-9. ``sqlite-fts`` ranks with FTS5:
``score = −bm25(chunks_fts, w…) × chunks.weight`` with exactly one weight per column in
declared order (S1), the allowed ids joined from a TEMP table so filters and weight apply
before ``LIMIT`` (S3, true top-N). Databases are opened read-only and immutable; blobs decode
with explicit little-endian dtypes (S4). A missing db or table raises ``SqliteUnavailable``,
which the caller turns into a warning and a memory fallback (S5).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pairofcleats import tokenize
from pairofcleats.errors import IndexInvalid
from pairofcleats.search.filters import ChunkColumns, build_columns
from pairofcleats.search.fts import compile_match
from pairofcleats.search.hits import chunk_from_row
from pairofcleats.search.index import DenseVectors, ModeIndex
from pairofcleats.search.plan import ModePlan
from pairofcleats.search.rank import FieldStats, Postings
from pairofcleats.search.source import Lookup
from pairofcleats.sqlite_stage import PHRASE_BLOCK_SQL, decode_phrase_block, decode_streams

__all__ = ["FTS_COLUMNS", "FTS_PROFILES", "SqliteSource", "SqliteUnavailable", "fts_weights"]

FTS_COLUMNS = ("file", "name", "signature", "kind", "headline", "doc", "tokens")
FTS_PROFILES: dict[str, tuple[float, ...]] = {
    "balanced": (0.2, 1.5, 1.2, 0.6, 1.5, 1.8, 1.0),
    "headline": (0.1, 1.2, 1.0, 0.4, 3.0, 2.2, 1.0),
    "name": (0.2, 2.5, 1.6, 0.8, 1.2, 1.4, 1.0),
}
REQUIRED_TABLES = ("meta", "chunks", "chunks_fts", "token_vocab", "token_postings", "doc_lengths")
TEMP_TABLE_MAX = 50_000
#: Above this many ids, ``weights_of`` reads the whole column through ``chunks_weight``.
WEIGHT_INDEX_IDS = 256
BoolMask = npt.NDArray[np.bool_]


class SqliteUnavailable(IndexInvalid):
    """The db or one of its tables is missing or unreadable (a controlled fallback)."""


def fts_weights(
    profile: str, overrides: Mapping[str, float | None] | None = None
) -> tuple[float, ...]:
    """The seven column weights: the profile's, with ``search.ftsWeights`` overrides."""
    base = FTS_PROFILES.get(profile)
    if base is None:
        from pairofcleats.errors import InvalidRequest

        raise InvalidRequest(
            f"unknown FTS profile {profile!r}", hint="use balanced, headline or name"
        )
    over = overrides or {}
    return tuple(
        float(v) if (v := over.get(col)) is not None else base[i]
        for i, col in enumerate(FTS_COLUMNS)
    )


def _parsed_postings(docs: str | None, tfs: str | None) -> Postings:
    """Two ``group_concat`` texts (comma-separated ints, same row order) as Postings sorted
    by doc id (SQLite does not promise the concatenation order, so it is checked)."""
    ids = np.fromstring(docs or "", dtype=np.int64, sep=",")
    freq = np.fromstring(tfs or "", dtype=np.int64, sep=",")
    if ids.size != freq.size:
        raise IndexInvalid("corrupt postings: doc and tf lists differ in length")
    if ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        order = np.argsort(ids, kind="stable")
        ids, freq = ids[order], freq[order]
    return Postings(ids, freq)


def _doc_ids(blob: bytes | None, table: str) -> npt.NDArray[np.int64] | None:
    """A ``{table}_postings.doc_ids`` blob (ascending ``<u4``) as int64 ids; None if absent."""
    if blob is None:
        return None
    ids = _u4(blob, f"{table}_postings").astype(np.int64)
    return ids if ids.size else None


def _u4(blob: bytes | None, what: str) -> npt.NDArray[np.uint32]:
    if blob is None:
        return np.empty(0, dtype=np.uint32)
    if len(blob) % 4:
        raise IndexInvalid(f"corrupt {what} blob: {len(blob)} bytes is not a multiple of 4")
    return np.frombuffer(blob, dtype="<u4").astype(np.uint32)


class SqliteSource:
    """``SparseSource`` reading postings from SQLite; ``fts_search`` for ``sqlite-fts``."""

    name = "sqlite"

    def __init__(
        self,
        index: ModeIndex,
        db_path: Path,
        weights: tuple[float, ...] = FTS_PROFILES["balanced"],
    ) -> None:
        if not db_path.is_file():
            raise SqliteUnavailable(f"{db_path} does not exist")
        self.mode = index.mode
        self.index = index
        self.path = db_path
        self.fts_column_weights = weights
        try:
            self.con = sqlite3.connect(
                f"file:{db_path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            names = {
                r[0]
                for r in self.con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index')"
                )
            }
        except sqlite3.Error as err:
            raise SqliteUnavailable(f"{db_path} cannot be opened: {err}") from err
        missing = [t for t in REQUIRED_TABLES if t not in names]
        if missing:
            raise SqliteUnavailable(f"{db_path} lacks table(s) {', '.join(missing)}")
        self._tables = names
        for table, col in (("phrase_postings", "phrases"), ("chargram_postings", "doc_ids")):
            if table in names:
                cols = {r[1] for r in self.con.execute(f"PRAGMA table_info({table})")}
                if col not in cols:
                    raise SqliteUnavailable(f"{db_path} has an older {table} layout; rebuild")
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str, str], Postings | None] = {}
        self._chunks: dict[int, dict[str, Any]] = {}
        self._streams: dict[int, dict[str, list[str]]] = {}
        self._count = int(self._one("SELECT COUNT(*) FROM chunks"))
        self._stats: FieldStats | None = None
        self._fields: dict[str, tuple[Lookup, FieldStats]] | None = None
        self._weights: npt.NDArray[np.float64] | None = None
        key = self._one("SELECT value FROM meta WHERE key = 'compatibilityKey'")
        want = index.state.get("compatibilityKey")
        if key is not None and want is not None and key != want:
            raise SqliteUnavailable(f"{db_path} was built for another index (compatibilityKey)")

    # -- helpers --------------------------------------------------------------------------
    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self.con.execute(sql, args).fetchone()
        return row[0] if row else None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.con.execute(sql, args).fetchall()

    # Every vocab/postings join is a CROSS JOIN, which pins SQLite's join order: look the
    # token up in the vocab index, then its postings by primary key. Left to itself (no
    # ANALYZE statistics) the planner sometimes walks a field's whole posting list first.
    def _postings(self, table: str, field: str, token: str) -> Postings | None:
        key = (table, field, token)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        if table == "token":
            rows = self._rows(
                "SELECT p.doc_id, p.tf FROM token_vocab v CROSS JOIN token_postings p"
                " ON p.token_id = v.token_id WHERE v.token = ? ORDER BY p.doc_id",
                (token,),
            )
        elif table == "field":
            rows = self._rows(
                "SELECT p.doc_id, p.tf FROM field_vocab v CROSS JOIN field_postings p"
                " ON p.field = v.field AND p.token_id = v.token_id"
                " WHERE v.field = ? AND v.token = ? ORDER BY p.doc_id",
                (field, token),
            )
        elif table == "phrase":  # blocks of sorted phrases, keyed by their first
            if "phrase_vocab" not in self._tables:
                return None
            with self._lock:
                row = self.con.execute(PHRASE_BLOCK_SQL, (token,)).fetchone()
            found = decode_phrase_block(row, token)
            ids = None if found is None or not found.size else found.astype(np.int64)
            phrase_result = None if ids is None else Postings(ids, np.ones_like(ids))
            with self._lock:
                self._cache[key] = phrase_result
            return phrase_result
        else:  # chargram: one blob of <u4 doc ids per entry
            if "chargram_vocab" not in self._tables:
                return None
            blob = self._one(
                "SELECT p.doc_ids FROM chargram_vocab v CROSS JOIN chargram_postings p"
                " ON p.gram_id = v.gram_id WHERE v.gram = ?",
                (token,),
            )
            docs = _doc_ids(blob, "chargram")
            doc_result = None if docs is None else Postings(docs, np.ones_like(docs))
            with self._lock:
                self._cache[key] = doc_result
            return doc_result
        result: Postings | None = None
        if rows:
            arr = np.asarray(rows, dtype=np.int64)
            result = Postings(np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]))
        with self._lock:
            self._cache[key] = result
        return result

    def prefetch(self, tokens: Sequence[str]) -> None:
        """Load the unfielded and every field's posting lists of ``tokens`` in two queries
        (instead of one per token and field), filling the per-token cache."""
        todo = sorted({t for t in tokens if ("token", "", t) not in self._cache})
        if not todo:
            return
        marks = ",".join("?" * len(todo))
        found: dict[tuple[str, str, str], Postings] = {}
        # group_concat runs in C: one text per posting list, parsed by numpy, instead of one
        # Python tuple per posting row (common tokens have tens of thousands)
        for tok, docs, tfs in self._rows(
            "SELECT v.token, group_concat(p.doc_id), group_concat(p.tf)"
            " FROM token_vocab v CROSS JOIN token_postings p"
            f" ON p.token_id = v.token_id WHERE v.token IN ({marks}) GROUP BY v.token",
            todo,
        ):
            found[("token", "", str(tok))] = _parsed_postings(docs, tfs)
        fields = sorted(self.fields())
        if fields:
            fmarks = ",".join("?" * len(fields))
            for field, tok, docs, tfs in self._rows(
                "SELECT v.field, v.token, group_concat(p.doc_id), group_concat(p.tf)"
                " FROM field_vocab v CROSS JOIN field_postings p"
                " ON p.field = v.field AND p.token_id = v.token_id"
                f" WHERE v.field IN ({fmarks}) AND v.token IN ({marks})"
                " GROUP BY v.field, v.token",
                [*fields, *todo],
            ):
                found[("field", str(field), str(tok))] = _parsed_postings(docs, tfs)
        keys = [("token", "", t) for t in todo] + [("field", f, t) for f in fields for t in todo]
        with self._lock:
            for key in keys:
                hit = found.get(key)
                self._cache[key] = hit if hit is not None and hit.doc_ids.size else None

    def prefetch_chargrams(self, grams: Sequence[str]) -> None:
        """Load the doc lists of ``grams`` in one query (candidate counting asks for many)."""
        if "chargram_vocab" not in self._tables:
            return
        todo = sorted({g for g in grams if ("chargram", "", g) not in self._cache})
        if not todo:
            return
        found: dict[str, npt.NDArray[np.int64]] = {}
        for start in range(0, len(todo), 500):  # stay under SQLite's variable limit
            part = todo[start : start + 500]
            for gram, blob in self._rows(
                "SELECT v.gram, p.doc_ids FROM chargram_vocab v CROSS JOIN chargram_postings p"
                f" ON p.gram_id = v.gram_id WHERE v.gram IN ({','.join('?' * len(part))})",
                part,
            ):
                docs = _doc_ids(blob, "chargram")
                if docs is not None:
                    found[str(gram)] = docs
        with self._lock:
            for gram in todo:
                ids = found.get(gram)
                self._cache[("chargram", "", gram)] = (
                    None if ids is None else Postings(ids, np.ones_like(ids))
                )

    # -- SparseSource ---------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self._count

    @property
    def stats(self) -> FieldStats:
        if self._stats is None:
            lengths = np.zeros(self._count, dtype=np.float64)
            for doc, length in self._rows("SELECT doc_id, len FROM doc_lengths"):
                lengths[int(doc)] = float(length)
            kv = dict(self._rows("SELECT key, value FROM token_stats"))
            self._stats = FieldStats(
                lengths, float(kv.get("avgDocLen", 0.0)), int(kv.get("totalDocs", self._count))
            )
        return self._stats

    def lookup(self, token: str) -> Postings | None:
        return self._postings("token", "", token)

    def df(self, token: str) -> int:
        p = self.lookup(token)
        return 0 if p is None else int(p.doc_ids.size)

    def fields(self) -> Mapping[str, tuple[Lookup, FieldStats]]:
        if self._fields is None:
            out: dict[str, tuple[Lookup, FieldStats]] = {}
            if "field_stats" in self._tables:
                for field, avg, total, blob in self._rows(
                    "SELECT field, avg_doc_len, total_docs, doc_lengths FROM field_stats"
                ):
                    lengths = _u4(blob, f"field_stats.{field}").astype(np.float64)
                    stats = FieldStats(lengths, float(avg), int(total))

                    def lookup(tok: str, _f: str = str(field)) -> Postings | None:
                        return self._postings("field", _f, tok)

                    out[str(field)] = (lookup, stats)
            self._fields = out
        return self._fields

    def chargram(self, gram: str) -> Postings | None:
        return self._postings("chargram", "", gram)

    def phrase(self, ngram: str) -> Postings | None:
        return self._postings("phrase", "", ngram)

    def field_tokens(self, doc: int) -> dict[str, list[str]]:
        # Phrase checks and typo candidates read a few chunks' streams: by primary key from
        # the db (a db without the table falls back to the JSONL artifact, parsed whole).
        if "field_tokens" not in self._tables:
            rows = self.index.field_tokens
            return rows[doc] if 0 <= doc < len(rows) else {}
        with self._lock:
            hit = self._streams.get(doc)
        if hit is None:
            hit = decode_streams(
                self._one("SELECT streams FROM field_tokens WHERE doc_id = ?", (doc,))
            )
            with self._lock:
                self._streams[doc] = hit
        return hit

    def weights(self) -> npt.NDArray[np.float64]:
        if self._weights is None:
            # Weights take a handful of distinct values: one row per value with its ids as a
            # group_concat text (C-side, parsed by numpy) instead of one Python tuple per chunk
            # (65k chunks: ~5 ms instead of ~35 ms). NULL (and a missing row) is 1.
            w = np.ones(self._count, dtype=np.float64)
            for weight, ids in self._rows(
                "SELECT weight, group_concat(id) FROM chunks GROUP BY weight"
            ):
                docs = np.fromstring(ids or "", dtype=np.int64, sep=",")
                w[docs] = float(weight) if weight is not None else 1.0
            self._weights = w
        return self._weights

    def weights_of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        # The weight sits in the wide chunks rows: a few ids are read by primary key (missing
        # or NULL is 1). With the covering chunks_weight index the whole column is a small
        # index scan, cheaper than more than a few hundred primary-key reads of wide rows.
        many = WEIGHT_INDEX_IDS if "chunks_weight" in self._tables else self._count // 4
        if self._weights is not None or ids.size > many:
            return self.weights()[ids]
        found: dict[int, float] = {}
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            part = wanted[start : start + 500]
            for doc, weight in self._rows(
                f"SELECT id, weight FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            ):
                found[int(doc)] = float(weight if weight is not None else 1.0)
        return np.fromiter((found.get(i, 1.0) for i in wanted), dtype=np.float64, count=len(wanted))

    def _row_to_chunk(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return chunk_from_row(row)

    def chunk(self, doc: int) -> dict[str, Any]:
        with self._lock:
            hit = self._chunks.get(doc)
        if hit is None:
            rows = self._rows("SELECT * FROM chunks WHERE id = ?", (doc,))
            if not rows:
                raise IndexInvalid(f"{self.path}: no chunk {doc}")
            hit = self._row_to_chunk(rows[0])
            with self._lock:
                self._chunks[doc] = hit
        return hit

    def prefetch_chunks(self, ids: Sequence[int]) -> None:
        """Load the rows of ``ids`` in one query (boosts and hits read every fused id)."""
        with self._lock:
            todo = sorted({int(i) for i in ids if int(i) not in self._chunks})
        for start in range(0, len(todo), 500):
            part = todo[start : start + 500]
            rows = self._rows(
                f"SELECT * FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            )
            with self._lock:
                for row in rows:
                    chunk = self._row_to_chunk(row)
                    self._chunks[chunk["id"]] = chunk

    def all_chunks(self) -> list[dict[str, Any]]:
        return [self._row_to_chunk(r) for r in self._rows("SELECT * FROM chunks ORDER BY id")]

    def filter_columns(self) -> ChunkColumns:
        index = self.index
        return index.memo(
            "sqlite-filter-columns",
            lambda: build_columns(
                self.all_chunks(), index.file_meta, index.file_relations, index.filter_index
            ),
        )

    def dense(self, variant: str) -> DenseVectors | None:
        return self.index.dense(variant)

    def minhash(self) -> npt.NDArray[np.uint32] | None:
        if "minhash_signatures" not in self._tables:
            return None
        rows = self._rows("SELECT doc_id, sig FROM minhash_signatures ORDER BY doc_id")
        if not rows:
            return None
        return np.stack([_u4(blob, "minhash") for _d, blob in rows])

    # -- sqlite-fts -----------------------------------------------------------------------
    def fts_search(
        self, plan: ModePlan, allowed: BoolMask | None, limit: int
    ) -> tuple[list[tuple[int, float]], dict[str, Any]]:
        """True top-``limit`` by FTS5 bm25 × weight among allowed ids (ties: id asc)."""
        mode = self.mode
        compiled = compile_match(
            plan.ast, lambda text: tokenize.query_subwords(text, mode), tokenize.fts_token
        )
        explain: dict[str, Any] = {"ftsMatch": compiled.match}
        if compiled.match is None or limit <= 0:
            explain["ftsFilter"] = {"strategy": "none", "rounds": 0, "rowsScanned": 0}
            return [], explain
        w = ", ".join(repr(float(x)) for x in self.fts_column_weights)
        score = f"-bm25(chunks_fts, {w}) * c.weight"
        base = (
            f"SELECT c.id, {score} AS score FROM chunks_fts JOIN chunks c"
            " ON c.id = chunks_fts.rowid"
        )
        order = " ORDER BY score DESC, c.id ASC LIMIT ?"
        with self._lock:
            if allowed is None:
                rows = self.con.execute(
                    base + " WHERE chunks_fts MATCH ?" + order, (compiled.match, limit)
                ).fetchall()
                explain["ftsFilter"] = {"strategy": "none", "rounds": 1, "rowsScanned": len(rows)}
                return [(int(d), float(s)) for d, s in rows], explain
            ids = np.flatnonzero(allowed)
            if ids.size == 0:
                explain["ftsFilter"] = {"strategy": "temp-table", "rounds": 0, "rowsScanned": 0}
                return [], explain
            if ids.size <= TEMP_TABLE_MAX:
                self.con.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS allowed_ids(id INTEGER PRIMARY KEY)"
                )
                self.con.execute("DELETE FROM temp.allowed_ids")
                self.con.executemany(
                    "INSERT INTO temp.allowed_ids VALUES (?)", ((int(i),) for i in ids)
                )
                rows = self.con.execute(
                    base
                    + " JOIN temp.allowed_ids a ON a.id = c.id WHERE chunks_fts MATCH ?"
                    + order,
                    (compiled.match, limit),
                ).fetchall()
                self.con.execute("DELETE FROM temp.allowed_ids")
                explain["ftsFilter"] = {
                    "strategy": "temp-table",
                    "rounds": 1,
                    "rowsScanned": len(rows),
                }
                return [(int(d), float(s)) for d, s in rows], explain
            # Many allowed ids: over-fetch 4N, keep the allowed, double until N kept or done.
            fetch = 4 * limit
            rounds = 0
            while True:
                rounds += 1
                rows = self.con.execute(
                    base + " WHERE chunks_fts MATCH ?" + order, (compiled.match, fetch)
                ).fetchall()
                kept = [(int(d), float(s)) for d, s in rows if allowed[int(d)]]
                if len(kept) >= limit or len(rows) < fetch:
                    explain["ftsFilter"] = {
                        "strategy": "overfetch",
                        "rounds": rounds,
                        "rowsScanned": len(rows),
                    }
                    return kept[:limit], explain
                fetch *= 2
