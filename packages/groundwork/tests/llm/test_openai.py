"""OpenAI body building and stream parsing, fed through httpx in arbitrary byte splits."""

from __future__ import annotations

from groundwork.llm.fake import wire
from groundwork.llm.mock import split_pieces
from groundwork.llm.openai import OpenAIProvider, OpenAIStreamParser, openai_options
from groundwork.llm.types import Delta, Done, Message, Options
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import split_transport

texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


def test_options_and_body() -> None:
    assert openai_options(Options()) == {}
    assert openai_options(Options(frequency_penalty=0.1, presence_penalty=0.2, stop=("x",))) == {
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stop": ["x"],
    }
    p = OpenAIProvider(model="m", base_url="http://h/v1/")
    body = p.chat_body([Message.user("u")], Options(), stream=True)
    assert body["stream_options"] == {"include_usage": True}
    assert p.chat_body([Message.user("u")], Options(), stream=False)["stream"] is False
    assert p.chat_url() == "http://h/v1/chat/completions"


def test_parser_skips_keepalive_and_usage_only_chunks() -> None:
    parser = OpenAIStreamParser()
    lines = [
        ": keep-alive",
        "",
        'data: {"model":"m2","choices":[{"delta":{"role":"assistant","content":""}}]}',
        "",
        'data: {"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}',
        "",
        'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}',
        "",
        "data: [DONE]",
        "",
    ]
    pieces = [p for line in lines for p in parser.feed(line)]
    assert pieces == ["Hi"]
    assert parser.done
    c = parser.completion("m", 1.0)
    assert (c.text, c.model, c.usage.prompt_tokens, c.finish_reason) == ("Hi", "m2", 3, None)


@settings(max_examples=40, deadline=None)
@given(texts, cuts)
async def test_any_byte_split_gives_the_same_text(text: str, where: list[int]) -> None:
    frames = wire.stream_frames(
        "openai",
        model="m",
        pieces=split_pieces(text),
        prompt_tokens=1,
        completion_tokens=2,
        seq=1,
    )
    body = b"".join(frames.prelude + frames.pieces + frames.coda)
    transport = split_transport(body, where, frames.content_type)
    p = OpenAIProvider(model="m", base_url="http://h", transport=transport)
    events = [ev async for ev in p.stream([Message.user("q")])]
    await p.aclose()
    assert "".join(e.text for e in events if isinstance(e, Delta)) == text
    done = events[-1]
    assert isinstance(done, Done)
    assert done.completion.text == text
    assert done.completion.usage.completion_tokens == 2
