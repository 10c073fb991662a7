"""A cold ``search --backend sqlite`` without numpy or pydantic (§9.5, §13 cold CLI).

A fresh ``pairofcleats search`` process spends most of its time importing: numpy (~60 ms)
for the engine's score vectors, pydantic (~60 ms plus schema builds) for the config and the
state files. :func:`search` answers sqlite queries (terms, phrases, ``AND``/``OR``/``NOT``,
typo expansion, relaxation) from the db with the engine's own planning and scoring functions
(:mod:`~pairofcleats.search.plan_core`, :mod:`~pairofcleats.search.scoring`,
:mod:`~pairofcleats.search.hits`) over sparse dicts and sets instead of arrays: the same
float operations in the same order, so ids, scores and every other field are identical to
:meth:`Searcher.search <pairofcleats.search.searcher.Searcher.search>` (tests compare the
two). Anything else returns None and the caller runs the full engine, which then reports
errors, warnings and fallbacks its own way: path-like terms, filters,
``--explain``/``--stats``, dense or MinHash ranking, score blending, the memory backend
(or ``auto`` choosing it), a config file or state file it cannot check plainly, a db that
would fall back to the memory backend, or any unexpected error.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from operator import ge
from pathlib import Path
from typing import Any

from groundwork import jsonio

from pairofcleats import paths
from pairofcleats.artifacts.plain import current_pointer_ok, pieces_manifest_ok
from pairofcleats.search import scoring
from pairofcleats.search.expand import CANDIDATE_DOCS
from pairofcleats.search.hits import (
    SearchWarning,
    chunk_from_row,
    exported,
    hit_record,
    operator_word_warning,
)
from pairofcleats.search.intent import (
    classify_intent,
    field_weights,
    is_path_token,
    is_segment_path,
)
from pairofcleats.search.plan_core import ModePlan, plan_mode
from pairofcleats.search.query import And, Node, Not, Or, Phrase, Term, iter_positive, parse_query

__all__ = ["SEARCH_DEFAULTS", "Unsupported", "search"]

ALL_MODES = ("code", "prose", "extracted-prose")
MODE_KEYS = {"code": "code", "prose": "prose", "extracted-prose": "extractedProse"}
#: ``artifacts.schema``'s ARTIFACT_SURFACE_MAJOR, SCHEMA_HASH and SQLITE_SCHEMA_VERSION, and
#: ``sqlite_source``'s tables (a test keeps them equal).
ARTIFACT_SURFACE_MAJOR = 1
SCHEMA_HASH = "096fb7426049ee7639a66f3457e65c6dfa3f5587"
SQLITE_SCHEMA_VERSION = 1
REQUIRED_TABLES = ("meta", "chunks", "chunks_fts", "token_vocab", "token_postings", "doc_lengths")
FTS_PROFILES = ("balanced", "headline", "name")
#: ``sqlite_stage``'s PHRASE_BLOCK_SQL and PHRASE_SEP (a test keeps them equal).
PHRASE_BLOCK_SQL = (
    "SELECT p.phrases, p.bounds, p.doc_ids FROM phrase_vocab v CROSS JOIN phrase_postings p"
    " ON p.phrase_id = v.phrase_id WHERE v.phrase <= ? ORDER BY v.phrase DESC LIMIT 1"
)
PHRASE_SEP = "\n"
#: ``sqlite_stage``'s STREAM_SEP and FIELD_SEP (a test keeps them equal).
STREAM_SEP = "\x1e"
FIELD_SEP = "\x1f"
_FILTER_PARAMS = (
    "path", "file", "lang", "ext", "kind", "name", "signature", "param", "returns", "calls",
    "uses", "imports", "author",
)  # fmt: skip
_DENSE_PIECES = ("dense_vectors_uint8", "dense_vectors_doc_uint8", "dense_vectors_code_uint8")

#: ``SearchConfig().model_dump(by_alias=True)`` (a test keeps them equal).
SEARCH_DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "top": 5,
    "matchMode": "auto",
    "rrf": {"enabled": True, "k": 60},
    "scoreBlend": {"enabled": False, "sparseWeight": 1.0, "annWeight": 1.0},
    "bm25": {"k1": 1.2, "b": 0.75},
    "fieldWeights": dict.fromkeys(
        ("name", "signature", "doc", "comment", "body", "keyword", "operator")
    ),
    "ftsProfile": "balanced",
    "ftsWeights": dict.fromkeys(("file", "name", "signature", "kind", "headline", "doc", "tokens")),
    "maxCandidates": 20000,
    "symbolBoost": {"enabled": True, "definitionWeight": 1.15, "exportWeight": 1.1},
    "ann": {
        "enabled": True,
        "backend": "auto",
        "hnswMinVectors": 20000,
        "efSearch": 64,
        "minhashFallback": False,
    },
    "sqliteAutoChunkThreshold": 5000,
    "sqliteAutoArtifactBytes": 33554432,
}


class Unsupported(Exception):
    """The request needs the full engine (or is not plainly valid): run that instead."""


# -- config -------------------------------------------------------------------------------
# A strict subset of the config schema: ``search`` and ``cache`` (plus ``quality`` and
# ``threads``), wire names only, values of exactly the JSON type pydantic's strict mode takes.
# Any other key, or a value outside these checks, leaves the file to the real loader.

Check = Callable[[Any], Any]


_INT_MAX = 2**63  # larger ints do not survive the loader's JSON round trip


def _int(minimum: int) -> Check:
    def check(v: Any) -> Any:
        if type(v) is not int or not minimum <= v < _INT_MAX:
            raise Unsupported("config int")
        return v

    return check


def _float(v: Any) -> Any:
    if type(v) not in (int, float) or abs(v) >= _INT_MAX or not math.isfinite(v):
        raise Unsupported("config float")
    return float(v)


def _opt_float(v: Any) -> Any:
    return None if v is None else _float(v)


def _bool(v: Any) -> Any:
    if type(v) is not bool:
        raise Unsupported("config bool")
    return v


def _str(v: Any) -> Any:
    if type(v) is not str:
        raise Unsupported("config str")
    return v


def _opt_str(v: Any) -> Any:
    return None if v is None else _str(v)


def _enum(*allowed: str) -> Check:
    def check(v: Any) -> Any:
        if type(v) is not str or v not in allowed:
            raise Unsupported("config literal")
        return v

    return check


def _object(spec: Mapping[str, Any]) -> Check:
    def check(v: Any) -> Any:
        if type(v) is not dict:
            raise Unsupported("config object")
        out: dict[str, Any] = {}
        for key, value in v.items():
            sub = spec.get(key)
            if sub is None:
                raise Unsupported(f"config key {key!r}")
            out[key] = sub(value)
        return out

    return check


def _weights(*names: str) -> Check:
    return _object(dict.fromkeys(names, _opt_float))


def _field_weights(v: Any) -> Any:
    if v is False:
        return False
    return _weights("name", "signature", "doc", "comment", "body", "keyword", "operator")(v)


_SEARCH_SPEC: dict[str, Check] = {
    "backend": _str,
    "top": _int(1),
    "matchMode": _enum("auto", "all", "any"),
    "rrf": _object({"enabled": _bool, "k": _int(1)}),
    "scoreBlend": _object({"enabled": _bool, "sparseWeight": _float, "annWeight": _float}),
    "bm25": _object({"k1": _float, "b": _float}),
    "fieldWeights": _field_weights,
    "ftsProfile": _enum(*FTS_PROFILES),
    "ftsWeights": _weights("file", "name", "signature", "kind", "headline", "doc", "tokens"),
    "maxCandidates": _int(1),
    "symbolBoost": _object({"enabled": _bool, "definitionWeight": _float, "exportWeight": _float}),
    "ann": _object(
        {
            "enabled": _bool,
            "backend": _enum("auto", "exact", "hnsw"),
            "hnswMinVectors": _int(1),
            "efSearch": _int(1),
            "minhashFallback": _bool,
        }
    ),
    "sqliteAutoChunkThreshold": _int(0),
    "sqliteAutoArtifactBytes": _int(0),
}
_FILE_SPEC = _object(
    {
        "search": _object(_SEARCH_SPEC),
        "cache": _object({"root": _opt_str, "keepBuilds": _int(0)}),
        "quality": _enum("auto", "fast", "balanced", "max"),
        "threads": lambda v: None if v is None else _int(1)(v),
    }
)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        prev = out.get(key)
        if isinstance(prev, dict) and isinstance(value, dict):
            out[key] = _merge(prev, value)
        else:
            out[key] = value
    return out


def load_settings(repo_root: Path, env: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """``(search settings in wire names, cache.root)`` as ``config.load`` would give them, for
    a repo with no config file or a plainly valid one; raises ``Unsupported`` otherwise."""
    if env.get("PAIROFCLEATS_EMBEDDINGS") or env.get("PAIROFCLEATS_API_TOKEN"):
        raise Unsupported("config from the environment")
    path = repo_root / paths.CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SEARCH_DEFAULTS, None
    except OSError as err:
        raise Unsupported("config unreadable") from err
    try:  # the loader's parser too (orjson), so plain JSON reads identically
        doc = jsonio.loads(raw)
    except ValueError as err:  # JSONC comments, a BOM, an empty file…: the real loader
        raise Unsupported("config not plain JSON") from err
    checked = _FILE_SPEC(doc)
    settings = _merge(SEARCH_DEFAULTS, checked.get("search", {}))
    return settings, checked.get("cache", {}).get("root")


# -- the index ----------------------------------------------------------------------------


def _inside(root: Path, rel: str) -> Path:
    """``groundwork.fsio.safe_join(root, rel)`` for plainly safe ``rel`` (without importing
    the fsio package); any escape is left to the engine, which reports it."""
    parts = [part for part in rel.split("/") if part not in ("", ".")]
    if "\x00" in rel or rel.startswith("/") or ".." in parts:
        raise Unsupported("root escapes the repo cache dir")
    joined = Path(root, *parts)
    real, real_root = os.path.realpath(joined), os.path.realpath(root)
    if not (real == real_root or real.startswith(real_root.rstrip("/") + "/")):
        raise Unsupported("root escapes the repo cache dir")
    return joined


def _read_json(path: Path) -> Any:
    try:
        return jsonio.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise Unsupported(f"unreadable {path.name}") from err


def _u4_array(blob: bytes | None) -> array[int]:
    """A ``<u4`` blob as an unsigned int array (indexing gives ints)."""
    arr = array("I")
    if arr.itemsize != 4:
        raise Unsupported("no 4-byte array type")
    if blob is None:
        return arr
    if len(blob) % 4:
        raise Unsupported("corrupt u4 blob")
    arr.frombytes(blob)
    if sys.byteorder != "little":
        arr.byteswap()
    return arr


def _u4_list(blob: bytes | None) -> list[int]:
    """A ``<u4`` blob as ints."""
    return _u4_array(blob).tolist()


def _decode_streams(text: str | None) -> dict[str, list[str]]:
    """``sqlite_stage.decode_streams``."""
    out: dict[str, list[str]] = {}
    if not text:
        return out
    for part in text.split(STREAM_SEP):
        field, _, toks = part.partition(FIELD_SEP)
        out[field] = toks.split(" ") if toks else []
    return out


def _parse_postings(docs: str | None, tfs: str | None) -> tuple[list[int], list[int]]:
    ids = list(map(int, docs.split(","))) if docs else []
    freq = list(map(int, tfs.split(","))) if tfs else []
    if len(ids) != len(freq):
        raise Unsupported("corrupt postings")
    if any(map(ge, ids, islice(ids, 1, None))):  # not strictly ascending
        pairs = sorted(zip(ids, freq, strict=True), key=lambda p: p[0])
        ids, freq = [p[0] for p in pairs], [p[1] for p in pairs]
    return ids, freq


Posting = tuple[list[int], list[int]]
Stats = tuple[Sequence[float] | Sequence[int], float, int]  # lengths, avg length, total docs


class LiteSource:
    """One mode's ``index-<mode>.db``, read the way ``SqliteSource`` reads it, as lists."""

    def __init__(self, mode: str, state: Mapping[str, Any], db: Path) -> None:
        if not db.is_file():
            raise Unsupported("no db")  # the engine warns and falls back to memory
        self.mode = mode
        self.index = self  # plan_mode reads ``source.index.postings_settings``
        features = state.get("features", {})
        postings = features.get("postings", {}) if isinstance(features, dict) else {}
        self.postings_settings = dict(postings) if isinstance(postings, dict) else {}
        if not isinstance(features, dict) or "fielded" not in features:
            raise Unsupported("fielded unknown")
        self.fielded = bool(features["fielded"])
        try:
            self.con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
            self.tables = {
                r[0]
                for r in self.con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'index')"
                )
            }
        except sqlite3.Error as err:
            raise Unsupported("db cannot be opened") from err
        if any(t not in self.tables for t in REQUIRED_TABLES):
            raise Unsupported("db lacks tables")
        for table, col in (("phrase_postings", "phrases"), ("chargram_postings", "doc_ids")):
            if table in self.tables:
                cols = {r[1] for r in self.con.execute(f"PRAGMA table_info({table})")}
                if col not in cols:
                    raise Unsupported("older db layout")
        self.count = int(self._one("SELECT COUNT(*) FROM chunks"))
        key = self._one("SELECT value FROM meta WHERE key = 'compatibilityKey'")
        want = state.get("compatibilityKey")
        if key is not None and want is not None and key != want:
            raise Unsupported("db of another index")
        self._cache: dict[tuple[str, str, str], Posting | None] = {}
        self._fields: dict[str, tuple[Callable[[str], Posting | None], Stats]] | None = None
        self._stats: Stats | None = None
        self._chunks: dict[int, dict[str, Any]] = {}
        self._streams: dict[int, dict[str, list[str]]] = {}

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        row = self.con.execute(sql, args).fetchone()
        return row[0] if row else None

    def prefetch(self, tokens: list[str]) -> None:
        """``SqliteSource.prefetch``: every query token's postings in two queries."""
        todo = sorted({t for t in tokens if ("token", "", t) not in self._cache})
        if not todo:
            return
        marks = ",".join("?" * len(todo))
        found: dict[tuple[str, str, str], Posting] = {}
        for tok, docs, tfs in self.con.execute(
            "SELECT v.token, group_concat(p.doc_id), group_concat(p.tf)"
            " FROM token_vocab v CROSS JOIN token_postings p"
            f" ON p.token_id = v.token_id WHERE v.token IN ({marks}) GROUP BY v.token",
            todo,
        ):
            found[("token", "", str(tok))] = _parse_postings(docs, tfs)
        fields = sorted(self.fields())
        if fields:
            fmarks = ",".join("?" * len(fields))
            for field, tok, docs, tfs in self.con.execute(
                "SELECT v.field, v.token, group_concat(p.doc_id), group_concat(p.tf)"
                " FROM field_vocab v CROSS JOIN field_postings p"
                " ON p.field = v.field AND p.token_id = v.token_id"
                f" WHERE v.field IN ({fmarks}) AND v.token IN ({marks})"
                " GROUP BY v.field, v.token",
                [*fields, *todo],
            ):
                found[("field", str(field), str(tok))] = _parse_postings(docs, tfs)
        for key in [("token", "", t) for t in todo] + [
            ("field", f, t) for f in fields for t in todo
        ]:
            hit = found.get(key)
            self._cache[key] = hit if hit is not None and hit[0] else None

    def _postings(self, table: str, field: str, token: str) -> Posting | None:
        key = (table, field, token)
        if key in self._cache:
            return self._cache[key]
        if table == "token":
            rows = self.con.execute(
                "SELECT p.doc_id, p.tf FROM token_vocab v CROSS JOIN token_postings p"
                " ON p.token_id = v.token_id WHERE v.token = ? ORDER BY p.doc_id",
                (token,),
            ).fetchall()
        else:
            rows = self.con.execute(
                "SELECT p.doc_id, p.tf FROM field_vocab v CROSS JOIN field_postings p"
                " ON p.field = v.field AND p.token_id = v.token_id"
                " WHERE v.field = ? AND v.token = ? ORDER BY p.doc_id",
                (field, token),
            ).fetchall()
        result = ([int(r[0]) for r in rows], [int(r[1]) for r in rows]) if rows else None
        self._cache[key] = result
        return result

    def lookup(self, token: str) -> Posting | None:
        return self._postings("token", "", token)

    def df(self, token: str) -> int:
        p = self.lookup(token)
        return 0 if p is None else len(p[0])

    def chargram(self, gram: str) -> list[int] | None:
        """``SqliteSource.chargram``: one gram's doc ids (a ``<u4`` blob per gram)."""
        key = ("chargram", "", gram)
        if key not in self._cache:
            self.prefetch_chargrams([gram])
        hit = self._cache.get(key)
        return None if hit is None else hit[0]

    def prefetch_chargrams(self, grams: list[str]) -> None:
        todo = sorted({g for g in grams if ("chargram", "", g) not in self._cache})
        if not todo:
            return
        if "chargram_vocab" not in self.tables:
            for gram in todo:
                self._cache[("chargram", "", gram)] = None
            return
        found: dict[str, list[int]] = {}
        for start in range(0, len(todo), 500):
            part = todo[start : start + 500]
            for gram, blob in self.con.execute(
                "SELECT v.gram, p.doc_ids FROM chargram_vocab v CROSS JOIN chargram_postings p"
                f" ON p.gram_id = v.gram_id WHERE v.gram IN ({','.join('?' * len(part))})",
                part,
            ):
                if blob is not None:
                    docs = _u4_list(blob)
                    if docs:
                        found[str(gram)] = docs
        for gram in todo:
            hit = found.get(gram)
            self._cache[("chargram", "", gram)] = None if hit is None else (hit, [])

    def candidate_docs(
        self, grams: Any, lookup: Callable[[str], list[int] | None], total_docs: int
    ) -> list[int]:
        """``expand._candidate_docs`` without numpy: the same ids in the same order."""
        unique = list(dict.fromkeys(grams))
        self.prefetch_chargrams(unique)
        lists = [p for g in unique if (p := lookup(g)) is not None]
        if not lists or total_docs <= 0:
            return []
        counts: Counter[int] = Counter()
        for docs in lists:
            counts.update(docs)
        hit = sorted(counts)
        if len(hit) > CANDIDATE_DOCS:
            hit = sorted(hit, key=lambda d: (-counts[d], d))[:CANDIDATE_DOCS]
        self.prefetch_streams(hit)
        return hit

    def prefetch_streams(self, docs: list[int]) -> None:
        if "field_tokens" not in self.tables:
            raise Unsupported("no field_tokens table")  # the engine parses the JSONL piece
        todo = [d for d in docs if d not in self._streams]
        for start in range(0, len(todo), 500):
            part = todo[start : start + 500]
            for doc, text in self.con.execute(
                "SELECT doc_id, streams FROM field_tokens"
                f" WHERE doc_id IN ({','.join('?' * len(part))})",
                part,
            ):
                self._streams[int(doc)] = _decode_streams(text)
        for d in todo:
            self._streams.setdefault(d, {})

    def field_tokens(self, doc: int) -> dict[str, list[str]]:
        """``SqliteSource.field_tokens``: one chunk's field streams."""
        if doc not in self._streams:
            self.prefetch_streams([doc])
        return self._streams[doc]

    def filter_columns(self) -> Any:
        raise Unsupported("filter columns")

    @property
    def stats(self) -> Stats:
        if self._stats is None:
            lengths = [0.0] * self.count
            for doc, length in self.con.execute("SELECT doc_id, len FROM doc_lengths"):
                lengths[int(doc)] = float(length)
            kv = dict(self.con.execute("SELECT key, value FROM token_stats").fetchall())
            self._stats = (
                lengths,
                float(kv.get("avgDocLen", 0.0)),
                int(kv.get("totalDocs", self.count)),
            )
        return self._stats

    def fields(self) -> dict[str, tuple[Callable[[str], Posting | None], Stats]]:
        if self._fields is None:
            out: dict[str, tuple[Callable[[str], Posting | None], Stats]] = {}
            if "field_stats" in self.tables:
                for field, avg, total, blob in self.con.execute(
                    "SELECT field, avg_doc_len, total_docs, doc_lengths FROM field_stats"
                ):
                    lengths = _u4_array(blob)  # ints; _bm25 makes each float it reads

                    def lookup(tok: str, _f: str = str(field)) -> Posting | None:
                        return self._postings("field", _f, tok)

                    out[str(field)] = (lookup, (lengths, float(avg), int(total)))
            self._fields = out
        return self._fields

    def weights_of(self, ids: list[int]) -> list[float]:
        """Chunk weights (NULL or a missing row: 1), by primary key or, for many ids, the
        whole column in one grouped read; both give ``SqliteSource``'s values."""
        found: dict[int, float] = {}
        if len(ids) > 256:
            for weight, docs in self.con.execute(
                "SELECT weight, group_concat(id) FROM chunks GROUP BY weight"
            ):
                value = float(weight) if weight is not None else 1.0
                if docs:
                    found.update(dict.fromkeys(map(int, docs.split(",")), value))
        else:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                for doc, weight in self.con.execute(
                    f"SELECT id, weight FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                    part,
                ):
                    found[int(doc)] = float(weight if weight is not None else 1.0)
        return [found.get(i, 1.0) for i in ids]

    def max_weight(self) -> float:
        """No chunk's weight exceeds this (NULL and a missing row count as 1)."""
        top = self._one("SELECT max(weight) FROM chunks")
        return max(1.0, float(top)) if top is not None else 1.0

    def phrase(self, ngram: str) -> list[int] | None:
        """``SqliteSource.phrase``: the doc ids of a phrase n-gram from its block."""
        if "phrase_vocab" not in self.tables:
            return None
        row = self.con.execute(PHRASE_BLOCK_SQL, (ngram,)).fetchone()
        if row is None:
            return None
        text, bounds, docs = row
        names = text.split(PHRASE_SEP)
        i = bisect_left(names, ngram)
        if i == len(names) or names[i] != ngram:
            return None
        if len(bounds) != 4 * (len(names) + 1) or len(docs) % 4:
            raise Unsupported("corrupt phrase block")
        a, b = _u4_list(bounds[4 * i : 4 * i + 8])
        if not a <= b <= len(docs) // 4:
            raise Unsupported("corrupt phrase block")
        found = _u4_list(docs[4 * a : 4 * b])
        return found or None

    def prefetch_chunks(self, ids: list[int]) -> None:
        todo = sorted({i for i in ids if i not in self._chunks})
        for start in range(0, len(todo), 500):
            part = todo[start : start + 500]
            for row in self.con.execute(
                f"SELECT * FROM chunks WHERE id IN ({','.join('?' * len(part))})", part
            ):
                chunk = chunk_from_row(row)
                self._chunks[chunk["id"]] = chunk

    def chunk(self, doc: int) -> dict[str, Any]:
        hit = self._chunks.get(doc)
        if hit is None:
            row = self.con.execute("SELECT * FROM chunks WHERE id = ?", (doc,)).fetchone()
            if row is None:
                raise Unsupported("missing chunk")
            hit = chunk_from_row(row)
            self._chunks[doc] = hit
        return hit


