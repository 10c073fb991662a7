"""Per-mode query planning (§9.1): tokenize terms, expand typos, evaluate constraints to a mask.

A term matches a chunk when every sub-word (prose: or its stem) is among its unfielded tokens;
a phrase when its tokens are consecutive in one field stream. Explicit ``AND``/``OR``/``NOT``,
phrases and negations are hard; juxtaposition follows ``matchMode`` (``all`` hard, ``any``
ranking only). Everything is evaluated on posting lists into numpy boolean masks; a mask of
``None`` means "no constraint" (a soft or dropped item).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pairofcleats.search.expand import wrapped_chargrams
from pairofcleats.search.plan_core import (
    MatchMode,
    ModePlan,
    SubwordPlan,
    path_needle,
    plan_mode,
)
from pairofcleats.search.query import Node, Not, Or, Phrase, Term
from pairofcleats.search.rank import Postings, idf
from pairofcleats.search.source import SparseSource

__all__ = [
    "MatchMode",
    "ModePlan",
    "SubwordPlan",
    "path_mask",
    "path_needle",
    "path_relaxed_terms",
    "path_scores",
    "plan_mode",
]

BoolMask = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


# -- masks ------------------------------------------------------------------------------------


def _postings_mask(postings: Postings | None, n: int) -> BoolMask:
    mask = np.zeros(n, dtype=np.bool_)
    if postings is not None and postings.doc_ids.size:
        mask[postings.doc_ids] = True
    return mask


def _term_mask(source: SparseSource, subs: list[SubwordPlan]) -> BoolMask | None:
    if not subs:
        return None  # tokenized to nothing: dropped
    n = source.count
    out = np.ones(n, dtype=np.bool_)
    for sub in subs:
        any_alt = np.zeros(n, dtype=np.bool_)
        for token, _factor in sub.alternatives:
            any_alt |= _postings_mask(source.lookup(token), n)
        out &= any_alt
    return out


def _contains_run(stream: list[str], toks: list[str]) -> bool:
    k = len(toks)
    first = toks[0]
    return any(stream[i] == first and stream[i : i + k] == toks for i in range(len(stream) - k + 1))


def phrase_mask(source: SparseSource, toks: list[str]) -> BoolMask | None:
    """Chunks where ``toks`` are consecutive in one field stream (postings prefilter, then
    ``field_tokens``)."""
    if not toks:
        return None
    n = source.count
    cand = np.ones(n, dtype=np.bool_)
    for tok in dict.fromkeys(toks):
        cand &= _postings_mask(source.lookup(tok), n)
    if len(toks) == 1:
        return cand
    out = np.zeros(n, dtype=np.bool_)
    for doc in np.flatnonzero(cand):
        streams = source.field_tokens(int(doc))
        if any(_contains_run(s, toks) for s in streams.values()):
            out[doc] = True
    return out


def constraint_mask(source: SparseSource, plan: ModePlan, match_mode: MatchMode) -> BoolMask | None:
    """The hard constraints of the query as one mask (None: nothing constrains)."""
    n = source.count

    def ev(node: Node, hard: bool) -> BoolMask | None:
        if isinstance(node, Term):
            if not hard:
                return None
            m = _term_mask(source, plan.terms.get(id(node), []))
            files = None if plan.strict else plan.path_files.get(id(node))
            return m if m is None or files is None else m | files
        if isinstance(node, Phrase):
            return phrase_mask(source, plan.phrases.get(id(node), []))
        if isinstance(node, Not):
            inner = ev(node.child, True)
            return None if inner is None else ~inner
        if isinstance(node, Or):
            acc: BoolMask | None = None
            for child in node.children:
                m = ev(child, True)
                if m is not None:
                    acc = m.copy() if acc is None else acc | m
            return acc
        # And
        if node.explicit or match_mode == "all":
            acc = None
            for child in node.children:
                m = ev(child, True)
                if m is not None:
                    acc = m.copy() if acc is None else acc & m
            return acc
        # implicit AND in "any" mode: terms rank only; hard children still constrain; under an
        # OR/NOT (hard context) the group must still match one of its terms
        hard_acc: BoolMask | None = None
        soft_any: BoolMask | None = None
        for child in node.children:
            if isinstance(child, Term):
                if hard:
                    m = ev(child, True)
                    if m is not None:
                        soft_any = m.copy() if soft_any is None else soft_any | m
                continue
            m = ev(child, hard)
            if m is not None:
                hard_acc = m.copy() if hard_acc is None else hard_acc & m
        if soft_any is not None:
            hard_acc = soft_any if hard_acc is None else hard_acc & soft_any
        return hard_acc

    # a lone term (or the sub-words inside one) is an implicit AND too: hard only in "all"
    mask = ev(plan.ast, match_mode == "all")
    if mask is not None and mask.shape != (n,):
        raise ValueError("constraint mask has the wrong shape")
    return mask


def candidate_counts(source: SparseSource, plan: ModePlan) -> npt.NDArray[np.int64]:
    """Per chunk, how many query postings (tokens, phrase n-grams, chargrams) hit it (§9.4
    step 1); the candidates restrict MinHash ranking and are counted in ``--explain``."""
    n = source.count
    counts = np.zeros(n, dtype=np.int64)
    for qt in plan.query_tokens():
        for token, _f in qt.alternatives:
            p = source.lookup(token)
            if p is not None:
                counts[p.doc_ids] += 1
    for gram in plan.query_ngrams():
        p = source.phrase(gram)
        if p is not None:
            counts[p.doc_ids] += 1
    settings = source.index.postings_settings
    lo = int(settings.get("chargramMinN", 3))
    hi = int(settings.get("chargramMaxN", 5))
    grams = list(
        dict.fromkeys(g for qt in plan.query_tokens() for g in wrapped_chargrams(qt.text, lo, hi))
    )
    prefetch = getattr(source, "prefetch_chargrams", None)
    if prefetch is not None:
        prefetch(grams)
    for gram in grams:
        p = source.chargram(gram)
        if p is not None:
            counts[p.doc_ids] += 1
    return counts


def _path_term_masks(plan: ModePlan) -> list[tuple[Term, BoolMask]]:
    """Each path-like query term that names a file, with the chunks of those files."""
    return [(t, plan.path_files[id(t)]) for t in plan.path_terms if id(t) in plan.path_files]


def path_relaxed_terms(source: SparseSource, plan: ModePlan) -> list[str]:
    """Path-like terms whose files hold chunks lacking the term's sub-words: under ``all``
    those chunks match only through the path (a relaxation, off under ``--strict``)."""
    if plan.strict:
        return []
    out: list[str] = []
    for term, files in _path_term_masks(plan):
        tokens = _term_mask(source, plan.terms.get(id(term), []))
        if tokens is not None and (files & ~tokens).any():
            out.append(term.text)
    return out


def path_mask(source: SparseSource, plan: ModePlan) -> BoolMask | None:
    """Chunks of the files a path-like query term names (None: the query names no file).

    The engine ranks these first in the sparse list and ranks dense vectors only among them:
    a typed path says which file is wanted, while the sub-words it shares with other chunks
    (``config``, ``settings``) and embeddings of the path string say little.
    """
    masks = _path_term_masks(plan)
    if not masks:
        return None
    out = masks[0][1].copy()
    for _term, mask in masks[1:]:
        out |= mask
    return out


def path_scores(source: SparseSource, plan: ModePlan, weight: float) -> F64 | None:
    """Scores from path-like query terms matched against each chunk's file path.

    Chunks carry no path tokens, so ``src/greet.py`` would otherwise rank on the sub-words
    ``src``/``greet``/``py`` wherever bodies mention them (tests quoting the path outrank the
    file itself). The file path acts as one more field: a chunk whose path contains the term
    scores ``weight × Σ idf(sub-word)``, as if each sub-word occurred once, at average
    length, in a field of that weight (BM25 with tf 1 and dl = avgdl is exactly idf).
    """
    masks = _path_term_masks(plan)
    if not masks:
        return None
    n = source.count
    out = np.zeros(n, dtype=np.float64)
    for term, mask in masks:
        subs = dict.fromkeys(sub.text for sub in plan.terms.get(id(term), []))
        out[mask] += weight * sum(idf(n, source.df(sub)) for sub in subs)
    return out


def phrase_matches(source: SparseSource, plan: ModePlan) -> npt.NDArray[np.int64]:
    """Per chunk, how many query n-grams its phrase n-grams contain (phrase boost)."""
    counts = np.zeros(source.count, dtype=np.int64)
    for gram in plan.query_ngrams():
        p = source.phrase(gram)
        if p is not None:
            counts[p.doc_ids] += 1
    return counts
