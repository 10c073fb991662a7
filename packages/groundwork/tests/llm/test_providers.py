"""The acceptance matrix: every HTTP provider against the real fake server."""

from __future__ import annotations

import pytest
from groundwork.llm import faults
from groundwork.llm.base import Provider
from groundwork.llm.errors import (
    AuthenticationError,
    BadRequest,
    FinalError,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    classify,
)
from groundwork.llm.factory import make_provider
from groundwork.llm.fake import FakeLLMServer
from groundwork.llm.mock import deterministic_reply
from groundwork.llm.types import Delta, Message, Options, Timeouts

from .conftest import KEY, MSGS, drain, free_port, spec_for

pytestmark = pytest.mark.timeout(30)


async def test_complete(provider: Provider, fake_llm: FakeLLMServer) -> None:
    c = await provider.complete(MSGS)
    assert c.text == deterministic_reply(MSGS)
    assert c.model == "test-model"
    assert c.finish_reason == "stop"
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0
    assert c.latency_ms > 0
    assert fake_llm.count() == 1


async def test_stream_deltas_then_done(provider: Provider, fake_llm: FakeLLMServer) -> None:
    deltas, done = await drain(provider)
    assert len(deltas) > 2
    assert "".join(deltas) == done.completion.text == deterministic_reply(MSGS)
    assert done.completion.finish_reason == "stop"
    # OpenAI's usage arrives in a usage-only chunk (empty choices) after a keep-alive comment.
    assert done.completion.usage.prompt_tokens > 0
    assert done.completion.usage.completion_tokens > 0
    assert fake_llm.requests[0]["body"]["stream"] is True