# -- scoring: rank.py's functions over sparse dicts (same operations, same order) ------------


def _bm25(
    tokens: list[scoring.QueryToken],
    lookup: Callable[[str], Posting | None],
    stats: Stats,
    k1: float,
    b: float,
) -> dict[int, float]:
    """``rank.bm25_scores`` restricted to the chunks that score (the rest are 0.0)."""
    lengths, avg_doc_len, total_docs = stats
    avgdl = avg_doc_len if avg_doc_len > 0 else 1.0
    scores: dict[int, float] = {}
    for qt in tokens:
        best: dict[int, float] | None = None
        for token, factor in qt.alternatives:
            postings = lookup(token)
            if postings is None or not postings[0]:
                continue
            ids, tfs = postings
            weight = scoring.idf(total_docs, len(ids))
            part: dict[int, float] = {}
            for d, t in zip(ids, tfs, strict=True):
                tf = float(t)
                norm = tf + k1 * (1.0 - b + b * float(lengths[d]) / avgdl)
                part[d] = weight * tf * (k1 + 1.0) / norm * factor
            if best is None:
                best = part
            else:
                for d, v in part.items():
                    if v > best.get(d, 0.0):
                        best[d] = v
        if best is not None:
            qf = qt.qf
            for d, v in best.items():
                scores[d] = scores.get(d, 0.0) + v * qf
    return scores


