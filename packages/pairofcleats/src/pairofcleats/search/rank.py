"""Scoring (§9.4): BM25, fielded BM25, dense cosine, MinHash Jaccard, RRF and score blending.

Pure numpy over plain arrays: a backend supplies postings (``doc ids``, ``tf``) for the query
tokens and the length statistics, and gets back a dense score vector over all chunks, which
the allowed mask then gates before top-N selection. Every sparse backend goes through these
same functions, which is why ``memory`` and ``sqlite`` agree to 1e-9.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pairofcleats.tokenize import split_id

__all__ = [
    "EXPANSION_FACTOR",
    "RRF_K",
    "Bm25Params",
    "FieldStats",
    "Postings",
    "QueryToken",
    "blend_score",
    "bm25_scores",
    "dense_scores",
    "fielded_bm25_scores",
    "idf",
    "minhash_jaccard",
    "name_match_factor",
    "phrase_factor",
    "rrf_fuse",
    "symbol_factor",
    "top_k",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolMask = npt.NDArray[np.bool_]

RRF_K = 60
EXPANSION_FACTOR = 0.8
NAME_EXACT_FACTOR = 1.5
NAME_SUBWORD_FACTOR = 1.25
_NAME_SEP_RE = re.compile(r"\.|::|->|#")
DEFINITION_KIND_MARKERS = ("Declaration", "Definition", "Initializer", "Deinitializer")


@dataclass(frozen=True, slots=True)
class Bm25Params:
    k1: float = 1.2
    b: float = 0.75


@dataclass(frozen=True, slots=True)
class Postings:
    """One token's posting list: strictly ascending doc ids and their term frequencies."""

    doc_ids: I64
    tfs: I64


@dataclass(frozen=True, slots=True)
class FieldStats:
    """Length statistics of one stream (unfielded or a field)."""

    doc_lengths: F64
    avg_doc_len: float
    total_docs: int


@dataclass(frozen=True, slots=True)
class QueryToken:
    """One distinct query sub-word: its vocabulary alternatives with multipliers, and ``qf``.

    An exact sub-word has one alternative ``(token, 1.0)``; a typo-expanded one has up to
    three ``(expansion, 0.8)``. A chunk's contribution is the best alternative it contains.
    """

    text: str
    alternatives: tuple[tuple[str, float], ...]
    qf: int = 1


def idf(total_docs: int, df: int) -> float:
    """``ln(1 + (N − df + 0.5)/(df + 0.5))`` (never negative, unlike classic BM25)."""
    return math.log(1.0 + (total_docs - df + 0.5) / (df + 0.5))


def _term_contrib(postings: Postings, stats: FieldStats, params: Bm25Params) -> tuple[I64, F64]:
    tf = postings.tfs.astype(np.float64)
    dl = stats.doc_lengths[postings.doc_ids]
    avgdl = stats.avg_doc_len if stats.avg_doc_len > 0 else 1.0
    norm = tf + params.k1 * (1.0 - params.b + params.b * dl / avgdl)
    weight = idf(stats.total_docs, int(postings.doc_ids.size))
    return postings.doc_ids, weight * tf * (params.k1 + 1.0) / norm


def bm25_scores(
    tokens: Sequence[QueryToken],
    lookup: Callable[[str], Postings | None],
    stats: FieldStats,
    params: Bm25Params = Bm25Params(),
) -> F64:
    """Unfielded BM25 of every chunk (zeros where no query token occurs), before ``weight``."""
    scores = np.zeros(stats.total_docs, dtype=np.float64)
    for qt in tokens:
        best: F64 | None = None
        for token, factor in qt.alternatives:
            postings = lookup(token)
            if postings is None or postings.doc_ids.size == 0:
                continue
            ids, contrib = _term_contrib(postings, stats, params)
            part = np.zeros(stats.total_docs, dtype=np.float64)
            part[ids] = contrib * factor
            best = part if best is None else np.maximum(best, part)
        if best is not None:
            scores += best * qt.qf
    return scores


def fielded_bm25_scores(
    tokens: Sequence[QueryToken],
    fields: Mapping[str, tuple[Callable[[str], Postings | None], FieldStats]],
    weights: Mapping[str, float],
    total_docs: int,
    params: Bm25Params = Bm25Params(),
) -> F64:
    """``Σ_field weight_field × BM25_field`` with each field's own length statistics."""
    scores = np.zeros(total_docs, dtype=np.float64)
    for field, (lookup, stats) in fields.items():
        w = weights.get(field, 0.0)
        if w == 0.0:
            continue
        scores += w * bm25_scores(tokens, lookup, stats, params)
    return scores


