"""The query language of §9.1: text in, an AST with source positions out (no index needed).

Grammar (precedence NOT > AND > OR; operator words case-insensitive)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*        juxtaposition is an *implicit* AND
    unary   := ("NOT" | "-" | "!") unary | primary
    primary := TERM | PHRASE | "(" or ")"

An explicit ``AND`` binds its two neighbours tighter than juxtaposition, so
``foo greet AND x`` is ``foo ∧̃ (greet ∧ x)``: the explicit part is a hard constraint, the
implicit part follows ``matchMode``. Quotes open a phrase only at the start of a token (so
``don't`` is a term); ``-``/``!`` negate only at the start of a token and only when followed
by something negatable (``->``, ``--``, ``!=`` are terms, which code search needs). ``(`` opens
a group only at token start; one inside a term is literal and so is the ``)`` that pairs with
it, so ``greet()`` is a term and ``NEAR(a b)`` two terms.
Malformed input raises :class:`~pairofcleats.errors.InvalidRequest` naming the position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pairofcleats.errors import InvalidRequest

__all__ = [
    "And",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Term",
    "iter_positive",
    "operator_words",
    "parse_query",
]


@dataclass(frozen=True, slots=True)
class Term:
    """A bare word as typed (tokenized per mode later); ``pos`` is its 0-based offset."""

    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Phrase:
    """A quoted phrase; ``text`` excludes the quotes."""

    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    pos: int
    words: tuple[tuple[str, int], ...] = field(default=(), compare=False)  # "NOT" as written


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction; ``explicit`` is true for a written ``AND`` (always hard)."""

    children: tuple[Node, ...]
    explicit: bool
    pos: int
    words: tuple[tuple[str, int], ...] = field(default=(), compare=False)  # "AND"s as written


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    pos: int
    words: tuple[tuple[str, int], ...] = field(default=(), compare=False)  # "OR"s as written


Node = Term | Phrase | Not | And | Or

_Kind = Literal["term", "phrase", "lparen", "rparen", "not", "and", "or"]


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: _Kind
    text: str
    pos: int


_OPERATOR_WORDS: dict[str, _Kind] = {"and": "and", "or": "or", "not": "not"}
_NEGATABLE_START = set("\"'(")


def _negatable_follow(query: str, i: int) -> bool:
    """Whether a ``-``/``!`` at ``i`` is a prefix negation (``-x``, ``-"p"``, ``-(…)``)."""
    if i + 1 >= len(query):
        return False
    nxt = query[i + 1]
    return nxt.isalnum() or nxt == "_" or nxt in _NEGATABLE_START


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    n = len(query)
    i = 0
    literal_depth = 0  # "(" seen inside terms, still waiting for their ")"
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            toks.append(_Tok("lparen", "(", i))
            i += 1
            continue
        if ch == ")":
            toks.append(_Tok("rparen", ")", i))
            i += 1
            continue
        if ch in "\"'":
            end = query.find(ch, i + 1)
            if end < 0:
                raise InvalidRequest(
                    f"unbalanced quote {ch} at position {i}",
                    hint="close the phrase or drop the quote",
                    position=i,
                )
            toks.append(_Tok("phrase", query[i + 1 : end], i))
            i = end + 1
            continue
        if ch == "-" and (i + 1 >= n or query[i + 1].isspace()):
            toks.append(_Tok("not", "-", i))  # "- term": a standalone minus negates
            i += 1
            continue
        if ch in "-!" and _negatable_follow(query, i):
            toks.append(_Tok("not", ch, i))
            i += 1
            continue
        # A term: up to whitespace, or a ")" that does not close a "(" opened inside a term
        # (possibly an earlier one: ``NEAR(a b)`` is two literal terms, not a group).
        start = i
        while i < n and not query[i].isspace():
            c = query[i]
            if c == "(":
                literal_depth += 1
            elif c == ")":
                if literal_depth == 0:
                    break
                literal_depth -= 1
            i += 1
        text = query[start:i]
        op = _OPERATOR_WORDS.get(text.lower())
        toks.append(_Tok(op, text, start) if op else _Tok("term", text, start))
    return toks