def _fielded_bm25(
    tokens: list[scoring.QueryToken],
    fields: Mapping[str, tuple[Callable[[str], Posting | None], Stats]],
    weights: Mapping[str, float],
    k1: float,
    b: float,
) -> dict[int, float]:
    scores: dict[int, float] = {}
    for field, (lookup, stats) in fields.items():
        w = weights.get(field, 0.0)
        if w == 0.0:
            continue
        for d, v in _bm25(tokens, lookup, stats, k1, b).items():
            scores[d] = scores.get(d, 0.0) + w * v
    return scores


def _term_docs(source: LiteSource, plan: ModePlan, term: Term) -> set[int] | None:
    """``plan._term_mask`` as a set: chunks holding every sub-word (any alternative)."""
    subs = plan.terms.get(id(term), [])
    if not subs:
        return None
    out: set[int] | None = None
    for sub in subs:
        any_alt: set[int] = set()
        for token, _factor in sub.alternatives:
            p = source.lookup(token)
            if p is not None:
                any_alt.update(p[0])
        out = any_alt if out is None else out & any_alt
    return out


def _contains_run(stream: list[str], toks: list[str]) -> bool:
    """``plan._contains_run``: ``toks`` consecutive somewhere in ``stream``."""
    k = len(toks)
    first = toks[0]
    return any(stream[i] == first and stream[i : i + k] == toks for i in range(len(stream) - k + 1))


