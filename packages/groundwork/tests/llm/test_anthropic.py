"""Anthropic body building and event-stream parsing under arbitrary byte splits."""

from __future__ import annotations

from groundwork.llm.anthropic import AnthropicProvider, finish_reason
from groundwork.llm.fake import wire
from groundwork.llm.mock import split_pieces
from groundwork.llm.types import Delta, Done, Message, Options
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import split_transport

texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


def test_body_moves_system_and_drops_penalties() -> None:
    p = AnthropicProvider(model="c", base_url="http://h/v1", default_max_tokens=77)
    body = p.chat_body(
        [Message.system("a"), Message.user("u"), Message.system("b"), Message.assistant("x")],
        Options(frequency_penalty=1.0, presence_penalty=1.0, temperature=0.1, top_p=0.5),
        stream=True,
    )
    assert body == {
        "model": "c",
        "max_tokens": 77,
        "system": "a\n\nb",
        "messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "x"}],
        "temperature": 0.1,
        "top_p": 0.5,
        "stream": True,
    }
    assert p.chat_url() == "http://h/v1/messages"
    assert p.models_url() == "http://h/v1/models"


def test_finish_reason_vocabulary() -> None:
    assert finish_reason("end_turn") == "stop"
    assert finish_reason("stop_sequence") == "stop"
    assert finish_reason("max_tokens") == "length"
    assert finish_reason("tool_use") == "tool_use"
    assert finish_reason(None) is None


@settings(max_examples=40, deadline=None)
@given(texts, cuts)
async def test_any_byte_split_gives_the_same_text(text: str, where: list[int]) -> None:
    frames = wire.stream_frames(
        "anthropic",
        model="c",
        pieces=split_pieces(text),
        prompt_tokens=4,
        completion_tokens=5,
        seq=1,
    )
    body = b"".join(frames.prelude + frames.pieces + frames.coda)
    p = AnthropicProvider(
        model="c", api_key="k" * 16, transport=split_transport(body, where, frames.content_type)
    )
    events = [ev async for ev in p.stream([Message.user("q")])]
    await p.aclose()
    assert "".join(e.text for e in events if isinstance(e, Delta)) == text
    done = events[-1]
    assert isinstance(done, Done)
    assert (done.completion.usage.prompt_tokens, done.completion.usage.completion_tokens) == (4, 5)
    assert done.completion.finish_reason == "stop"
