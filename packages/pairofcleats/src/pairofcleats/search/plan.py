"""Per-mode query planning (§9.1): tokenize terms, expand typos, evaluate constraints to a mask.

A term matches a chunk when every sub-word (prose: or its stem) is among its unfielded tokens;
a phrase when its tokens are consecutive in one field stream. Explicit ``AND``/``OR``/``NOT``,
phrases and negations are hard; juxtaposition follows ``matchMode`` (``all`` hard, ``any``
ranking only). Everything is evaluated on posting lists into numpy boolean masks; a mask of
``None`` means "no constraint" (a soft or dropped item).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from pairofcleats import tokenize
from pairofcleats.search.expand import Expansion, expand_subword, wrapped_chargrams
from pairofcleats.search.filters import file_contains_mask
from pairofcleats.search.intent import is_path_token
from pairofcleats.search.query import And, Node, Not, Or, Phrase, Term
from pairofcleats.search.rank import EXPANSION_FACTOR, Postings, QueryToken, idf
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
MatchMode = Literal["all", "any"]


@dataclass(frozen=True, slots=True)
class SubwordPlan:
    """One query sub-word and the vocabulary tokens standing for it."""

    text: str
    alternatives: tuple[tuple[str, float], ...]
    expansions: tuple[Expansion, ...] = ()


@dataclass(slots=True)
class ModePlan:
    """The tokenized query for one mode, ready for masks and BM25."""

    mode: str
    ast: Node
    terms: dict[int, list[SubwordPlan]] = field(default_factory=dict)  # id(Term) -> sub-words
    phrases: dict[int, list[str]] = field(default_factory=dict)  # id(Phrase) -> tokens
    positive_terms: list[Term] = field(default_factory=list)
    positive_phrases: list[Phrase] = field(default_factory=list)
    has_implicit_and: bool = False  # a relaxable implicit AND (see plan_mode)
    path_terms: list[Term] = field(default_factory=list)  # soft positive path-like terms
    # id(path term) -> chunks of the files whose path contains it (only terms naming a file)
    path_files: dict[int, BoolMask] = field(default_factory=dict)
    strict: bool = False

    def query_tokens(self) -> list[QueryToken]:
        """Distinct positive sub-words with query frequency, for BM25 (first seen first)."""
        order: dict[str, QueryToken] = {}
        for term in self.positive_terms:
            for sub in self.terms.get(id(term), []):
                if not sub.alternatives:
                    continue
                prev = order.get(sub.text)
                qf = prev.qf + 1 if prev else 1
                order[sub.text] = QueryToken(sub.text, sub.alternatives, qf)
        for phrase in self.positive_phrases:
            for tok in self.phrases.get(id(phrase), []):
                prev = order.get(tok)
                if prev is None:
                    order[tok] = QueryToken(tok, ((tok, 1.0),), 1)
        return list(order.values())

    def query_names(self) -> list[tuple[str, tuple[str, ...]]]:
        """Positive terms as ``(text, identifier sub-words)`` for the definition-name boost
        (trailing ``()`` and punctuation dropped)."""
        out: dict[str, tuple[str, ...]] = {}
        for term in self.positive_terms:
            text = term.text.rstrip("();,:")
            subs = tuple(tokenize.split_id(text))
            if subs:
                out.setdefault(text, subs)
        return list(out.items())

    def expansions(self) -> dict[str, list[dict[str, object]]]:
        out: dict[str, list[dict[str, object]]] = {}
        for subs in self.terms.values():
            for sub in subs:
                if sub.expansions:
                    out[sub.text] = [e.to_json() for e in sub.expansions]
        return out

    def is_empty(self) -> bool:
        """No positive item survived tokenization (``QUERY_EMPTY_FOR_MODE``)."""
        has_term = any(
            any(s.alternatives or s.text for s in self.terms.get(id(t), []))
            for t in self.positive_terms
        )
        has_phrase = any(self.phrases.get(id(p)) for p in self.positive_phrases)
        return not (has_term or has_phrase)

    def query_ngrams(self) -> list[str]:
        """Space-joined 2..4-grams of consecutive positive sub-words (phrase boost input)."""
        seq: list[str] = []
        for item in (*self.positive_terms, *self.positive_phrases):
            if isinstance(item, Term):
                seq.extend(s.text for s in self.terms.get(id(item), []))
            else:
                seq.extend(self.phrases.get(id(item), []))
        grams: list[str] = []
        for n in (2, 3, 4):
            grams.extend(" ".join(seq[i : i + n]) for i in range(len(seq) - n + 1))
        return list(dict.fromkeys(grams))


def _walk(node: Node, soft_path: bool, negated: bool, visit: Callable[..., None]) -> None:
    visit(node, soft_path, negated)
    if isinstance(node, Not):
        _walk(node.child, False, not negated, visit)
    elif isinstance(node, And):
        for child in node.children:
            _walk(child, soft_path and not node.explicit, negated, visit)
    elif isinstance(node, Or):
        for child in node.children:
            _walk(child, False, negated, visit)


def _subword_alternatives(source: SparseSource, sub: str) -> tuple[tuple[str, float], ...]:
    alts: list[tuple[str, float]] = []
    if source.df(sub) > 0:
        alts.append((sub, 1.0))
    if source.mode != "code":
        st = tokenize.stem(sub)
        if st != sub and source.df(st) > 0:
            alts.append((st, 1.0))
    return tuple(alts)


def plan_mode(source: SparseSource, ast: Node, *, strict: bool) -> ModePlan:
    """Tokenize every term and phrase of ``ast`` for ``source.mode``; expand typos in soft
    positive terms unless ``strict``."""
    plan = ModePlan(source.mode, ast, strict=strict)
    chargram_n = (
        int(source.index.postings_settings.get("chargramMinN", 3)),
        int(source.index.postings_settings.get("chargramMaxN", 5)),
    )

    def visit(node: Node, soft_path: bool, negated: bool) -> None:
        if isinstance(node, And) and not node.explicit and not negated:
            # relaxing to "any" only changes something when two or more bare terms meet
            terms = [c for c in node.children if isinstance(c, Term)]
            if len(terms) >= 2:
                plan.has_implicit_and = True
        if isinstance(node, Term):
            subs: list[SubwordPlan] = []
            for sub in tokenize.query_subwords(node.text, source.mode):
                alts = _subword_alternatives(source, sub)
                expansions: tuple[Expansion, ...] = ()
                if not alts and soft_path and not negated and not strict:
                    expansions = tuple(
                        expand_subword(
                            sub,
                            chargram_lookup=source.chargram,
                            doc_tokens=lambda d: _fielded(source, d),
                            df=source.df,
                            total_docs=source.count,
                            gram_sizes=chargram_n,
                        )
                    )
                    alts = tuple((e.token, EXPANSION_FACTOR) for e in expansions)
                subs.append(SubwordPlan(sub, alts, expansions))
            plan.terms[id(node)] = subs
            if not negated:
                plan.positive_terms.append(node)
                if soft_path and len(subs) >= 2:
                    # the sub-words of one bare term are an implicit AND as well (hard only
                    # in "all"): ``src/greet.py`` needs src, greet and py in one chunk
                    plan.has_implicit_and = True
                if soft_path and is_path_token(node.text):
                    plan.path_terms.append(node)
                    files = _path_files(source, node.text)
                    if files is not None:
                        plan.path_files[id(node)] = files
        elif isinstance(node, Phrase):
            toks = tokenize.query_subwords(node.text, source.mode)
            plan.phrases[id(node)] = toks
            if not negated:
                plan.positive_phrases.append(node)

    prefetch = getattr(source, "prefetch", None)
    if prefetch is not None:  # sqlite: load every query token's postings in one round trip
        words: list[str] = []

        def collect(node: Node, _soft: bool, _neg: bool) -> None:
            if isinstance(node, Term | Phrase):
                for sub in tokenize.query_subwords(node.text, source.mode):
                    words.append(sub)
                    if source.mode != "code":
                        words.append(tokenize.stem(sub))

        _walk(ast, True, False, collect)
        prefetch(words)
    _walk(ast, True, False, visit)
    return plan


def _path_files(source: SparseSource, text: str) -> BoolMask | None:
    """Chunks of the files whose path contains the path-like term ``text`` (None: no file,
    or a needle under 3 characters)."""
    needle = path_needle(text)
    if len(needle) < 3:
        return None
    mask = file_contains_mask(source.filter_columns(), needle)
    return mask if mask.any() else None


def _fielded(source: SparseSource, doc: int) -> list[str]:
    row = source.field_tokens(doc)
    out: list[str] = []
    for f in ("name", "signature", "doc", "comment"):
        out.extend(row.get(f, ()))
    return out


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


_PATH_TRIM = ".,;:!?)\"'"


def path_needle(text: str) -> str:
    """A path-like term as a path substring: ``/`` separators, no ``./``, lower case."""
    needle = text.rstrip(_PATH_TRIM).lstrip("(\"'").replace("\\", "/").lower()
    while needle.startswith(("./", "../")):
        needle = needle.split("/", 1)[1]
    return needle[2:] if needle.startswith("~/") else needle


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
