"""Typo tolerance (§9.1 relaxation step 1): expand a sub-word that has no exact posting.

Candidates come from the chargram postings: the chunks sharing the most character n-grams with
the sub-word are looked up, and the tokens of their fielded streams are scored; the whole
vocabulary is never scanned per query. A candidate qualifies when it has ≥ 4 characters and
its Damerau-Levenshtein distance is ≤ 1 (≤ 2 for sub-words of ≥ 7 characters), or its
character 3-gram Jaccard with the sub-word is ≥ 0.6. At most 3 are kept, ordered by distance,
then df (desc), then the token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pairofcleats.search.rank import Postings

__all__ = [
    "Expansion",
    "damerau_levenshtein",
    "expand_subword",
    "trigram_jaccard",
    "wrapped_chargrams",
]

MAX_EXPANSIONS = 3
MIN_TOKEN_LEN = 4
JACCARD_MIN = 0.6
CANDIDATE_DOCS = 64
CHARGRAM_FIELDS = ("name", "signature", "doc", "comment")


@dataclass(frozen=True, slots=True)
class Expansion:
    """One accepted replacement for a sub-word, as ``--explain`` lists it."""

    token: str
    distance: int
    jaccard: float
    df: int

    def to_json(self) -> dict[str, object]:
        return {
            "token": self.token,
            "distance": self.distance,
            "jaccard": round(self.jaccard, 6),
            "df": self.df,
        }


def damerau_levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance (adjacent transpositions count 1), capped at
    ``limit + 1`` so far-apart strings are rejected without filling the whole table."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        row_min = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            val = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                val = min(val, prev2[j - 2] + 1)
            cur[j] = val
            row_min = min(row_min, val)
        if row_min > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[len(b)], limit + 1)


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(max(0, len(text) - 2))}


def trigram_jaccard(a: str, b: str) -> float:
    """Jaccard of the character 3-gram sets (no sentinels)."""
    ga, gb = _trigrams(a), _trigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def wrapped_chargrams(token: str, min_n: int = 3, max_n: int = 5) -> list[str]:
    """The build's chargrams of one token: n-grams of ``\\u0002token\\u0003``."""
    wrapped = "\u0002" + token + "\u0003"
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        out.extend(wrapped[i : i + n] for i in range(len(wrapped) - n + 1))
    return out


#: ``(grams, chargram_lookup, total_docs) -> candidate chunk ids`` (see ``_candidate_docs``).
CandidateDocs = Callable[[Iterable[str], Callable[[str], Any], int], list[int]]


def _candidate_docs(
    grams: Iterable[str], chargram_lookup: Callable[[str], Postings | None], total_docs: int
) -> list[int]:
    """The chunks sharing the most chargrams with the sub-word: every chunk hit, in id order,
    or the ``CANDIDATE_DOCS`` with the most hits (most first, ties by id)."""
    import numpy as np  # only a query that needs typo expansion pays for numpy here

    lists = [p.doc_ids for g in dict.fromkeys(grams) if (p := chargram_lookup(g)) is not None]
    if not lists or total_docs <= 0:
        return []
    counts = np.bincount(np.concatenate(lists), minlength=total_docs)
    hit = np.flatnonzero(counts)
    if hit.size > CANDIDATE_DOCS:
        order = np.lexsort((hit, -counts[hit]))
        hit = hit[order[:CANDIDATE_DOCS]]
    return [int(d) for d in hit]


def expand_subword(
    subword: str,
    *,
    chargram_lookup: Callable[[str], Postings | None],
    doc_tokens: Callable[[int], Iterable[str]],
    df: Callable[[str], int],
    total_docs: int,
    gram_sizes: tuple[int, int] = (3, 5),
    candidate_docs: CandidateDocs | None = None,
) -> list[Expansion]:
    """Up to 3 vocabulary tokens standing in for ``subword`` (empty if none qualify).

    ``doc_tokens(id)`` yields the fielded tokens of a chunk (the streams chargrams were built
    from); ``df`` is the unfielded document frequency, 0 for tokens not in the vocabulary.
    ``candidate_docs`` replaces the numpy ``_candidate_docs`` (same ids, same order).
    """
    if len(subword) < 2:
        return []
    limit = 2 if len(subword) >= 7 else 1
    pick = candidate_docs if candidate_docs is not None else _candidate_docs
    docs = pick(wrapped_chargrams(subword, *gram_sizes), chargram_lookup, total_docs)
    seen: set[str] = set()
    found: list[Expansion] = []
    for doc in docs:
        for tok in doc_tokens(doc):
            if tok in seen or tok == subword or len(tok) < MIN_TOKEN_LEN:
                continue
            seen.add(tok)
            dist = damerau_levenshtein(subword, tok, limit)
            jac = trigram_jaccard(subword, tok)
            if dist > limit and jac < JACCARD_MIN:
                continue
            freq = df(tok)
            if freq <= 0:
                continue
            found.append(Expansion(tok, dist, jac, freq))
    found.sort(key=lambda e: (e.distance, -e.df, e.token))
    return found[:MAX_EXPANSIONS]


def fielded_doc_tokens(
    field_tokens: Sequence[dict[str, list[str]]], fields: Sequence[str] = CHARGRAM_FIELDS
) -> Callable[[int], Iterable[str]]:
    """``doc_tokens`` over parsed ``field_tokens`` rows (the streams chargrams come from)."""

    def tokens(doc: int) -> Iterable[str]:
        if doc >= len(field_tokens):
            return ()
        row = field_tokens[doc]
        out: list[str] = []
        for f in fields:
            out.extend(row.get(f, ()))
        return out

    return tokens
