import itertools
import re

import pytest
from groundwork.llm.sse import LineSplitter, ServerSentEvent, SSEDecoder, encode_event
from hypothesis import given
from hypothesis import strategies as st


def decode(text: str) -> list[ServerSentEvent]:
    d = SSEDecoder()
    out = [ev for line in text.splitlines() if (ev := d.feed_line(line)) is not None]
    last = d.flush()
    return [*out, last] if last is not None else out


def test_comments_fields_and_multiline() -> None:
    text = (
        "\ufeff: keep-alive\n\n"
        "event: delta\nid: 7\nretry: 100\ndata: a\ndata:b\n\n"
        "data\n\n"
        "unknown: x\nid: bad\0id\n\n"
        "data: tail-without-blank-line"
    )
    assert decode(text) == [
        ServerSentEvent("delta", "a\nb", "7", 100),
        ServerSentEvent("message", "", "7", 100),
        ServerSentEvent("message", "tail-without-blank-line", "7", 100),
    ]


def test_event_without_data_is_dropped() -> None:
    d = SSEDecoder()
    assert d.feed_line("event: ping") is None
    assert d.feed_line("") is None
    assert d.feed_line("data: x") is None
    assert d.feed_line("") == ServerSentEvent("message", "x")


def test_crlf_line_endings_are_tolerated() -> None:
    d = SSEDecoder()
    assert d.feed_line("data: x\r\n") is None
    assert d.feed_line("\r\n") == ServerSentEvent("message", "x")


names = st.one_of(st.none(), st.text(st.characters(categories=["L", "N"]), min_size=1))
payloads = st.text(
    st.characters(
        blacklist_categories=["Cs"], blacklist_characters="\r\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"
    ),
    max_size=40,
)


@given(st.lists(st.tuples(payloads, names), max_size=6))
def test_encode_decode_round_trip(events: list[tuple[str, str | None]]) -> None:
    wire = "".join(encode_event(data, name) for data, name in events)
    assert [(e.data, e.event) for e in decode(wire)] == [
        (data, name or "message") for data, name in events
    ]


def split_all(chunks: list[str]) -> list[str]:
    s = LineSplitter()
    out = [line for c in chunks for line in s.feed(c)]
    return out + s.flush()


def test_splitter_only_breaks_on_cr_lf() -> None:
    assert split_all(["a\u2028b\x85c\x1cd\n", "e\r", "\nf\rg"]) == [
        "a\u2028b\x85c\x1cd",
        "e",
        "f",
        "g",
    ]
    assert split_all(["x\r", "y"]) == ["x", "y"]
    assert split_all(["\n\n"]) == ["", ""]
    assert split_all([]) == []


def test_splitter_caps_line_length() -> None:
    s = LineSplitter(max_line_chars=5)
    assert s.feed("abc") == []
    with pytest.raises(ValueError, match="longer than 5"):
        s.feed("defg")


@given(
    st.text(st.sampled_from(["a", "é", "\n", "\r", "\u2028", "\x85", " "]), max_size=60),
    st.lists(st.integers(0, 60), max_size=8),
)
def test_splitter_matches_reference_under_any_chunking(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    expected = re.split(r"\r\n|\r|\n", text)
    if expected and expected[-1] == "":
        expected.pop()
    assert split_all(chunks) == expected