def _phrase_docs(source: LiteSource, toks: list[str]) -> set[int] | None:
    """``plan.phrase_mask`` as a set: postings prefilter, then the field streams."""
    if not toks:
        return None
    cand: set[int] | None = None
    for tok in dict.fromkeys(toks):
        p = source.lookup(tok)
        docs = set(p[0]) if p is not None else set()
        cand = docs if cand is None else cand & docs
    assert cand is not None
    if len(toks) == 1:
        return cand
    ordered = sorted(cand)
    source.prefetch_streams(ordered)
    return {
        d for d in ordered if any(_contains_run(s, toks) for s in source.field_tokens(d).values())
    }


def _constraint(source: LiteSource, plan: ModePlan, match_mode: str) -> set[int] | None:
    """``plan.constraint_mask`` over sets (None: nothing constrains); the plan has no path
    terms (those are left to the engine)."""
    n = source.count

    def ev(node: Node, hard: bool) -> set[int] | None:
        if isinstance(node, Term):
            return _term_docs(source, plan, node) if hard else None
        if isinstance(node, Phrase):
            return _phrase_docs(source, plan.phrases.get(id(node), []))
        if isinstance(node, Not):
            inner = ev(node.child, True)
            return None if inner is None else set(range(n)) - inner
        if isinstance(node, Or):
            acc: set[int] | None = None
            for child in node.children:
                m = ev(child, True)
                if m is not None:
                    acc = set(m) if acc is None else acc | m
            return acc
        assert isinstance(node, And)
        if node.explicit or match_mode == "all":
            acc = None
            for child in node.children:
                m = ev(child, True)
                if m is not None:
                    acc = set(m) if acc is None else acc & m
            return acc
        # implicit AND under "any": terms rank only; hard children still constrain; in a hard
        # context (under OR/NOT) the group must still match one of its terms
        hard_acc: set[int] | None = None
        soft_any: set[int] | None = None
        for child in node.children:
            if isinstance(child, Term):
                if hard:
                    m = ev(child, True)
                    if m is not None:
                        soft_any = set(m) if soft_any is None else soft_any | m
                continue
            m = ev(child, hard)
            if m is not None:
                hard_acc = set(m) if hard_acc is None else hard_acc & m
        if soft_any is not None:
            hard_acc = soft_any if hard_acc is None else hard_acc & soft_any
        return hard_acc

    return ev(plan.ast, match_mode == "all")