def dense_scores(
    matrix: npt.NDArray[np.float32], query: npt.NDArray[np.float32], rows: I64 | None = None
) -> F64:
    """Cosine of ``query`` against unit rows (all rows, or only ``rows`` when filtered)."""
    q = query.astype(np.float32)
    qn = float(np.linalg.norm(q))
    if qn > 0:
        q = q / qn
    if rows is None:
        return (matrix @ q).astype(np.float64)
    return (matrix[rows] @ q).astype(np.float64)


def minhash_jaccard(signatures: npt.NDArray[np.uint32], query_sig: npt.NDArray[np.uint32]) -> F64:
    """Estimated Jaccard similarity: the share of equal MinHash slots per row."""
    if signatures.size == 0:
        return np.zeros(signatures.shape[0], dtype=np.float64)
    share: F64 = (signatures == query_sig[None, :]).mean(axis=1).astype(np.float64)
    return share


def top_k(scores: F64, allowed: BoolMask | None, k: int, *, positive_only: bool = True) -> I64:
    """Ids of the ``k`` best scores among allowed ids, ties broken by id ascending.

    With ``positive_only`` (sparse lists) a chunk needs a score > 0 to be listed.
    """
    keep = scores > 0 if positive_only else np.isfinite(scores)
    if allowed is not None:
        keep &= allowed
    ids = np.flatnonzero(keep)
    if ids.size == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    sel = scores[ids]
    if ids.size > k:
        # Partition first (linear), then sort only the survivors; include every tie at the cut.
        cut = -np.partition(-sel, k - 1)[k - 1]
        mask = sel >= cut
        ids, sel = ids[mask], sel[mask]
    order = np.lexsort((ids, -sel))
    return ids[order][:k].astype(np.int64)


def rrf_fuse(
    sparse_ranked: Sequence[int], dense_ranked: Sequence[int], k: int = RRF_K
) -> dict[int, tuple[float, int | None, int | None]]:
    """Reciprocal-rank fusion: ``id → (Σ 1/(k + rank), sparseRank, annRank)``, ranks 1-based."""
    out: dict[int, tuple[float, int | None, int | None]] = {}
    sparse_rank = {doc: r for r, doc in enumerate(sparse_ranked, start=1)}
    dense_rank = {doc: r for r, doc in enumerate(dense_ranked, start=1)}
    for doc in {*sparse_rank, *dense_rank}:
        sr = sparse_rank.get(doc)
        dr = dense_rank.get(doc)
        score = (1.0 / (k + sr) if sr else 0.0) + (1.0 / (k + dr) if dr else 0.0)
        out[doc] = (score, sr, dr)
    return out


def blend_score(
    sparse: float | None,
    max_sparse: float,
    ann: float | None,
    sparse_weight: float = 1.0,
    ann_weight: float = 1.0,
) -> float:
    """``(s/maxS·ws + (clip(a,−1,1)+1)/2·wa)/(ws+wa)`` over the parts that are present."""
    num = 0.0
    den = 0.0
    if sparse is not None and max_sparse > 0:
        num += sparse / max_sparse * sparse_weight
        den += sparse_weight
    if ann is not None:
        num += (min(1.0, max(-1.0, ann)) + 1.0) / 2.0 * ann_weight
        den += ann_weight
    return num / den if den > 0 else 0.0


def phrase_factor(matches: int) -> float:
    """Phrase boost: ``min(0.5, 0.1 × matches)``; the score becomes ``score·(1 + factor)``."""
    return min(0.5, 0.1 * matches)


def symbol_factor(
    kind: str | None,
    exported: bool,
    definition_weight: float = 1.15,
    export_weight: float = 1.1,
) -> tuple[bool, bool, float]:
    """``(isDefinition, isExported, factor)`` of the symbol boost."""
    is_def = bool(kind) and any(m in str(kind) for m in DEFINITION_KIND_MARKERS)
    factor = (definition_weight if is_def else 1.0) * (export_weight if exported else 1.0)
    return is_def, exported, factor


def name_match_factor(
    query_names: Sequence[tuple[str, tuple[str, ...]]], name: str | None
) -> tuple[str, float]:
    """Definition-name boost for a chunk named ``name``.

    ``("exact", 1.5)`` when a query term is the name or its last segment as written
    (``Greeter.greet``; ``increment`` for ``Counter.increment``; ``Shape`` but not ``shape``);
    ``("subwords", 1.25)`` when only the sub-words agree (``format_message`` vs
    ``formatMessage``, ``main`` vs ``Main``); else ``("", 1.0)``. ``query_names`` are the
    positive terms as ``(text, sub-words)``.
    """
    if not name or not query_names:
        return "", 1.0
    last = _NAME_SEP_RE.split(name)[-1]
    if any(text in (name, last) for text, _subs in query_names):
        return "exact", NAME_EXACT_FACTOR
    wanted = {subs for _text, subs in query_names if subs}
    if tuple(split_id(name)) in wanted or tuple(split_id(last)) in wanted:
        return "subwords", NAME_SUBWORD_FACTOR
    return "", 1.0
