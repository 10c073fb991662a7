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


def _row_ranges(rows: list[str], kept: list[bool]) -> tuple[str, list[tuple[int, int, bool]]]:
    """``rows`` joined by newlines, and each row's ``(start, end, keep)`` range in that text."""
    ranges = []
    pos = 0
    for row, keep in zip(rows, kept, strict=False):
        ranges.append((pos, pos + len(row), keep))
        pos += len(row) + 1
    return "\n".join(rows), ranges


@given(
    st.lists(st.text(alphabet="aZ9_ .:=(){}-\rIfif#", max_size=12), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_code_tokens_ranges_equal_the_joined_kept_rows(rows: list[str], kept: list[bool]) -> None:
    """Scanning row ranges in place equals code_tokens of the kept rows joined by newlines,
    and the raw words of every range equal raw_words of the whole text."""
    from pairofcleats.tokenize import code_tokens_ranges

    text, ranges = _row_ranges(rows, kept)
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


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_word_text_keeps_offsets_and_the_word_runs(text: str) -> None:
    """word_text (bytes.translate) blanks exactly the non-word ASCII characters in place."""
    import re

    from pairofcleats.tokenize import word_text

    out = word_text(text)
    assert len(out) == len(text)
    assert out.split() == re.findall(r"\w+", text)
    for a in range(0, len(text), 7):  # any slice splits into that slice's runs
        assert out[a : a + 9].split() == re.findall(r"\w+", text[a : a + 9])


_CAMEL_ALPHABET = "aAzZ09_bBxX"


@given(st.text(alphabet=_CAMEL_ALPHABET, min_size=1, max_size=24))
def test_ascii_camel_regex_equals_the_class_loop(word: str) -> None:
    """ASCII runs go through the boundary regex; the per-character loop is the oracle."""
    import re

    from pairofcleats.tokenize import _camel_parts, _split_word, _split_word_classes

    for run in re.findall(r"[^\W_]+", word):
        assert _split_word(run) == _split_word_classes(run)
    expected = [p for run in re.findall(r"[^\W_]+", word) for p in _split_word_classes(run)]
    assert _camel_parts(word) == expected


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("getHTTPResponse", ("get", "http", "response")),
        ("HTTP2Server", ("http2", "server")),
        ("ABc", ("a", "bc")),
        ("AB1c", ("ab1c",)),
        ("ABC", ("abc",)),
        ("a1B2c3", ("a1", "b2c3")),
        ("x", ("x",)),
        ("X", ("x",)),
        ("123", ("123",)),
        ("ÉcoleNormale", ("école", "normale")),  # non-ASCII: the class loop
        ("ǅemal", ("ǆemal",)),  # titlecase: not upper (no boundary), lowercased
    ],
)
def test_split_word_camel_cases(word: str, parts: tuple[str, ...]) -> None:
    from pairofcleats.tokenize import _split_word, _split_word_classes

    assert _split_word(word) == parts == _split_word_classes(word)


@given(
    st.lists(st.text(alphabet="aZ9_é .:=(){}-\nIfifdefDEF", max_size=20), max_size=6),
    st.lists(st.integers(0, 2), min_size=6, max_size=6),
)
def test_keyword_memos_match_filtering(texts: list[str], which: list[int]) -> None:
    """Per-keyword-set memos (keywords give no body sub-words, no usage) equal filtering
    the keywords out, whatever sets earlier calls used."""
    sets = [frozenset({"if", "If"}), frozenset({"def", "if"}), frozenset()]
    for text, k in zip(texts, which, strict=False):
        keywords = sets[k]
        assert code_tokens(text, keywords) == _scan_reference(text, keywords)
        usages = [
            w for w in dict.fromkeys(raw_words(text)) if not w[0].isdigit() and w not in keywords
        ]
        assert raw_identifiers(text, None, keywords) == usages
        assert raw_identifiers(text, None, keywords, 2) == usages[:2]


@given(
    st.lists(st.text(alphabet="aZ9_ .:=(){}-Ifif#", max_size=12), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_code_tokens_ranges_with_a_file_word_text(rows: list[str], kept: list[bool]) -> None:
    """A word_text made once for the whole text gives what each range's own scan gives."""
    from pairofcleats.tokenize import code_tokens_ranges, word_text

    text, ranges = _row_ranges(rows, kept)
    keywords = frozenset({"if"})
    assert code_tokens_ranges(text, ranges, keywords, word_text(text)) == code_tokens_ranges(
        text, ranges, keywords
    )


def test_split_id_unicode_and_punctuation_edges() -> None:
    assert split_id("naïveHTTPÜber_x") == ["naïve", "http", "über", "x"]
    assert split_id("a->b::c") == ["a", "b", "c"]
    assert split_id("__init__") == ["init"]
    assert split_id("x2y") == ["x2y"]
    assert split_id("fooBAR9baz") == ["foo", "bar9baz"]
    body, kw, ops = code_tokens("if a<=b: return x**2 // y", frozenset({"if", "return"}))
    assert (body, kw, ops) == (["a", "b", "x", "2", "y"], ["if", "return"], ["<=", ":", "**", "//"])


@given(st.text(alphabet="aZ9_é .:=(){}-\n\rIfifdef", max_size=40), st.integers(0, 2))
def test_code_body_is_the_body_stream(text: str, k: int) -> None:
    from pairofcleats.tokenize import code_body

    keywords = [frozenset({"if", "If"}), frozenset({"def"}), frozenset()][k]
    assert code_body(text, keywords) == code_tokens(text, keywords)[0]


_STEM_WORDS = ["running", "runs", "run", "x", "ponies", "news", "a"]


@given(st.lists(st.sampled_from(_STEM_WORDS), max_size=12))
def test_stems_for_are_the_differing_stems_in_order(tokens: list[str]) -> None:
    stems = [stem(t) for t in tokens]
    assert stems_for(tokens) == [s for s, t in zip(stems, tokens, strict=True) if s != t]
