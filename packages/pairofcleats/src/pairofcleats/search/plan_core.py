"""Query planning without numpy (§9.1): the per-mode plan (sub-words, their vocabulary
alternatives, typo expansions, path terms) and :func:`plan_mode`, which builds it.

:mod:`pairofcleats.search.plan` evaluates plans to numpy masks and re-exports everything here.
Typo expansion and path-term file masks import their numpy code only when a query needs them,
so the cold sqlite CLI path (:mod:`pairofcleats.search.lite`) plans plain queries without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pairofcleats import tokenize
from pairofcleats.search.intent import is_path_token, is_segment_path
from pairofcleats.search.query import And, Node, Not, Or, Phrase, Term
from pairofcleats.search.scoring import EXPANSION_FACTOR, QueryToken

if TYPE_CHECKING:
    from pairofcleats.search.expand import Expansion

__all__ = [
    "MatchMode",
    "ModePlan",
    "SubwordPlan",
    "path_needle",
    "plan_mode",
    "split_subword",
    "walk",
]

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
    path_files: dict[int, Any] = field(default_factory=dict)
    strict: bool = False
    # sub-word -> the identifier sub-words it was read as (superrefine -> super, refine)
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)
    split_terms: set[int] = field(default_factory=set)  # id(Term) with a split sub-word

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
            if id(term) in self.split_terms:  # superrefine: named like superRefine
                subs = tuple(s.text for s in self.terms.get(id(term), []))
            if subs:
                out.setdefault(text, subs)
        return list(out.items())

    def split_messages(self) -> list[str]:
        """The ``QUERY_TERM_EXPANDED`` message of each split sub-word (engine and lite)."""
        return [
            f"{sub!r} matched as the sub-words {' '.join(pieces)}"
            for sub, pieces in self.splits.items()
        ]

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


def walk(node: Node, soft_path: bool, negated: bool, visit: Callable[..., None]) -> None:
    visit(node, soft_path, negated)
    if isinstance(node, Not):
        walk(node.child, False, not negated, visit)
    elif isinstance(node, And):
        for child in node.children:
            walk(child, soft_path and not node.explicit, negated, visit)
    elif isinstance(node, Or):
        for child in node.children:
            walk(child, False, negated, visit)


def _subword_alternatives(source: Any, sub: str) -> tuple[tuple[str, float], ...]:
    alts: list[tuple[str, float]] = []
    if source.df(sub) > 0:
        alts.append((sub, 1.0))
    if source.mode != "code":
        st = tokenize.stem(sub)
        if st != sub and source.df(st) > 0:
            alts.append((st, 1.0))
    return tuple(alts)


#: Bounds of :func:`split_subword`: sub-word length, piece length, pieces (the phrase n-gram
#: sizes, so the pieces' consecutive occurrence can be checked).
SPLIT_MIN_LEN = 5
SPLIT_MAX_LEN = 40
SPLIT_MIN_PIECE = 2
SPLIT_MAX_PIECES = 4
SPLIT_MAX_CHECKS = 256  # phrase look-ups per sub-word (a long run of short tokens)


def split_subword(source: Any, sub: str) -> tuple[str, ...]:
    """An identifier typed without its case or separators, as its sub-words: ``superrefine``
    → ``super refine`` (``superRefine``), ``asyncclient`` → ``async client``.

    Chunks hold sub-words only, so such a term has no posting and no typo expansion reaches
    it (upstream and the first version returned nothing). A split needs every piece in the
    vocabulary and the pieces as one phrase n-gram (consecutive somewhere in the mode, as an
    identifier's sub-words are); the fewest pieces win, then the most frequent n-gram, then
    the pieces in order. ``()`` when no split qualifies.
    """
    n = len(sub)
    if not (SPLIT_MIN_LEN <= n <= SPLIT_MAX_LEN) or not sub.isalnum():
        return ()
    known: dict[tuple[int, int], bool] = {}

    def piece(i: int, j: int) -> bool:
        key = (i, j)
        if key not in known:
            known[key] = j - i >= SPLIT_MIN_PIECE and source.df(sub[i:j]) > 0
        return known[key]

    def splits(i: int, k: int) -> list[tuple[str, ...]]:
        if k == 1:
            return [(sub[i:],)] if piece(i, n) else []
        out: list[tuple[str, ...]] = []
        for j in range(i + SPLIT_MIN_PIECE, n - SPLIT_MIN_PIECE * (k - 1) + 1):
            if piece(i, j):
                out.extend((sub[i:j], *rest) for rest in splits(j, k - 1))
        return out

    checks = 0
    for k in range(2, SPLIT_MAX_PIECES + 1):
        best: tuple[int, tuple[str, ...]] | None = None
        for pieces in splits(0, k):
            checks += 1
            if checks > SPLIT_MAX_CHECKS:
                break
            postings = source.phrase(" ".join(pieces))
            if postings is None:
                continue
            ids = getattr(postings, "doc_ids", postings)
            df = len(ids)
            if df and (best is None or df > best[0] or (df == best[0] and pieces < best[1])):
                best = (df, pieces)
        if best is not None:
            return best[1]
    return ()


def plan_mode(source: Any, ast: Node, *, strict: bool) -> ModePlan:
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
                    pieces = split_subword(source, sub)
                    if pieces:
                        plan.splits[sub] = pieces
                        plan.split_terms.add(id(node))
                        for x in pieces:
                            subs.append(SubwordPlan(x, _subword_alternatives(source, x)))
                        continue
                    from pairofcleats.search.expand import expand_subword

                    expansions = tuple(
                        expand_subword(
                            sub,
                            chargram_lookup=source.chargram,
                            doc_tokens=lambda d: _fielded(source, d),
                            df=source.df,
                            total_docs=source.count,
                            gram_sizes=chargram_n,
                            candidate_docs=getattr(source, "candidate_docs", None),
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
                if soft_path and (is_path_token(node.text) or is_segment_path(node.text)):
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

        walk(ast, True, False, collect)
        prefetch(words)
    walk(ast, True, False, visit)
    return plan


def _path_files(source: Any, text: str) -> Any:
    """Chunks of the files whose path contains the path-like term ``text`` (None: no file,
    or a needle under 3 characters). A one-separator term without extension
    (``core/schemas``) must not follow a letter or digit: ``e/s`` names no ``core/schemas.ts``."""
    from pairofcleats.search.filters import file_contains_mask

    needle = path_needle(text)
    if len(needle) < 3:
        return None
    segment = is_segment_path(text)
    mask = file_contains_mask(source.filter_columns(), needle, segment_start=segment)
    return mask if mask.any() else None


def _fielded(source: Any, doc: int) -> list[str]:
    row = source.field_tokens(doc)
    out: list[str] = []
    for f in ("name", "signature", "doc", "comment"):
        out.extend(row.get(f, ()))
    return out


_PATH_TRIM = ".,;:!?)\"'"


def path_needle(text: str) -> str:
    """A path-like term as a path substring: ``/`` separators, no ``./``, lower case."""
    needle = text.rstrip(_PATH_TRIM).lstrip("(\"'").replace("\\", "/").lower()
    while needle.startswith(("./", "../")):
        needle = needle.split("/", 1)[1]
    return needle[2:] if needle.startswith("~/") else needle
