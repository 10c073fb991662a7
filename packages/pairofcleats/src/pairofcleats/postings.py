"""Postings, phrase n-grams, chargrams and MinHash (§5), batched with numpy.

Every builder takes per-document token lists in docId order and returns
JSON-ready dicts whose vocabularies are sorted, unique code-point order and
whose token ids are vocabulary positions (§15 P2). Profiling showed the Python
per-token dict lookups dominate, so the counting and grouping run as one
``np.unique`` over packed ``(tokenId, docId)`` keys instead of nested dicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

MINHASH_SEEDS = 128
MINHASH_EMPTY = 0xFFFFFFFF
_MASK32 = np.uint64(0xFFFFFFFF)
_CHARGRAM_START = "\u0002"
_CHARGRAM_END = "\u0003"


def _vocab_and_ids(
    docs: Sequence[Sequence[str]],
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted vocabulary, then flat token ids and doc ids for every occurrence.

    ``map(index.__getitem__, …)`` keeps the per-token lookup in C (a generator
    expression here was the single hottest line of the build).
    """
    flat = list(itertools.chain.from_iterable(docs))
    vocab = sorted(set(flat))
    index = dict(zip(vocab, range(len(vocab)), strict=True))
    tids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    dids = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    return vocab, tids, dids


def _group(
    vocab: list[str],
    tids: npt.NDArray[np.int64],
    dids: npt.NDArray[np.int64],
    n_docs: int,
    with_tf: bool,
) -> list[Any]:
    """Per-token posting lists sorted by docId (strictly ascending, deduplicated)."""
    if not len(vocab):
        return []
    stride = max(n_docs, 1)
    keys, counts = np.unique(tids * stride + dids, return_counts=True)
    tok = keys // stride
    doc = keys % stride
    bounds = np.searchsorted(tok, np.arange(len(vocab) + 1))
    if with_tf:
        pairs = np.column_stack((doc, counts)).tolist()
        return [pairs[bounds[i] : bounds[i + 1]] for i in range(len(vocab))]
    docs_list = doc.tolist()
    return [docs_list[bounds[i] : bounds[i + 1]] for i in range(len(vocab))]


def token_postings(docs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``{vocab, postings[[docId, tf]…], docLengths, avgDocLen, totalDocs}``."""
    vocab, tids, dids = _vocab_and_ids(docs)
    lengths = [len(d) for d in docs]
    n = len(docs)
    return {
        "vocab": vocab,
        "postings": _group(vocab, tids, dids, n, with_tf=True),
        "docLengths": lengths,
        "avgDocLen": (sum(lengths) / n) if n else 0.0,
        "totalDocs": n,
    }


def doc_postings(docs: Sequence[Sequence[str]]) -> dict[str, Any]:
    """``{vocab, postings[[docId…]]}``: which docs hold each term (repeats collapse)."""
    vocab, tids, dids = _vocab_and_ids(docs)
    return {"vocab": vocab, "postings": _group(vocab, tids, dids, len(docs), with_tf=False)}


def phrase_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """Space-joined n-grams (n in min_n..max_n) of one field stream."""
    out: list[str] = []
    count = len(tokens)
    for n in range(max(min_n, 1), max_n + 1):
        if n > count:
            break
        if n == 1:
            out.extend(tokens)
        elif n == 2:
            out.extend([f"{a} {b}" for a, b in itertools.pairwise(tokens)])
        else:
            out.extend([" ".join(tokens[i : i + n]) for i in range(count - n + 1)])
    return out


@lru_cache(maxsize=262_144)
def token_chargrams(token: str, min_n: int, max_n: int) -> tuple[str, ...]:
    """n-grams of ``\\u0002token\\u0003`` for n in min_n..max_n."""
    w = _CHARGRAM_START + token + _CHARGRAM_END
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        for i in range(len(w) - n + 1):
            out.append(w[i : i + n])
    return tuple(out)


def chargrams(tokens: Iterable[str], min_n: int, max_n: int, max_len: int) -> list[str]:
    """Chargrams of the tokens no longer than ``max_len`` (repeats kept; postings dedupe)."""
    uniq = {t for t in tokens if len(t) <= max_len}
    return list(itertools.chain.from_iterable(token_chargrams(t, min_n, max_n) for t in uniq))


def _utf16_units(token: str) -> list[int]:
    raw = token.encode("utf-16-le")
    return [raw[i] | (raw[i + 1] << 8) for i in range(0, len(raw), 2)]


def _token_hashes(vocab: Sequence[str]) -> npt.NDArray[np.uint32]:
    """``(V, 128)`` hashes: ``h = seed; h = (h*31 + c) mod 2^32`` over UTF-16 units.

    Unrolled, ``h = seed·31^L + P(token)``, so one Python pass per token computes
    ``31^L`` and ``P`` and numpy does the 128 seeds at once.
    """
    size = len(vocab)
    pow_l = np.empty(size, dtype=np.uint64)
    poly = np.empty(size, dtype=np.uint64)
    for i, t in enumerate(vocab):
        p = 0
        units = _utf16_units(t) if not t.isascii() else [ord(c) for c in t]
        for c in units:
            p = (p * 31 + c) & 0xFFFFFFFF
        pow_l[i] = pow(31, len(units), 1 << 32)
        poly[i] = p
    seeds = np.arange(1, MINHASH_SEEDS + 1, dtype=np.uint64)
    h = (pow_l[:, None] * seeds[None, :] + poly[:, None]) & _MASK32
    return h.astype(np.uint32)


def minhash_signatures(
    docs: Sequence[Sequence[str]], batch_tokens: int = 65_536
) -> list[list[int]]:
    """Per-doc 128 per-seed minima over distinct tokens; empty docs are all ``2^32-1``."""
    sets = [list(set(d)) for d in docs]
    vocab, tids, _ = _vocab_and_ids(sets)
    n = len(sets)
    out = np.full((n, MINHASH_SEEDS), MINHASH_EMPTY, dtype=np.uint32)
    if not vocab:
        result: list[list[int]] = out.tolist()
        return result
    hashes = _token_hashes(vocab)
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=n)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    d = 0
    while d < n:
        start = d
        budget = 0
        while d < n and (budget == 0 or budget + lengths[d] <= batch_tokens):
            budget += int(lengths[d])
            d += 1
        rows = [i for i in range(start, d) if lengths[i] > 0]
        if not rows:
            continue
        lo, hi = int(offsets[start]), int(offsets[d])
        block = hashes[tids[lo:hi]]
        seg = (offsets[rows] - lo).astype(np.int64)
        out[rows] = np.minimum.reduceat(block, seg, axis=0)
    signatures: list[list[int]] = out.tolist()
    return signatures
