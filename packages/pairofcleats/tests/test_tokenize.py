"""Golden tables for splitId, punctuation, stopwords and stems (§5, §16 item 10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pairofcleats.tokenize import (
    code_tokens,
    fts_token,
    prose_tokens,
    raw_identifiers,
    raw_words,
    split_id,
    stem,
    stems_for,
    stopwords,
)

SPLIT_GOLDEN = [
    ("getUser", ["get", "user"]),
    ("HTTPServer", ["http", "server"]),
    ("getHTTPResponse", ["get", "http", "response"]),
    ("snake_case_name", ["snake", "case", "name"]),
    ("kebab-case", ["kebab", "case"]),
    ("md5Sum", ["md5", "sum"]),
    ("utf8Decoder", ["utf8", "decoder"]),
    ("HTTP2Server", ["http2", "server"]),
    ("XMLHttpRequest", ["xml", "http", "request"]),
    ("already lower", ["already", "lower"]),
    ("cppMultiply", ["cpp", "multiply"]),
    ("add_numbers", ["add", "numbers"]),
    ("Greeter.greet", ["greeter", "greet"]),
    ("Ünïcode_Wörter", ["ünïcode", "wörter"]),
    ("e\u0301cole", ["\u00e9cole"]),  # NFC
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_GOLDEN)
def test_split_id_golden(text: str, expected: list[str]) -> None:
    assert split_id(text) == expected


def test_code_punctuation_tokens() -> None:
    body, kw, ops = code_tokens("if (a && b) { x += y->z; }", frozenset({"if"}))
    assert kw == ["if"]
    assert body == ["a", "b", "x", "y", "z"]
    assert ops == ["(", "&&", ")", "{", "+=", "->", ";", "}"]


def test_punctuation_runs_cap_at_four() -> None:
    _, _, ops = code_tokens("a =====> b")
    assert ops == ["====", "=>"]


def test_fts_token_encodes_punctuation() -> None:
    assert fts_token("&&") == "op2626"
    assert fts_token("greet") == "greet"


def test_stopwords_are_packaged() -> None:
    sw = stopwords()
    assert {"the", "and", "of", "is"} <= sw
    assert "greet" not in sw
    assert prose_tokens("The guide explains how the fixture is organised") == [
        "guide",
        "explains",
        "fixture",
        "organised",
    ]


STEM_GOLDEN = [
    ("running", "run"),
    ("explains", "explain"),
    ("greetings", "greet"),
    ("organised", "organis"),
    ("retries", "retri"),
    ("guide", "guid"),
    ("search", "search"),
]


@pytest.mark.parametrize(("token", "expected"), STEM_GOLDEN)
def test_snowball_stems(token: str, expected: str) -> None:
    assert stem(token) == expected


def test_stems_only_when_different() -> None:
    assert stems_for(["search", "greetings"]) == ["greet"]


@given(st.text(max_size=60))
def test_split_id_tokens_are_lowercase_alnum(text: str) -> None:
    for tok in split_id(text):
        assert tok
        assert tok == tok.lower() or not tok.isascii()
        assert all(ch.isalnum() for ch in tok)


@given(st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=6))
def test_snake_case_round_trip(words: list[str]) -> None:
    assert split_id("_".join(words)) == words


def _scan_reference(text: str, keywords: frozenset[str]) -> tuple[list[str], list[str], list[str]]:
    """The one-regex scan code_tokens replaced: words and punctuation in one pass."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFC", text)
    scan = re.compile(r"(?P<w>\w+)|(?P<p>[=<>!:+\-*/%&|^~.?]{1,4}|[()\[\]{}.,;:])")
    body: list[str] = []
    kw: list[str] = []
    ops: list[str] = []
    for w, p in scan.findall(text):
        if w:
            if w in keywords:
                kw.append(w.lower())
            else:
                for sub in re.findall(r"[^\W_]+", w):
                    body.extend(split_id(sub))
        elif len(ops) < 20_000:
            ops.append(p)
    return body, kw, ops


