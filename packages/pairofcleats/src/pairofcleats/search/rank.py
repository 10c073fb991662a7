"""Scoring (§9.4): BM25, fielded BM25, dense cosine, MinHash Jaccard, RRF and score blending.

Pure numpy over plain arrays: a backend supplies postings (``doc ids``, ``tf``) for the query
tokens and the length statistics, and gets back a dense score vector over all chunks, which
the allowed mask then gates before top-N selection. Every sparse backend goes through these
same functions, which is why ``memory`` and ``sqlite`` agree to 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pairofcleats.search.scoring import (
    EXPANSION_FACTOR,
    NAME_MATCH_POOL,
    RRF_K,
    Bm25Params,
    QueryToken,
    idf,
    name_match_factor,
    phrase_factor,
    symbol_factor,
)

__all__ = [
    "EXPANSION_FACTOR",
    "NAME_MATCH_POOL",
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
_DEFAULT_PARAMS = Bm25Params()


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
    params: Bm25Params = _DEFAULT_PARAMS,
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
    params: Bm25Params = _DEFAULT_PARAMS,
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
