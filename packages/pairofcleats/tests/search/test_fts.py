"""The MATCH compiler quotes every literal, keeps negations out (acceptance 14)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.errors import InvalidRequest
from pairofcleats.search.fts import compile_match, quote_literal
from pairofcleats.search.query import parse_query

_WORD = re.compile(r"[^\W_]+|[=<>!:+\-*/%&|^~.?]{1,4}|[()\[\]{}.,;:]")


def subwords(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def fts_token(tok: str) -> str:
    return tok if tok[0].isalnum() else "op" + tok.encode().hex()


def test_terms_are_or_ed_and_quoted() -> None:
    q = compile_match(parse_query("greet sum"), subwords, fts_token)
    assert q.match == '("greet" OR "sum")'


def test_negations_never_enter_match() -> None:
    q = compile_match(parse_query('greet -secret NOT other -"x y"'), subwords, fts_token)
    assert q.match == '("greet")'


def test_required_phrase_is_and_ed_optional_phrase_is_or_ed() -> None:
    q = compile_match(parse_query('greet "hello world"'), subwords, fts_token)
    assert q.match == '("greet") AND "hello world"'
    q = compile_match(parse_query('greet OR "hello world"'), subwords, fts_token)
    assert q.match == '("greet" OR "hello world")'


def test_punctuation_becomes_op_hex_and_multi_token_terms_phrases() -> None:
    q = compile_match(parse_query("&& add_numbers"), subwords, fts_token)
    assert q.match == '("op2626" OR "add numbers")'


def test_operator_words_inside_terms_are_plain_strings() -> None:
    q = compile_match(parse_query("NEAR(a b) x:y"), subwords, fts_token)
    assert q.terms == ("near a", "b", "x y")  # words only: see the punctuation test below
    assert q.match is not None
    assert "NEAR(" not in q.match


def test_no_positive_literal_gives_no_match() -> None:
    q = compile_match(parse_query("the"), lambda _t: [], fts_token)
    assert q.match is None


def test_quote_literal_doubles_quotes_and_normalises() -> None:
    assert quote_literal('a "b"\t c') == '"a ""b"" c"'
    assert quote_literal("ﬁle") == '"file"'


@pytest.fixture(scope="module")
def fts_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE t USING fts5(name, tokens, tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO t VALUES ('greet', 'greet hello op2626 add numbers')")
    return db


@settings(max_examples=250, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \"-:*()&|^NEAR'!")), max_size=20))
def test_no_query_ever_causes_an_fts_syntax_error(fts_db: sqlite3.Connection, raw: str) -> None:
    try:
        ast = parse_query(raw)
    except InvalidRequest:
        return
    q = compile_match(ast, subwords, fts_token)
    if q.match is not None:
        fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (q.match,)).fetchall()


def test_compiled_literals_match_the_stored_row(fts_db: sqlite3.Connection) -> None:
    for raw in ["&&", "add_numbers", "greet -nothing", '"hello"']:
        q = compile_match(parse_query(raw), subwords, fts_token)
        rows = fts_db.execute("SELECT rowid FROM t WHERE t MATCH ?", (q.match,)).fetchall()
        assert rows == [(1,)], raw


def test_a_term_with_punctuation_matches_on_its_words() -> None:
    # the tokens column is the field streams in turn: the operator stream (op2e) comes last
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(tokens, tokenize='unicode61')")
    db.execute("INSERT INTO t VALUES ('greeter greet self str op28 op29 op2e')")
    q = compile_match(parse_query("Greeter.greet"), subwords, fts_token)
    assert q.match == '("greeter greet")'
    assert db.execute("SELECT rowid FROM t WHERE t MATCH ?", (q.match,)).fetchall() == [(1,)]
    both = compile_match(parse_query("&& x.y"), subwords, fts_token)
    assert both.match == '("op2626" OR "x y")'  # a punctuation-only term keeps its token