@given(st.text(alphabet="aZ9_é .:=<>(){}-\n\r\tIfif", max_size=60))
def test_code_tokens_match_the_single_scan(text: str) -> None:
    """Separate word/punctuation scans (and a shared word list) equal one combined scan."""
    keywords = frozenset({"if", "If"})
    expected = _scan_reference(text, keywords)
    assert code_tokens(text, keywords) == expected
    if text.isascii():
        words = raw_words(text)
        assert code_tokens(text, keywords, words) == expected
        assert raw_identifiers(text, words) == raw_identifiers(text)


def test_pystemmer_stems_match_pure_snowball() -> None:
    """The C stemmer used at build and query time gives the pure-Python Snowball stems, so
    indexes built with either agree (a divergence would silently break prose matching)."""
    from pairofcleats import tokenize
    from snowballstemmer.english_stemmer import EnglishStemmer

    fast = tokenize._stemmer()
    assert type(fast).__module__ == "Stemmer", "PyStemmer is a dependency and must be preferred"
    words = [
        "running", "generously", "caresses", "ponies", "relational", "conditional",
        "hopefully", "sensibilities", "dying", "skies", "news", "atlas", "cosmos",
        "generalizations", "oscillators", "timeouts", "retrying", "serialized", "café",
        "naïvely", "x", "", "ab", "analyses", "indexes", "configuration", "heartbeats",
    ]  # fmt: skip
    slow = EnglishStemmer()
    assert fast.stemWords(words) == [slow.stemWord(w) for w in words]


_OLD_PUNCT = r"[=<>!:+\-*/%&|^~.?]{1,4}|[()\[\]{}.,;:]"


@given(st.text(alphabet="=<>!:+-*/%&|^~.?()[]{},;a _\n", max_size=80))
def test_punct_re_matches_the_two_alternative_form(text: str) -> None:
    """PUNCT_RE opens with one character class (fast scan); it finds what the plain
    two-alternative pattern finds, and fullmatches the same tokens."""
    import re

    from pairofcleats.tokenize import PUNCT_RE

    old = re.compile(_OLD_PUNCT)
    assert PUNCT_RE.findall(text) == old.findall(text)
    for tok in [*old.findall(text), text[:2], text[:5]]:
        assert (PUNCT_RE.fullmatch(tok) is None) == (old.fullmatch(tok) is None)


@given(st.text(alphabet="aZ9_é .:=-\n\rIfif", max_size=60))
def test_split_id_equals_letter_digit_runs(text: str) -> None:
    """split_id over \\w+ runs (memoised per raw word) equals the [^\\W_]+ definition."""
    import re
    import unicodedata

    from pairofcleats.tokenize import _split_word

    norm = unicodedata.normalize("NFC", text)
    expected = [p for w in re.findall(r"[^\W_]+", norm) for p in _split_word(w)]
    assert split_id(text) == expected


@given(
    st.lists(st.text(alphabet="aZ9_ .:=(){}-\rIfif#", max_size=12), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_code_tokens_ranges_equal_the_joined_kept_rows(rows: list[str], kept: list[bool]) -> None:
    """Scanning row ranges in place equals code_tokens of the kept rows joined by newlines,
    and the raw words of every range equal raw_words of the whole text."""
    from pairofcleats.tokenize import code_tokens_ranges

    text = "\n".join(rows)
    ranges = []
    pos = 0
    for row, keep in zip(rows, kept, strict=False):
        ranges.append((pos, pos + len(row), keep))
        pos += len(row) + 1
    keywords = frozenset({"if", "If"})
    joined = "\n".join(r for r, (_, _, k) in zip(rows, ranges, strict=True) if k)
    body, kw, ops, every = code_tokens_ranges(text, ranges, keywords)
    assert (body, kw, ops) == code_tokens(joined, keywords)
    assert every == raw_words(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80) | st.text(max_size=40))
def test_raw_words_equal_word_regex(text: str) -> None:
    """ASCII text takes the translate/split route; it must find exactly the \\w+ runs."""
    import re

    assert raw_words(text) == re.findall(r"\w+", text)
