"""The §9.1 query parser: structure, positions and INVALID_REQUEST errors (acceptance 15)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.errors import InvalidRequest, PairOfCleatsError
from pairofcleats.search.query import And, Not, Or, Phrase, Term, iter_positive, parse_query


def test_single_term() -> None:
    assert parse_query("greet") == Term("greet", 0)


def test_implicit_and_keeps_positions() -> None:
    assert parse_query("add  numbers") == And((Term("add", 0), Term("numbers", 5)), False, 0)


@pytest.mark.parametrize("query", ["greet -test", "greet - test", "greet !test", "greet NOT test"])
def test_negation_forms(query: str) -> None:
    node = parse_query(query)
    assert isinstance(node, And)
    assert node.children[0] == Term("greet", 0)
    neg = node.children[1]
    assert isinstance(neg, Not)
    assert neg.child == Term("test", query.index("test"))


def test_negated_phrase_and_group() -> None:
    node = parse_query('greet -"hello world" -(a OR b)')
    assert isinstance(node, And)
    _, phrase_neg, group_neg = node.children
    assert phrase_neg == Not(Phrase("hello world", 7), 6)
    assert isinstance(group_neg, Not)
    assert group_neg.child == Or((Term("a", 23), Term("b", 28)), 23)


def test_precedence_not_and_or() -> None:
    # a OR b AND NOT c  ==  a OR (b AND (NOT c))
    node = parse_query("a or b AND NOT c")
    assert node == Or((Term("a", 0), And((Term("b", 5), Not(Term("c", 15), 11)), True, 5)), 0)


def test_explicit_and_binds_tighter_than_juxtaposition() -> None:
    node = parse_query("foo greet AND x")
    assert node == And((Term("foo", 0), And((Term("greet", 4), Term("x", 14)), True, 4)), False, 0)


def test_parentheses_group() -> None:
    node = parse_query("(a OR b) c")
    assert node == And((Or((Term("a", 1), Term("b", 6)), 1), Term("c", 9)), False, 1)


def test_phrases_with_both_quotes_and_apostrophes_inside_terms() -> None:
    node = parse_query("\"hello world\" 'single q' don't")
    assert node == And(
        (Phrase("hello world", 0), Phrase("single q", 14), Term("don't", 25)), False, 0
    )


@pytest.mark.parametrize("query", ["a->b", "->", "--", "!=", "a&&b", "x::y", "foo()", "f(x)"])
def test_code_punctuation_stays_a_term(query: str) -> None:
    assert parse_query(query) == Term(query, 0)


def test_code_call_with_group_around() -> None:
    node = parse_query("(greet() OR sum)")
    assert node == Or((Term("greet()", 1), Term("sum", 12)), 1)


@pytest.mark.parametrize(
    ("query", "pos"),
    [
        ('greet "unclosed', 6),
        ("greet 'x", 6),
        ("(greet", 0),
        ("greet)", 5),
        ("greet -", 6),
        ("greet - ", 6),
        ("greet NOT", 6),
        ("a OR", 2),
        ("a AND", 2),
        ("()", 0),
        ("-greet", 0),
        ("NOT a", 0),
    ],
)
def test_malformed_queries_name_the_position(query: str, pos: int) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_query(query)
    assert info.value.position == pos
    assert info.value.exit_code == 2
    assert info.value.code == "INVALID_REQUEST"


def test_empty_query_is_invalid() -> None:
    with pytest.raises(InvalidRequest):
        parse_query("   ")


def test_iter_positive_skips_negations() -> None:
    node = parse_query('a -b "c d" NOT (e OR f) g')
    assert [i.text for i in iter_positive(node)] == ["a", "c d", "g"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab ()\"'-!:*&|")), max_size=24))
def test_parser_never_raises_anything_but_invalid_request(query: str) -> None:
    try:
        node = parse_query(query)
    except PairOfCleatsError as err:
        assert isinstance(err, InvalidRequest)
    else:
        assert iter_positive(node)