def _top_weighted(
    source: LiteSource, raw: Mapping[int, float], allowed: set[int] | None, k: int
) -> list[tuple[int, float]]:
    """``rank.top_k(_weighted(raw), allowed, k)`` as ``(id, score)`` pairs, reading few weights.

    A chunk's score is ``raw × weight`` and no weight exceeds ``wmax``, so once the k-th best
    score among the chunks read beats ``wmax ×`` the best raw score not yet read, no unread
    chunk can enter (or tie into) the top k: weights are read for the best raw scores first,
    4× more per round, instead of for every scored chunk. Products of non-negative floats
    round monotonically, so the bound holds in floating point too.
    """
    if any(v < 0 for v in raw.values()):  # negative field weights: no bound, read them all
        scored = [d for d, v in raw.items() if v != 0.0]
        return _best(source, raw, scored, allowed, k)
    cands = sorted(
        (d for d, v in raw.items() if v > 0 and (allowed is None or d in allowed)),
        key=lambda d: -raw[d],
    )
    wmax = source.max_weight()
    take = max(64, 4 * k)
    while True:
        top = _best(source, raw, cands[:take], None, k)
        if take >= len(cands):
            return top
        if len(top) == k and top[-1][1] > raw[cands[take]] * wmax:
            return top
        take *= 4


