"""The FTS5 MATCH compiler (§8, roadmap §3.2): the only code that builds a MATCH string.

Every literal is a double-quoted FTS5 string (inner ``"`` doubled), so ``- : " * NEAR AND OR
( )`` in a query never act as FTS operators. Literals are built from the mode's tokenization of
each positive term, joined by spaces, so a multi-token term (``add_numbers``, ``a&&b``) becomes
an FTS phrase matching the ``tokens`` column; punctuation is written as the build writes it
(``&&`` → ``op2626``). Positive terms are OR-ed (their boolean structure is enforced by the
allowed-id set, as are negations, which never enter MATCH); a phrase that every hit must
contain (not under an ``OR``) is AND-ed on, one under an ``OR`` joins the OR list, so MATCH is
never stricter than the query.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from pairofcleats.search.query import And, Node, Phrase, Term, iter_positive

__all__ = ["FtsQuery", "compile_match", "quote_literal"]


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """A compiled MATCH string and the literals it was built from (for ``--explain``)."""

    match: str | None
    terms: tuple[str, ...]
    phrases: tuple[str, ...]


def quote_literal(text: str) -> str:
    """``text`` as one FTS5 string: NFKC, whitespace collapsed, ``"`` doubled, quoted."""
    norm = " ".join(unicodedata.normalize("NFKC", text).split())
    return '"' + norm.replace('"', '""') + '"'


def _literal(
    text: str, subwords: Callable[[str], list[str]], fts_token: Callable[[str], str]
) -> str | None:
    """A term's tokens as one FTS phrase; punctuation only for a punctuation-only term.

    The ``tokens`` column is the field streams one after another, so a term's punctuation
    (the ``.`` of ``Greeter.greet``) sits in the operator stream at the end, never between
    its words: ``"greeter greet op2e"`` would match no chunk. The words alone are the phrase
    (as FTS5's own tokenizer reads ``Greeter.greet``); the allowed-id set still requires the
    punctuation where the term is a hard constraint.
    """
    raw = [t for t in subwords(text) if t]
    words = [t for t in raw if t[0].isalnum()]
    tokens = [t for t in (fts_token(w) for w in (words or raw)) if t]
    return " ".join(tokens) if tokens else None


def _required_phrases(node: Node) -> list[Phrase]:
    """Phrases reachable from the root through conjunctions only (never negated)."""
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, And):
        out: list[Phrase] = []
        for child in node.children:
            out.extend(_required_phrases(child))
        return out
    return []


def compile_match(
    ast: Node,
    subwords: Callable[[str], list[str]],
    fts_token: Callable[[str], str],
) -> FtsQuery:
    """Compile ``ast`` for one mode: ``(t1 OR t2 …) AND "p1" AND …``.

    ``subwords`` tokenizes query text the way the mode's chunks were tokenized (prose: minus
    stopwords); terms that tokenize to nothing are dropped. With no positive literal the
    result has ``match=None``: run no FTS query and return no hits.
    """
    required = {id(p) for p in _required_phrases(ast)}
    terms: list[str] = []
    phrases: list[str] = []
    for item in iter_positive(ast):
        lit = _literal(item.text, subwords, fts_token)
        if lit is None:
            continue
        bucket = phrases if id(item) in required else terms
        if lit not in bucket:
            bucket.append(lit)
    parts: list[str] = []
    if terms:
        parts.append("(" + " OR ".join(quote_literal(t) for t in terms) + ")")
    parts.extend(quote_literal(p) for p in phrases)
    match = " AND ".join(parts) if parts else None
    return FtsQuery(match, tuple(terms), tuple(phrases))


def positive_terms(ast: Node) -> list[Term]:
    """Positive bare terms only (phrases excluded), in query order."""
    return [t for t in iter_positive(ast) if isinstance(t, Term)]