class _Parser:
    def __init__(self, query: str, toks: list[_Tok]) -> None:
        self.query = query
        self.toks = toks
        self.i = 0

    def _peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _error(self, message: str, pos: int) -> InvalidRequest:
        return InvalidRequest(f"{message} at position {pos}", position=pos)

    def parse(self) -> Node:
        if not self.toks:
            raise InvalidRequest("the query is empty", hint='pass a query, e.g. "greet"')
        node = self._or()
        tok = self._peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise self._error("unbalanced ')'", tok.pos)
            raise self._error(f"unexpected {tok.text!r}", tok.pos)
        return node

    def _or(self) -> Node:
        first = self._and()
        children = [first]
        words: list[tuple[str, int]] = []
        while (tok := self._peek()) is not None and tok.kind == "or":
            self.i += 1
            if self._peek() is None or self._peek_kind() in ("or", "and", "rparen"):
                raise self._error("OR needs an item after it", tok.pos)
            words.append((tok.text, tok.pos))
            children.append(self._and())
        if len(children) == 1:
            return first
        return Or(tuple(children), _pos(first), tuple(words))

    def _peek_kind(self) -> _Kind | None:
        tok = self._peek()
        return tok.kind if tok else None

    def _and(self) -> Node:
        groups: list[Node] = [self._explicit_and()]
        while self._peek_kind() in ("term", "phrase", "lparen", "not"):
            groups.append(self._explicit_and())
        if len(groups) == 1:
            return groups[0]
        return And(tuple(groups), False, _pos(groups[0]))

    def _explicit_and(self) -> Node:
        first = self._unary()
        children = [first]
        words: list[tuple[str, int]] = []
        while (tok := self._peek()) is not None and tok.kind == "and":
            self.i += 1
            if self._peek_kind() in (None, "or", "and", "rparen"):
                raise self._error("AND needs an item after it", tok.pos)
            words.append((tok.text, tok.pos))
            children.append(self._unary())
        if len(children) == 1:
            return first
        return And(tuple(children), True, _pos(first), tuple(words))

    def _unary(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise self._error("expected a term", len(self.query))
        if tok.kind == "not":
            self.i += 1
            if self._peek_kind() in (None, "or", "and", "rparen"):
                raise self._error(f"{tok.text!r} has nothing to negate", tok.pos)
            return Not(self._unary(), tok.pos, ((tok.text, tok.pos),))
        return self._primary()

    def _primary(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise self._error("expected a term", len(self.query))
        if tok.kind == "term":
            self.i += 1
            return Term(tok.text, tok.pos)
        if tok.kind == "phrase":
            self.i += 1
            return Phrase(tok.text, tok.pos)
        if tok.kind == "lparen":
            self.i += 1
            if self._peek_kind() == "rparen":
                raise self._error("empty parentheses", tok.pos)
            if self._peek() is None:
                raise self._error("unbalanced '('", tok.pos)
            inner = self._or()
            close = self._peek()
            if close is None or close.kind != "rparen":
                raise self._error("unbalanced '('", tok.pos)
            self.i += 1
            return inner
        if tok.kind == "rparen":
            raise self._error("unbalanced ')'", tok.pos)
        raise self._error(f"unexpected {tok.text!r}", tok.pos)


def _pos(node: Node) -> int:
    return node.pos


def iter_positive(node: Node, negated: bool = False) -> list[Term | Phrase]:
    """Terms and phrases not under a negation, in query order (first seen first)."""
    if isinstance(node, Term | Phrase):
        return [] if negated else [node]
    if isinstance(node, Not):
        return iter_positive(node.child, not negated)
    out: list[Term | Phrase] = []
    for child in node.children:
        out.extend(iter_positive(child, negated))
    return out


def operator_words(node: Node) -> list[tuple[str, int]]:
    """Operator words (``AND``/``OR``/``NOT``, any case) as written, with positions, in order.

    Operator words are case-insensitive (§9.1), so ``lower and upper`` is a hard AND; when
    such a query finds nothing the engine names the word, since a sentence's ``and`` is the
    usual cause (``-``/``!`` negations are symbols, not words, and are not listed).
    """
    out: list[tuple[str, int]] = []
    if isinstance(node, Not):
        out.extend(w for w in node.words if w[0].isalpha())
        out.extend(operator_words(node.child))
    elif isinstance(node, And | Or):
        out.extend(node.words)
        for child in node.children:
            out.extend(operator_words(child))
    return sorted(out, key=lambda w: w[1])


def parse_query(query: str) -> Node:
    """Parse ``query`` into an AST; raises ``InvalidRequest`` (exit 2 / HTTP 400) if malformed.

    A query whose every item is negated has no positive item and is rejected too: there would
    be nothing to rank.
    """
    node = _Parser(query, _lex(query)).parse()
    if not iter_positive(node):
        raise InvalidRequest(
            "the query has no positive term (only negations)",
            hint='add a term to search for, e.g. "greet -test"',
            position=0,
        )
    return node
