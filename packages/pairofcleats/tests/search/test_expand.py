"""Typo expansion primitives (§9.1 relaxation step 1)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.search.expand import (
    damerau_levenshtein,
    expand_subword,
    trigram_jaccard,
    wrapped_chargrams,
)
from pairofcleats.search.rank import Postings


def _reference_osa(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_distance_examples() -> None:
    assert damerau_levenshtein("numbrs", "numbers") == 1
    assert damerau_levenshtein("greter", "greeter") == 1
    assert damerau_levenshtein("gerat", "great") == 1  # transposition
    assert damerau_levenshtein("abc", "abc") == 0
    assert damerau_levenshtein("kitten", "sitting", limit=1) == 2  # capped at limit + 1


@settings(max_examples=300, deadline=None)
@given(st.text("abcd", max_size=7), st.text("abcd", max_size=7))
def test_capped_distance_matches_reference(a: str, b: str) -> None:
    want = _reference_osa(a, b)
    assert damerau_levenshtein(a, b, limit=3) == min(want, 4)


def test_trigram_jaccard_and_chargrams() -> None:
    assert trigram_jaccard("numbers", "numbers") == 1.0
    assert trigram_jaccard("ab", "abc") == 0.0
    assert 0 < trigram_jaccard("numbrs", "numbers") < 1
    grams = wrapped_chargrams("ab", 3, 4)
    assert grams == ["\u0002ab", "ab\u0003", "\u0002ab\u0003"]


def test_expand_picks_close_tokens_only() -> None:
    docs = {0: ["numbers", "add"], 1: ["number"], 2: ["nimbus"], 3: ["numbers"]}
    vocab_df = {"numbers": 2, "number": 1, "nimbus": 1, "add": 1}
    index: dict[str, list[int]] = {}
    for doc, toks in docs.items():
        for tok in toks:
            for g in wrapped_chargrams(tok):
                index.setdefault(g, [])
                if doc not in index[g]:
                    index[g].append(doc)

    def lookup(g: str) -> Postings | None:
        ids = index.get(g)
        if not ids:
            return None
        arr = np.asarray(sorted(ids), dtype=np.int64)
        return Postings(arr, np.ones_like(arr))

    found = expand_subword(
        "numbrs",
        chargram_lookup=lookup,
        doc_tokens=lambda d: docs.get(d, []),
        df=lambda t: vocab_df.get(t, 0),
        total_docs=4,
    )
    # "number" is 2 edits away (limit 1 below 7 chars) and shares too few 3-grams
    assert [e.token for e in found] == ["numbers"]
    assert found[0].distance == 1
    assert all(len(e.token) >= 4 for e in found)
    none = expand_subword(
        "zzzzzz",
        chargram_lookup=lookup,
        doc_tokens=lambda d: docs[d],
        df=vocab_df.get,
        total_docs=4,
    )
    assert none == []
