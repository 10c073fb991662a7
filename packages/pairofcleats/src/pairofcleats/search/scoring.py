"""The numpy-free part of scoring (§9.4): BM25 parameters and ``idf``, query tokens and the
phrase, symbol and definition-name boosts.

:mod:`pairofcleats.search.rank` re-exports all of it next to its numpy scoring; the cold
sqlite CLI path (:mod:`pairofcleats.search.lite`) scores with these same functions without
importing numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pairofcleats.tokenize import split_id

__all__ = [
    "DEFINITION_KIND_MARKERS",
    "EXPANSION_FACTOR",
    "NAME_EXACT_FACTOR",
    "NAME_SUBWORD_FACTOR",
    "RRF_K",
    "Bm25Params",
    "QueryToken",
    "idf",
    "name_match_factor",
    "phrase_factor",
    "symbol_factor",
]

RRF_K = 60
EXPANSION_FACTOR = 0.8
NAME_EXACT_FACTOR = 1.5
NAME_SUBWORD_FACTOR = 1.25
#: Chunks the sparse top-N missed whose name field holds every sub-word of a query term,
#: checked (best sparse score first) for a name equal to the term: they then join the end
#: of the sparse list so the name boost can reach them. A bound on records read per query.
NAME_MATCH_POOL = 16
_NAME_SEP_RE = re.compile(r"\.|::|->|#")
DEFINITION_KIND_MARKERS = ("Declaration", "Definition", "Initializer", "Deinitializer")


@dataclass(frozen=True, slots=True)
class Bm25Params:
    k1: float = 1.2
    b: float = 0.75


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


def exact_named(
    ids: Iterable[int],
    name_of: Callable[[int], str | None],
    query_names: Sequence[tuple[str, tuple[str, ...]]],
    limit: int,
) -> list[int]:
    """The first ``limit`` of ``ids`` (in their order) whose name is a query term as written
    (``name_match_factor``'s ``exact``): the name-join of the sparse list, engine and lite."""
    out: list[int] = []
    for d in ids:
        if name_match_factor(query_names, name_of(d))[0] == "exact":
            out.append(d)
            if len(out) >= limit:
                break
    return out
