"""The one error boundary and the stream loop, driven through httpx.MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from groundwork.llm.anthropic import AnthropicProvider
from groundwork.llm.errors import (
    BadRequest,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    RateLimited,
    ServerError,
)
from groundwork.llm.http import error_message, parse_retry_after, to_llm_error
from groundwork.llm.ollama import OllamaProvider
from groundwork.llm.openai import OpenAIProvider
from groundwork.llm.types import Delta, Message

MSGS = [Message.user("hi")]
KEY = "sk-live-abcdefghijklmnopqrstu9999"

Handler = Callable[[httpx.Request], httpx.Response]


def openai(handler: Handler) -> OpenAIProvider:
    return OpenAIProvider(
        model="m", base_url="http://x.invalid", api_key=KEY, transport=httpx.MockTransport(handler)
    )


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "cls", "phase"),
    [
        (httpx.ConnectTimeout("slow"), LLMTimeout, "connect"),
        (httpx.ReadTimeout("slow"), LLMTimeout, "read"),
        (httpx.WriteTimeout("slow"), LLMTimeout, "write"),
        (httpx.PoolTimeout("slow"), LLMTimeout, "pool"),
        (httpx.ConnectError("refused"), LLMConnectionError, None),
        (httpx.RemoteProtocolError("cut"), LLMConnectionError, None),
        (httpx.ReadError("reset"), LLMConnectionError, None),
        (httpx.DecodingError("gzip"), MalformedResponse, None),
        (httpx.UnsupportedProtocol("ftp"), LLMConfigError, None),
        (ConnectionRefusedError("no"), LLMConnectionError, None),
        (RuntimeError("odd"), LLMError, None),
    ],
)
async def test_transport_errors_map_to_tree(
    exc: Exception, cls: type[LLMError], phase: str | None
) -> None:
    p = openai(raising(exc))
    with pytest.raises(cls) as info:
        await p.complete(MSGS)
    await p.aclose()
    assert type(info.value) is cls
    if phase is not None:
        assert getattr(info.value, "phase", None) == phase
    assert info.value.provider == "openai"
    assert info.value.__cause__ is exc


async def test_generic_error_is_unclassified() -> None:
    err = to_llm_error(RuntimeError("odd"), provider="p")
    assert err.retryable is None


def test_boundary_scrubs_keys_and_keeps_partial() -> None:
    err = to_llm_error(
        httpx.ConnectError(f"bad {KEY}"), provider="p", secret=KEY, partial_text="ab"
    )
    assert KEY not in str(err)
    assert err.partial_text == "ab"
    same = RateLimited("x")
    assert to_llm_error(same, provider="q") is same and same.provider == "q"


def test_status_response_uses_body_and_retry_after() -> None:
    resp = httpx.Response(429, headers={"Retry-After": "3"})
    body = b'{"error": {"message": "slow down", "type": "rate_limit_exceeded"}}'
    err = to_llm_error(resp, provider="p", body=body)
    assert isinstance(err, RateLimited)
    assert err.retry_after == 3.0
    assert "slow down" in str(err)


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after": "-4"}) == 0.0
    assert parse_retry_after({"retry-after": later}, now=now) == 30.0
    assert parse_retry_after({"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "Thu, 01 Jan 2026 12:00:10"}, now=now) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "inf"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "9"}) == 9.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "m1", "type": "t"}}', "m1"),
        (b'{"error": {"type": "only_type"}}', "only_type"),
        (b'{"type": "error", "error": {"type": "x", "message": "m2"}}', "m2"),
        (b'{"error": "m3"}', "m3"),
        (b'{"message": "m4"}', "m4"),
        (b"plain text", "plain text"),
        (b"[1, 2]", "[1, 2]"),
        (b"x" * 1000, "x" * 300),
    ],
)
def test_error_message_shapes(body: bytes, message: str) -> None:
    assert error_message(body) == message


def sse_response(body: bytes, status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "text/event-stream"})

    return handler


async def collect(p: OpenAIProvider | AnthropicProvider | OllamaProvider) -> list[str]:
    out: list[str] = []
    async for ev in p.stream(MSGS):
        if isinstance(ev, Delta):
            out.append(ev.text)
    return out


async def test_openai_stream_error_chunk_carries_partial() -> None:
    body = (
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"error":{"message":"boom","type":"server_error"}}\n\n'
    )
    p = openai(sse_response(body))
    with pytest.raises(ServerError) as exc:
        await collect(p)
    assert exc.value.partial_text == "Hel"
    p2 = openai(sse_response(b'data: {"error":{"message":"slow","code":429}}\n\n'))
    with pytest.raises(RateLimited):
        await collect(p2)
    p3 = openai(sse_response(b'data: {"error":"flat"}\n\n'))
    with pytest.raises(ServerError):
        await collect(p3)


async def test_openai_stream_without_done_needs_finish_reason() -> None:
    ok_body = b'data: {"choices":[{"delta":{"content":"A"},"finish_reason":"stop"}]}'
    events = [ev async for ev in openai(sse_response(ok_body)).stream(MSGS)]
    assert events[0] == Delta("A")
    cut = b'data: {"choices":[{"delta":{"content":"A"}}]}\n\n'
    with pytest.raises(MalformedResponse) as exc:
        await collect(openai(sse_response(cut)))
    assert exc.value.partial_text == "A"


@pytest.mark.parametrize(
    "body",
    [b"data: [1]\n\n", b'data: {"choices": "x"}\n\n', b'data: {"choices": [1]}\n\n'],
)
async def test_openai_stream_shape_errors(body: bytes) -> None:
    with pytest.raises(MalformedResponse):
        await collect(openai(sse_response(body)))


@pytest.mark.parametrize(
    "payload",
    [b"{}", b'{"choices": []}', b'{"choices": [{"message": {"content": 5}}]}', b"[]"],
)
async def test_openai_completion_shape_errors(payload: bytes) -> None:
    p = openai(lambda r: httpx.Response(200, content=payload))
    with pytest.raises(MalformedResponse):
        await p.complete(MSGS)


async def test_openai_null_content_is_empty_text() -> None:
    payload = b'{"choices": [{"message": {"content": null}, "finish_reason": "length"}]}'
    c = await openai(lambda r: httpx.Response(200, content=payload)).complete(MSGS)
    assert (c.text, c.finish_reason, c.model, c.usage.total_tokens) == ("", "length", "m", 0)


async def test_models_shape_error() -> None:
    p = openai(lambda r: httpx.Response(200, content=b'{"data": [{"name": "x"}]}'))
    with pytest.raises(MalformedResponse):
        await p.list_models()


async def test_error_body_unreadable_still_classified() -> None:
    class BrokenStream(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for _ in range(1):
                raise httpx.ReadError("gone")
            yield b""  # pragma: no cover - makes this an async generator

    p = openai(lambda r: httpx.Response(503, stream=BrokenStream()))
    with pytest.raises(ServerError):
        await p.complete(MSGS)


def anthropic(handler: Handler) -> AnthropicProvider:
    return AnthropicProvider(model="c", api_key=KEY, transport=httpx.MockTransport(handler))


async def test_anthropic_error_event_mid_stream() -> None:
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"model":"c"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta",'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    with pytest.raises(ServerError) as exc:
        await collect(anthropic(sse_response(body)))
    assert exc.value.partial_text == "Hi"
    assert exc.value.http_status == 529
    bad = b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error"}}\n\n'
    with pytest.raises(BadRequest):
        await collect(anthropic(sse_response(bad)))


async def test_anthropic_stream_needs_message_stop_and_objects() -> None:
    with pytest.raises(MalformedResponse, match="message_stop"):
        await collect(anthropic(sse_response(b'data: {"type":"ping"}\n\n')))
    with pytest.raises(MalformedResponse):
        await collect(anthropic(sse_response(b"data: [1]\n\n")))


async def test_anthropic_completion_shapes() -> None:
    payload = (
        b'{"content": [{"type": "text", "text": "a"}, {"type": "tool_use"},'
        b' {"type": "text", "text": "b"}], "stop_reason": "max_tokens",'
        b' "usage": {"input_tokens": 3, "output_tokens": 4}}'
    )
    c = await anthropic(lambda r: httpx.Response(200, content=payload)).complete(MSGS)
    assert (c.text, c.finish_reason, c.usage.prompt_tokens, c.model) == ("ab", "length", 3, "c")
    bad = anthropic(lambda r: httpx.Response(200, content=b'{"content": "x"}'))
    with pytest.raises(MalformedResponse):
        await bad.complete(MSGS)


def ollama(handler: Handler) -> OllamaProvider:
    return OllamaProvider(model="l", transport=httpx.MockTransport(handler))


async def test_ollama_error_line_and_cut_stream() -> None:
    body = b'{"message":{"content":"Hi"},"done":false}\n\n{"error":"model crashed"}\n'
    with pytest.raises(ServerError) as exc:
        await collect(ollama(sse_response(body)))
    assert exc.value.partial_text == "Hi"
    with pytest.raises(MalformedResponse, match="done"):
        await collect(ollama(sse_response(b'{"message":{"content":"Hi"},"done":false}\n')))
    with pytest.raises(MalformedResponse):
        await collect(ollama(sse_response(b"[1]\n")))


async def test_ollama_completion_shapes() -> None:
    err = ollama(lambda r: httpx.Response(200, content=b'{"error": "no model"}'))
    with pytest.raises(ServerError):
        await err.complete(MSGS)
    bad = ollama(lambda r: httpx.Response(200, content=b'{"message": {"content": 1}}'))
    with pytest.raises(MalformedResponse):
        await bad.complete(MSGS)


async def test_ollama_sends_key_when_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b'{"models": [{"name": "a"}]}')

    p = OllamaProvider(
        model="l",
        base_url="http://h:1/v1",
        api_key="k" * 20,
        transport=httpx.MockTransport(handler),
    )
    assert await p.list_models() == ["a"]
    assert str(seen[0].url) == "http://h:1/api/tags"
    assert seen[0].headers["authorization"] == "Bearer " + "k" * 20
    assert "k" * 20 not in repr(p)


async def test_endless_line_is_malformed() -> None:
    body = b"data: " + b"x" * (8 * 1024 * 1024 + 10)
    with pytest.raises(MalformedResponse, match="longer than"):
        await collect(openai(sse_response(body)))


async def test_redirect_is_unclassified_and_names_location() -> None:
    p = openai(lambda r: httpx.Response(301, headers={"location": "https://elsewhere/v1"}))
    with pytest.raises(LLMError) as exc:
        await p.complete(MSGS)
    assert exc.value.http_status == 301 and exc.value.retryable is None
    assert "redirected to https://elsewhere/v1; check base_url" in str(exc.value)