async def test_stream_chunked_rejoins_split_lines(
    provider: Provider, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script(faults.chunked())
    deltas, _ = await drain(provider)
    assert all(len(d) == 1 for d in deltas)
    assert "".join(deltas) == deterministic_reply(MSGS)
    fake_llm.script("chunked")
    assert (await provider.complete(MSGS)).text == deterministic_reply(MSGS)


async def test_list_models(provider: Provider) -> None:
    assert await provider.list_models() == ["fake-model"]


@pytest.mark.parametrize("streaming", [False, True])
async def test_429_is_rate_limited_with_retry_after(
    provider: Provider, fake_llm: FakeLLMServer, streaming: bool
) -> None:
    fake_llm.script(faults.status(429, 1.5))
    with pytest.raises(RateLimited) as exc:
        if streaming:
            await drain(provider)
        else:
            await provider.complete(MSGS)
    err = exc.value
    assert err.retryable is True and classify(err) is True
    assert err.retry_after == 1.5
    assert err.http_status == 429
    assert fake_llm.count() == 1  # one attempt, never retried


async def test_429_without_retry_after_is_still_retryable(
    provider: Provider, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("429x2,ok")
    for _ in range(2):
        with pytest.raises(RateLimited) as exc:
            await provider.complete(MSGS)
        assert exc.value.retry_after is None
    assert (await provider.complete(MSGS)).text == deterministic_reply(MSGS)
    assert fake_llm.count() == 3


@pytest.mark.parametrize("code", [500, 503])
async def test_5xx_is_server_error(provider: Provider, fake_llm: FakeLLMServer, code: int) -> None:
    fake_llm.script(faults.status(code))
    with pytest.raises(ServerError) as exc:
        await provider.complete(MSGS)
    assert exc.value.retryable is True
    assert exc.value.http_status == code
    assert "scripted" in str(exc.value)  # the message comes from the API-shaped error body


@pytest.mark.parametrize(
    ("code", "cls"),
    [(400, BadRequest), (401, AuthenticationError), (403, PermissionDenied), (404, NotFound)],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_final_statuses(
    provider: Provider,
    fake_llm: FakeLLMServer,
    code: int,
    cls: type[LLMError],
    streaming: bool,
) -> None:
    fake_llm.script(faults.status(code))
    with pytest.raises(cls) as exc:
        if streaming:
            await drain(provider)
        else:
            await provider.complete(MSGS)
    assert isinstance(exc.value, FinalError)
    assert exc.value.retryable is False
    assert exc.value.http_status == code
    assert fake_llm.count() == 1


async def test_other_status_is_unclassified(provider: Provider, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("408,422")
    with pytest.raises(LLMError) as e408:
        await provider.complete(MSGS)
    with pytest.raises(LLMError) as e422:
        await provider.complete(MSGS)
    assert e408.value.retryable is None
    assert classify(e408.value, {408: True, 422: False}) is True
    assert classify(e422.value, {408: True, 422: False}) is False


async def test_hang_times_out_total(kind: str, fake_llm: FakeLLMServer) -> None:
    tiny = Timeouts(connect_s=1.0, total_s=0.3, first_token_s=5.0, idle_s=5.0)
    async with make_provider(spec_for(kind, fake_llm, tiny)) as p:  # type: ignore[attr-defined]
        fake_llm.script("hang")
        with pytest.raises(LLMTimeout) as exc:
            await p.complete(MSGS)
    assert exc.value.phase == "total"
    assert exc.value.retryable is True


async def test_hang_times_out_first_token(kind: str, fake_llm: FakeLLMServer) -> None:
    tiny = Timeouts(connect_s=1.0, total_s=5.0, first_token_s=0.2, idle_s=5.0)
    p = make_provider(spec_for(kind, fake_llm, tiny))
    fake_llm.script("hang")
    with pytest.raises(LLMTimeout) as exc:
        await drain(p)
    await p.aclose()
    assert exc.value.phase == "first_token"


async def test_stall_mid_stream_times_out_idle_with_partial(
    kind: str, fake_llm: FakeLLMServer
) -> None:
    tiny = Timeouts(connect_s=1.0, total_s=5.0, first_token_s=5.0, idle_s=0.2)
    p = make_provider(spec_for(kind, fake_llm, tiny))
    fake_llm.script(faults.stall_after(3))
    seen: list[str] = []
    with pytest.raises(LLMTimeout) as exc:
        async for ev in p.stream(MSGS):
            assert isinstance(ev, Delta)
            seen.append(ev.text)
    await p.aclose()
    assert exc.value.phase == "idle"
    assert len(seen) == 3
    assert exc.value.partial_text == "".join(seen)
    assert deterministic_reply(MSGS).startswith(exc.value.partial_text)


async def test_stall_of_non_streamed_body_times_out(kind: str, fake_llm: FakeLLMServer) -> None:
    tiny = Timeouts(connect_s=1.0, total_s=0.3, first_token_s=5.0, idle_s=5.0)
    p = make_provider(spec_for(kind, fake_llm, tiny))
    fake_llm.script(faults.stall_after(10))
    with pytest.raises(LLMTimeout) as exc:
        await p.complete(MSGS)
    await p.aclose()
    assert exc.value.phase == "total"


async def test_delay_within_limits_succeeds(provider: Provider, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(faults.delay(0.05))
    c = await provider.complete(MSGS)
    assert c.latency_ms >= 50


async def test_connection_refused(kind: str, fake_llm: FakeLLMServer) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    p = make_provider(spec_for(kind, fake_llm, base_url=url))
    with pytest.raises(LLMConnectionError) as exc:
        await p.complete(MSGS)
    with pytest.raises(LLMConnectionError):
        await drain(p)
    with pytest.raises(LLMConnectionError):
        await p.list_models()
    await p.aclose()
    assert exc.value.retryable is True
    assert exc.value.provider == kind


async def test_reset_before_reply(provider: Provider, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("reset,reset")
    with pytest.raises(LLMConnectionError):
        await provider.complete(MSGS)
    with pytest.raises(LLMConnectionError) as exc:
        await drain(provider)
    assert exc.value.partial_text is None


async def test_mid_stream_reset_carries_partial_text(
    provider: Provider, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script(faults.reset(2))
    seen: list[str] = []
    with pytest.raises(LLMConnectionError) as exc:
        async for ev in provider.stream(MSGS):
            assert isinstance(ev, Delta)
            seen.append(ev.text)
    assert len(seen) == 2
    assert exc.value.partial_text == "".join(seen)
    assert exc.value.retryable is True


@pytest.mark.parametrize("streaming", [False, True])
async def test_malformed(provider: Provider, fake_llm: FakeLLMServer, streaming: bool) -> None:
    fake_llm.script("malformed")
    with pytest.raises(MalformedResponse) as exc:
        if streaming:
            await drain(provider)
        else:
            await provider.complete(MSGS)
    assert exc.value.retryable is True


async def test_malformed_model_list(provider: Provider, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("malformed")
    with pytest.raises(MalformedResponse):
        await provider.list_models()


async def test_model_list_errors_are_classified(
    provider: Provider, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("401")
    with pytest.raises(AuthenticationError):
        await provider.list_models()


async def test_text_action_and_reply_function(provider: Provider, fake_llm: FakeLLMServer) -> None:
    fake_llm.script(faults.text("scripted reply"))
    assert (await provider.complete(MSGS)).text == "scripted reply"
    fake_llm.reply = lambda req: f"{len(req.messages)} msgs, last={req.messages[-1].content}"
    assert (await provider.complete(MSGS)).text == f"2 msgs, last={MSGS[-1].content}"


async def test_options_reach_the_wire(kind: str, fake_llm: FakeLLMServer) -> None:
    p = make_provider(spec_for(kind, fake_llm))
    await p.complete(MSGS, Options(temperature=0.5, max_tokens=50, top_p=0.9, stop=("END",)))
    await p.aclose()
    body = fake_llm.requests[0]["body"]
    if kind == "anthropic":
        assert body["max_tokens"] == 50
        assert body["stop_sequences"] == ["END"]
        assert body["system"] == "You are terse."
        assert [m["role"] for m in body["messages"]] == ["user"]
    elif kind == "ollama":
        assert body["options"] == {
            "temperature": 0.5,
            "top_p": 0.9,
            "num_predict": 50,
            "stop": ["END"],
        }
    else:
        assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.5, 50, ["END"])


async def test_anthropic_default_max_tokens_and_headers(fake_llm: FakeLLMServer) -> None:
    p = make_provider(spec_for("anthropic", fake_llm))
    await p.complete([Message.user("hi")])
    await p.aclose()
    rec = fake_llm.requests[0]
    assert rec["body"]["max_tokens"] == 4096
    assert "system" not in rec["body"]
    assert rec["headers"]["anthropic-version"] == "2023-06-01"
    assert rec["headers"]["x-api-key"] == "sk-…WXYZ"


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(kind: str, fake_llm: FakeLLMServer, suffix: str) -> None:
    p = make_provider(spec_for(kind, fake_llm, base_url=fake_llm.url + suffix))
    assert (await p.complete(MSGS)).text == deterministic_reply(MSGS)
    await p.aclose()


@pytest.mark.parametrize("wire_kind", ["openai", "anthropic"])
async def test_keys_never_appear(wire_kind: str) -> None:
    wrong = "sk-wrong-9876543210zyxwvuQRST"
    with FakeLLMServer(api_key=KEY) as fake:
        spec = spec_for(wire_kind, fake)
        good = make_provider(spec)
        assert (await good.complete(MSGS)).text
        await good.aclose()
        bad = make_provider(
            type(spec)(type=wire_kind, model="m", base_url=spec.base_url, api_key=wrong)
        )
        with pytest.raises(AuthenticationError) as exc:
            await bad.complete(MSGS)
        await bad.aclose()
        records = fake.requests
    err = exc.value
    for text in (str(err), repr(err), str(err.as_dict()), repr(bad), repr(spec)):
        assert wrong not in text and KEY not in text
    assert "sk-…QRST" in str(err)  # the server echoed the key; the client masked it
    for rec in records:
        assert KEY not in str(rec) and wrong not in str(rec)