def _named_definitions(
    source: LiteSource,
    fields: Mapping[str, tuple[Callable[[str], Posting | None], Stats]],
    query_names: list[tuple[str, tuple[str, ...]]],
    raw: Mapping[int, float],
    allowed: set[int] | None,
    ranked: set[int],
    limit: int,
) -> list[tuple[int, float]]:
    """``engine._named_definitions`` over sqlite rows, with each chunk's weighted score:
    allowed chunks named exactly as a query term that the sparse top-N missed."""
    name_field = fields.get("name")
    if name_field is None or not query_names:
        return []
    lookup = name_field[0]
    pool: set[int] = set()
    for _text, subs in query_names:
        docs: set[int] | None = None
        for sub in dict.fromkeys(subs):
            post = lookup(sub)
            if post is None:
                docs = None
                break
            docs = set(post[0]) if docs is None else docs & set(post[0])
        if docs:
            pool |= docs
    cands = {
        d: raw[d]
        for d in pool
        if d in raw and d not in ranked and (allowed is None or d in allowed)
    }
    if not cands:
        return []
    # the best weighted scores, reading few weights (a common word's pool is thousands)
    picked = _top_weighted(source, cands, None, scoring.NAME_MATCH_POOL)
    source.prefetch_chunks([d for d, _ in picked])
    named = set(
        scoring.exact_named(
            (d for d, _ in picked), lambda d: source.chunk(d).get("name"), query_names, limit
        )
    )
    return [(d, score) for d, score in picked if d in named]


def _best(
    source: LiteSource,
    raw: Mapping[int, float],
    ids: list[int],
    allowed: set[int] | None,
    k: int,
) -> list[tuple[int, float]]:
    """The ``k`` best positive ``raw × weight`` among ``ids`` (ties: id ascending)."""
    weights = source.weights_of(ids)
    keep = [
        (d, raw[d] * w)
        for d, w in zip(ids, weights, strict=True)
        if raw[d] * w > 0 and (allowed is None or d in allowed)
    ]
    keep.sort(key=lambda kv: (-kv[1], kv[0]))
    return keep[:k]


