"""BM25, fielded BM25, RRF and top-N equal hand-computed values (acceptance 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.search.rank import (
    Bm25Params,
    FieldStats,
    Postings,
    QueryToken,
    blend_score,
    bm25_scores,
    dense_scores,
    fielded_bm25_scores,
    idf,
    minhash_jaccard,
    phrase_factor,
    rrf_fuse,
    symbol_factor,
    top_k,
)

# Three documents: d0 = "greet greet hello", d1 = "hello world", d2 = "sum values list"
DOCS = [["greet", "greet", "hello"], ["hello", "world"], ["sum", "values", "list"]]


def _index(docs: list[list[str]]) -> tuple[dict[str, Postings], FieldStats]:
    post: dict[str, dict[int, int]] = {}
    for i, doc in enumerate(docs):
        for tok in doc:
            post.setdefault(tok, {}).setdefault(i, 0)
            post[tok][i] += 1
    lookup = {
        t: Postings(np.array(sorted(d), dtype=np.int64), np.array([d[k] for k in sorted(d)]))
        for t, d in post.items()
    }
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    return lookup, FieldStats(lengths, float(lengths.mean()), len(docs))


def _hand_bm25(tf: int, df: int, dl: float, avgdl: float, n: int, k1=1.2, b=0.75) -> float:
    w = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))


def test_idf_formula() -> None:
    assert idf(3, 1) == pytest.approx(math.log(1 + 2.5 / 1.5), abs=1e-12)
    assert idf(10, 10) > 0


def test_bm25_equals_hand_computed() -> None:
    lookup, stats = _index(DOCS)
    avgdl = 8 / 3
    q = [QueryToken("greet", (("greet", 1.0),)), QueryToken("hello", (("hello", 1.0),))]
    got = bm25_scores(q, lookup.get, stats)
    want0 = _hand_bm25(2, 1, 3, avgdl, 3) + _hand_bm25(1, 2, 3, avgdl, 3)
    want1 = _hand_bm25(1, 2, 2, avgdl, 3)
    assert got[0] == pytest.approx(want0, abs=1e-9)
    assert got[1] == pytest.approx(want1, abs=1e-9)
    assert got[2] == 0.0


def test_query_frequency_and_params() -> None:
    lookup, stats = _index(DOCS)
    q = [QueryToken("hello", (("hello", 1.0),), qf=2)]
    got = bm25_scores(q, lookup.get, stats, Bm25Params(k1=2.0, b=0.5))
    want = 2 * _hand_bm25(1, 2, 2, 8 / 3, 3, k1=2.0, b=0.5)
    assert got[1] == pytest.approx(want, abs=1e-9)


def test_expansion_takes_best_alternative_times_factor() -> None:
    lookup, stats = _index(DOCS)
    q = [QueryToken("gret", (("greet", 0.8), ("hello", 0.8)))]
    got = bm25_scores(q, lookup.get, stats)
    g0 = _hand_bm25(2, 1, 3, 8 / 3, 3)
    h0 = _hand_bm25(1, 2, 3, 8 / 3, 3)
    assert got[0] == pytest.approx(0.8 * max(g0, h0), abs=1e-9)
    assert got[1] == pytest.approx(0.8 * _hand_bm25(1, 2, 2, 8 / 3, 3), abs=1e-9)


def test_unknown_tokens_score_nothing() -> None:
    lookup, stats = _index(DOCS)
    got = bm25_scores([QueryToken("zzz", (("zzz", 1.0),))], lookup.get, stats)
    assert not got.any()


def test_fielded_bm25_is_weighted_sum_of_field_bm25() -> None:
    names = [["greet"], ["hello"], ["sum"]]
    bodies = [["hello", "hello"], ["greet", "world", "x"], ["values"]]
    name_lookup, name_stats = _index(names)
    body_lookup, body_stats = _index(bodies)
    q = [QueryToken("greet", (("greet", 1.0),))]
    got = fielded_bm25_scores(
        q,
        {"name": (name_lookup.get, name_stats), "body": (body_lookup.get, body_stats)},
        {"name": 2.0, "body": 1.0},
        3,
    )
    assert got[0] == pytest.approx(2.0 * _hand_bm25(1, 1, 1, 1.0, 3), abs=1e-9)
    assert got[1] == pytest.approx(1.0 * _hand_bm25(1, 1, 3, 2.0, 3), abs=1e-9)
    assert got[2] == 0.0


def test_rrf_equals_formula() -> None:
    fused = rrf_fuse([7, 3, 5], [3, 9])
    assert fused[3] == (pytest.approx(1 / (60 + 2) + 1 / (60 + 1)), 2, 1)
    assert fused[7] == (pytest.approx(1 / 61), 1, None)
    assert fused[9] == (pytest.approx(1 / 62), None, 2)
    assert set(fused) == {3, 5, 7, 9}


def test_top_k_ties_by_id_and_allowed_mask() -> None:
    scores = np.array([1.0, 3.0, 3.0, 0.0, 2.0, 3.0])
    assert top_k(scores, None, 2).tolist() == [1, 2]
    allowed = np.array([True, False, True, True, True, False])
    assert top_k(scores, allowed, 3).tolist() == [2, 4, 0]
    assert top_k(scores, None, 10).tolist() == [1, 2, 5, 4, 0]  # zero never listed
    assert top_k(np.array([-0.5, 0.2]), None, 2, positive_only=False).tolist() == [1, 0]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5), min_size=0, max_size=40),
    st.integers(min_value=0, max_value=12),
)
def test_top_k_matches_a_full_sort(values: list[int], k: int) -> None:
    scores = np.array(values, dtype=np.float64)
    want = sorted((i for i, v in enumerate(values) if v > 0), key=lambda i: (-values[i], i))[:k]
    assert top_k(scores, None, k).tolist() == want


def test_dense_scores_are_cosines() -> None:
    m = np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    q = np.array([3, 4], dtype=np.float32)
    assert dense_scores(m, q).tolist() == pytest.approx([0.6, 0.8, 1.0], abs=1e-6)
    assert dense_scores(m, q, np.array([2, 0])).tolist() == pytest.approx([1.0, 0.6], abs=1e-6)


def test_blend_and_boosts() -> None:
    assert blend_score(2.0, 4.0, 0.5, 1.0, 1.0) == pytest.approx((0.5 + 0.75) / 2)
    assert blend_score(None, 4.0, 1.0) == pytest.approx(1.0)
    assert blend_score(4.0, 4.0, None) == pytest.approx(1.0)
    assert phrase_factor(2) == pytest.approx(0.2)
    assert phrase_factor(9) == 0.5
    assert symbol_factor("FunctionDeclaration", True) == (True, True, pytest.approx(1.265))
    assert symbol_factor("Module", False) == (False, False, 1.0)


def test_minhash_jaccard_share_of_equal_slots() -> None:
    sigs = np.array([[1, 2, 3, 4], [1, 9, 9, 4]], dtype=np.uint32)
    q = np.array([1, 2, 3, 5], dtype=np.uint32)
    assert minhash_jaccard(sigs, q).tolist() == [0.75, 0.25]
