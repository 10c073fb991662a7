from groundwork.llm.sse import ServerSentEvent, SSEDecoder, encode_event
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