def _search_mode(
    source: LiteSource,
    ast: Node,
    intent_type: str,
    opt: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[SearchWarning]]:
    """``engine.search_mode`` for the requests :func:`search` accepts."""
    mode = source.mode
    warnings: list[SearchWarning] = []
    n = source.count
    if n == 0:
        return [], warnings
    strict = bool(opt["strict"])
    plan = plan_mode(source, ast, strict=strict)
    if plan.is_empty():
        warnings.append(
            SearchWarning("QUERY_EMPTY_FOR_MODE", "no query term survives tokenization", mode)
        )
        return [], warnings
    if plan.path_terms:
        raise Unsupported("path term")
    for sub, alts in plan.expansions().items():
        listed = ", ".join(str(a["token"]) for a in alts)
        warnings.append(SearchWarning("QUERY_TERM_EXPANDED", f"{sub!r} matched as {listed}", mode))
    for msg in plan.split_messages():
        warnings.append(SearchWarning("QUERY_TERM_EXPANDED", msg, mode))
    match_mode = opt["match_mode"]
    if match_mode == "auto":
        match_mode = "any" if intent_type == "prose" else "all"
    top = int(opt["top"])
    allowed = _constraint(source, plan, match_mode)
    if match_mode == "all" and plan.has_implicit_and and not strict:
        admitted = n if allowed is None else len(allowed)
        if admitted < top:
            allowed = _constraint(source, plan, "any")
            match_mode = "any"
            warnings.append(
                SearchWarning(
                    "QUERY_RELAXED",
                    f"fewer than {top} chunks match every term; ranking any-term matches",
                    mode,
                )
            )
    expanded_top = 3 * top

    # sparse ranking
    weights_row = (
        dict(opt["field_weights"])
        if opt["field_weights"] is not None
        else field_weights(intent_type)  # type: ignore[arg-type]
    )
    k1, b = float(opt["k1"]), float(opt["b"])
    fields = source.fields()
    fielded = bool(opt["fielded"] and fields and source.fielded)
    tokens = plan.query_tokens()
    if fielded:
        raw = _fielded_bm25(tokens, fields, weights_row, k1, b)
        sparse_type = "bm25-fielded"
    else:
        raw = _bm25(tokens, source.lookup, source.stats, k1, b)
        sparse_type = "bm25"
    sparse_scores = dict(_top_weighted(source, raw, allowed, expanded_top))
    query_names = plan.query_names() if intent_type != "prose" else []
    if fields and source.fielded and query_names:  # also unfielded: engine's rule
        sparse_scores.update(
            _named_definitions(source, fields, query_names, raw, allowed, set(sparse_scores), top)
        )

    # no dense ranking: fusion is the sparse list itself; then the boosts
    fused = dict(sparse_scores)
    score_type = sparse_type if sparse_scores else "ann"
    if fused:
        source.prefetch_chunks(list(fused))
    pm: dict[int, int] = {}
    if fused:
        for gram in plan.query_ngrams():
            for d in set(source.phrase(gram) or ()):  # numpy's counts[ids] += 1
                pm[d] = pm.get(d, 0) + 1
    for d in list(fused):
        base = fused[d]
        matches = pm.get(d, 0)
        if matches:
            factor = scoring.phrase_factor(matches)
            boost = base * factor
            base += boost
        if opt["symbol_boost"]:
            chunk = source.chunk(d)
            _is_def, _is_exp, factor = scoring.symbol_factor(
                chunk.get("kind"),
                exported(chunk),
                opt["definition_weight"],
                opt["export_weight"],
            )
            _name_match, name_factor = scoring.name_match_factor(query_names, chunk.get("name"))
            factor *= name_factor
            if factor != 1.0:
                base *= factor
        fused[d] = base

    ordered = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    hits: list[dict[str, Any]] = []
    for d, score in ordered:
        hit = hit_record(source.chunk(d), d)
        hit.update(
            {
                "score": score,
                "scoreType": score_type,
                "sparseScore": sparse_scores.get(d),
                "sparseType": sparse_type if d in sparse_scores else None,
                "annScore": None,
                "annSource": None,
                "annType": None,
            }
        )
        if not math.isfinite(score):
            hit["score"] = None
        hits.append(hit)
    if not hits:
        operator_word_warning(ast, mode, warnings)
    return hits, warnings


# -- the request --------------------------------------------------------------------------


def _path_like(node: Node) -> bool:
    """Whether any term of the query is path-like (path terms are left to the engine)."""
    if isinstance(node, Term):
        return is_path_token(node.text) or is_segment_path(node.text)
    if isinstance(node, Phrase):
        return False
    if isinstance(node, Not):
        return _path_like(node.child)
    return any(_path_like(child) for child in node.children)


def _modes(mode: str | None) -> tuple[str, ...]:
    if mode is None or mode == "all":
        return ALL_MODES
    if mode == "both":
        return ("code", "prose")
    if mode in ALL_MODES:
        return (mode,)
    raise Unsupported("mode")


def _db(build_root: Path, mode: str) -> Path:
    """``backends.sqlite_path``: ``<buildRoot>/index-sqlite/index-<mode>.db``."""
    return paths.sqlite_dir(build_root) / f"index-{mode}.db"


def _compatible(states: Mapping[str, Mapping[str, Any]]) -> None:
    """``Searcher._check_compatible``: anything it would refuse is left to it."""
    keys: set[str] = set()
    for state in states.values():
        surface = str(state.get("artifactSurfaceVersion", ""))
        if surface.split(".")[0] != str(ARTIFACT_SURFACE_MAJOR):
            raise Unsupported("surface")
        inputs = state.get("compatibilityInputs")
        if isinstance(inputs, dict):
            for name, want in (
                ("artifactSurfaceMajor", ARTIFACT_SURFACE_MAJOR),
                ("schemaHash", SCHEMA_HASH),
                ("sqliteSchemaVersion", SQLITE_SCHEMA_VERSION),
            ):
                if name in inputs and inputs[name] != want:
                    raise Unsupported("compatibility inputs")
        key = state.get("compatibilityKey")
        if isinstance(key, str):
            keys.add(key)
    if len(keys) > 1:
        raise Unsupported("compatibility keys")


def search(
    p: Mapping[str, Any], env: Mapping[str, str], cwd: Path | None = None
) -> dict[str, Any] | None:
    """The §9.6 result of the CLI search parameters ``p`` (``cli_search.parse``'s), exactly
    as ``api.search`` would return it; None when the full engine must answer."""
    try:
        return _search(p, env, cwd if cwd is not None else Path.cwd())
    except Unsupported:
        return None
    except Exception:
        return None


