"""Ollama body building and NDJSON parsing under arbitrary byte splits."""

from __future__ import annotations

from groundwork.llm.fake import wire
from groundwork.llm.mock import split_pieces
from groundwork.llm.ollama import OllamaProvider, OllamaStreamParser, ollama_options
from groundwork.llm.types import Delta, Done, Message, Options
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import split_transport

texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


def test_options_and_body() -> None:
    assert ollama_options(Options(frequency_penalty=0.3)) == {"frequency_penalty": 0.3}
    p = OllamaProvider(model="l")
    body = p.chat_body([Message.user("u")], Options(), stream=False)
    assert body == {"model": "l", "messages": [{"role": "user", "content": "u"}], "stream": False}


def test_parser_counts_from_done_line() -> None:
    parser = OllamaStreamParser()
    assert parser.feed("") == []
    assert parser.feed('{"message":{"content":"a"},"done":false}') == ["a"]
    assert parser.feed('{"done":true,"prompt_eval_count":2,"eval_count":3}') == []
    assert parser.end() == []
    c = parser.completion("l", 2.0)
    assert (c.text, c.usage.prompt_tokens, c.usage.completion_tokens, c.finish_reason) == (
        "a",
        2,
        3,
        "stop",
    )


@settings(max_examples=40, deadline=None)
@given(texts, cuts)
async def test_any_byte_split_gives_the_same_text(text: str, where: list[int]) -> None:
    frames = wire.stream_frames(
        "ollama",
        model="l",
        pieces=split_pieces(text),
        prompt_tokens=1,
        completion_tokens=1,
        seq=1,
    )
    body = b"".join(frames.prelude + frames.pieces + frames.coda)
    p = OllamaProvider(model="l", transport=split_transport(body, where, frames.content_type))
    events = [ev async for ev in p.stream([Message.user("q")])]
    await p.aclose()
    assert "".join(e.text for e in events if isinstance(e, Delta)) == text
    assert isinstance(events[-1], Done)