def _search(p: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    if p["explain"] or p["stats"] or p["filter_string"] or p["modified_since"]:
        raise Unsupported("explain, stats or filters")
    if any(p[name] for name in _FILTER_PARAMS):
        raise Unsupported("filters")
    ast = parse_query(p["query"])  # a bad query raises: the engine reports it
    if _path_like(ast):
        raise Unsupported("path-like term")
    modes = _modes(p["mode"])
    repo = p["repo"]
    if repo is not None and not Path(cwd, repo).is_dir():
        raise Unsupported("repo")
    repo_root = paths.resolve_repo_root(repo, cwd, env)
    cfg, cache_root_cfg = load_settings(repo_root, env)
    backend = (p["backend"] or cfg["backend"]).lower()
    if backend not in ("sqlite", "auto"):
        raise Unsupported("backend")
    match_mode = p["match"] or cfg["matchMode"]
    dvm = p["dense_vector_mode"] or "auto"
    ann_backend = p["ann_backend"] or cfg["ann"]["backend"]
    if ann_backend == "js":
        ann_backend = "exact"
    top = p["top"] if p["top"] is not None else cfg["top"]
    fts_profile = p["fts_profile"] or cfg["ftsProfile"]
    if (
        match_mode not in ("auto", "all", "any")
        or dvm not in ("merged", "code", "doc", "auto")
        or ann_backend not in ("auto", "exact", "hnsw")
        or top < 1
        or fts_profile not in FTS_PROFILES
    ):
        raise Unsupported("invalid option: the engine reports it")
    ann = cfg["ann"]["enabled"] if p["ann"] is None else p["ann"]
    if cfg["scoreBlend"]["enabled"]:
        raise Unsupported("score blend")
    fw = cfg["fieldWeights"]
    custom = {k: v for k, v in fw.items() if v is not None} if fw is not False else {}
    opt = {
        "top": top,
        "match_mode": match_mode,
        "strict": bool(p["strict"]),
        "k1": p["bm25_k1"] if p["bm25_k1"] is not None else cfg["bm25"]["k1"],
        "b": p["bm25_b"] if p["bm25_b"] is not None else cfg["bm25"]["b"],
        "field_weights": custom or None,
        "fielded": fw is not False,
        "symbol_boost": cfg["symbolBoost"]["enabled"],
        "definition_weight": cfg["symbolBoost"]["definitionWeight"],
        "export_weight": cfg["symbolBoost"]["exportWeight"],
    }

    cache_root = paths.default_cache_root(cache_root_cfg, env)
    layout = paths.RepoLayout.for_repo(repo_root, cache_root)
    if not layout.current_json.is_file():
        raise Unsupported("no current.json")
    ptr = _read_json(layout.current_json)
    if not current_pointer_ok(ptr):
        raise Unsupported("current.json")
    repo_dir = layout.repo_dir
    for rel in [ptr["buildRoot"], *ptr["buildRoots"].values()]:
        _inside(repo_dir, rel)
    roots = {m: _inside(repo_dir, ptr["buildRoots"].get(m, ptr["buildRoot"])) for m in ptr["modes"]}

    warnings: list[SearchWarning] = []
    states: dict[str, dict[str, Any]] = {}
    sizes: dict[str, int] = {}
    for mode in modes:
        root = roots.get(mode)
        directory = paths.index_dir(root, mode) if root is not None else None
        if directory is None or not directory.is_dir():
            if p["mode"] not in (None, "all", "both"):
                raise Unsupported("mode not indexed")
            warnings.append(SearchWarning("MODE_NOT_INDEXED", f"mode {mode} is not indexed", mode))
            continue
        manifest = _read_json(directory / "pieces" / "manifest.json")
        if not pieces_manifest_ok(manifest):
            raise Unsupported("manifest")
        names = {piece["name"] for piece in manifest["pieces"]}
        sizes[mode] = sum(int(piece["bytes"]) for piece in manifest["pieces"])
        if ann and (
            any(n in names for n in _DENSE_PIECES)
            or cfg["ann"]["minhashFallback"]
            or p["ann"] is True  # the engine decides what an explicit --ann without vectors is
        ):
            raise Unsupported("dense or MinHash ranking")
        state_path = directory / "index_state.json"
        state = _read_json(state_path) if state_path.exists() else {}
        states[mode] = state if isinstance(state, dict) else {}
    if not states:
        raise Unsupported("no indexed mode")
    _compatible(states)
    if backend == "auto":  # backends.choose_backend: sqlite for a large index with its dbs
        dbs = all(_db(roots[m], m).is_file() for m in states)
        chunks = sum(st.get("counts", {}).get("chunks", 0) or 0 for st in states.values())
        large = (
            chunks > cfg["sqliteAutoChunkThreshold"]
            or sum(sizes.values()) > cfg["sqliteAutoArtifactBytes"]
        )
        if not (dbs and large):
            raise Unsupported("auto picks the memory backend")

    phrases = [x for x in iter_positive(ast) if isinstance(x, Phrase)]
    intent = classify_intent(p["query"], phrase_count=len(phrases), path_filter=False)
    sources = {
        mode: LiteSource(mode, state, _db(roots[mode], mode)) for mode, state in states.items()
    }
    out: dict[str, Any] = {
        "ok": True,
        "query": p["query"],
        "backend": "sqlite",
        "code": [],
        "prose": [],
        "extractedProse": [],
        "warnings": [],
    }
    for mode, source in sources.items():
        hits, mode_warnings = _search_mode(source, ast, intent.type, opt)
        out[MODE_KEYS[mode]] = hits
        warnings.extend(mode_warnings)
    out["warnings"] = [w.to_json() for w in warnings]
    if p["compact"]:
        from pairofcleats.search.render import compact_result

        return compact_result(out)
    return out
