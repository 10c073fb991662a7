import hashlib
import json

import pytest
from groundwork.llm import faults
from groundwork.llm.base import Completer, Provider
from groundwork.llm.errors import (
    AuthenticationError,
    LLMConnectionError,
    LLMTimeout,
    MalformedResponse,
    RateLimited,
    ServerError,
)
from groundwork.llm.mock import (
    MockProvider,
    count_tokens,
    deterministic_reply,
    prompt_tokens,
    request_digest,
    split_pieces,
)
from groundwork.llm.types import Delta, Done, Message, StreamEvent, Timeouts

TINY = Timeouts(connect_s=0.2, total_s=0.3, first_token_s=0.1, idle_s=0.1)
MSGS = [Message.system("be brief"), Message.user("Summarise the file   src/a.py please")]


async def collect(p: MockProvider, msgs: list[Message] = MSGS) -> list[StreamEvent]:
    return [ev async for ev in p.stream(msgs)]


async def test_reply_is_pure_function_of_request() -> None:
    a, b = MockProvider(), MockProvider()
    ca, cb = await a.complete(MSGS), await b.complete(MSGS)
    assert ca.text == cb.text == deterministic_reply(MSGS)
    assert ca.usage == cb.usage
    assert ca.text.startswith("Mock reply ")
    assert "Summarise the file src/a.py please" in ca.text
    other = await a.complete([Message.user("something else")])
    assert other.text != ca.text
    assert ca.finish_reason == "stop" and ca.model == "mock"
    assert a.calls == [tuple(MSGS), (Message.user("something else"),)]


def test_long_snippet_is_cut() -> None:
    text = deterministic_reply([Message.user("word " * 50)])
    assert text.endswith("...")
    assert len(text) < 100
    assert deterministic_reply([Message.system("only system")]).endswith(".")


async def test_stream_is_deterministic_and_concatenates() -> None:
    p = MockProvider()
    first, second = await collect(p), await collect(p)
    assert [e for e in first if isinstance(e, Delta)] == [e for e in second if isinstance(e, Delta)]
    done = first[-1]
    assert isinstance(done, Done)
    deltas = [e.text for e in first[:-1] if isinstance(e, Delta)]
    assert len(deltas) > 3
    assert "".join(deltas) == done.completion.text
    assert done.completion.usage == (await p.complete(MSGS)).usage


def test_split_pieces_concatenate() -> None:
    for text in ["", "a", "  lead and trail  ", "multi\nline text"]:
        assert "".join(split_pieces(text)) == text
        assert "".join(split_pieces(text, per_char=True)) == text


async def test_reply_override_string_and_callable() -> None:
    assert (await MockProvider(reply="fixed").complete(MSGS)).text == "fixed"
    p = MockProvider(reply=lambda msgs: f"{len(msgs)} messages")
    assert (await p.complete(MSGS)).text == "2 messages"


async def test_protocol_conformance() -> None:
    p = MockProvider(name="m", model="mm")
    assert isinstance(p, Provider) and isinstance(p, Completer)
    assert (p.name, p.type, p.model) == ("m", "mock", "mm")
    assert await p.list_models() == ["mm"]
    await p.aclose()
    assert "mm" in repr(p)


async def test_latency_is_applied() -> None:
    p = MockProvider(latency_s=0.05)
    c = await p.complete(MSGS)
    assert c.latency_ms >= 50
    with pytest.raises(ValueError):
        MockProvider(latency_s=-1)


async def test_scripted_faults_in_order() -> None:
    p = MockProvider(script="429(2)x2,500,401,reset,malformed,ok")
    for _ in range(2):
        with pytest.raises(RateLimited) as rl:
            await p.complete(MSGS)
        assert rl.value.retry_after == 2 and rl.value.retryable
    with pytest.raises(ServerError):
        await p.complete(MSGS)
    with pytest.raises(AuthenticationError) as auth:
        await p.complete(MSGS)
    assert auth.value.retryable is False
    with pytest.raises(LLMConnectionError):
        await p.complete(MSGS)
    with pytest.raises(MalformedResponse):
        await p.complete(MSGS)
    assert (await p.complete(MSGS)).text == deterministic_reply(MSGS)


async def test_text_delay_and_chunked() -> None:
    p = MockProvider()
    p.script([faults.text("scripted"), faults.delay(0.01), faults.chunked()])
    assert (await p.complete(MSGS)).text == "scripted"
    assert (await p.complete(MSGS)).latency_ms >= 10
    events = await collect(p)
    deltas = [e.text for e in events if isinstance(e, Delta)]
    assert all(len(d) == 1 for d in deltas)
    assert "".join(deltas) == deterministic_reply(MSGS)


async def test_hang_times_out_per_phase() -> None:
    p = MockProvider(timeouts=TINY, script="hang,hang,stall_after(2)")
    with pytest.raises(LLMTimeout) as total:
        await p.complete(MSGS)
    assert total.value.phase == "total"
    with pytest.raises(LLMTimeout) as first:
        await collect(p)
    assert first.value.phase == "first_token"
    seen: list[str] = []
    with pytest.raises(LLMTimeout) as idle:
        async for ev in p.stream(MSGS):
            assert isinstance(ev, Delta)
            seen.append(ev.text)
    assert idle.value.phase == "idle"
    assert idle.value.partial_text == "".join(seen) and len(seen) == 2


async def test_mid_stream_reset_carries_partial_text() -> None:
    p = MockProvider(script=[faults.reset(3)])
    seen: list[str] = []
    with pytest.raises(LLMConnectionError) as exc:
        async for ev in p.stream(MSGS):
            if isinstance(ev, Delta):
                seen.append(ev.text)
    assert len(seen) == 3
    assert exc.value.partial_text == "".join(seen)


async def test_stream_status_fault_before_first_delta() -> None:
    p = MockProvider(script="503")
    with pytest.raises(ServerError):
        await collect(p)


async def test_calls_keep_only_the_latest_requests() -> None:
    """A long-running mock server (soak bench) must not keep every context it was sent."""
    p = MockProvider(keep_calls=3)
    for i in range(10):
        await p.complete([Message.user(f"call {i}")])
    assert [c[0].content for c in p.calls] == ["call 7", "call 8", "call 9"]
    none = MockProvider(keep_calls=0)
    await none.complete(MSGS)
    assert none.calls == []
    with pytest.raises(ValueError):
        MockProvider(keep_calls=-1)


def test_prompt_tokens_memo_matches_counting_every_time() -> None:
    big = "word, " * 5000  # past the memo size: counted directly
    msgs = [Message.system("You are a bot."), Message.user("hi there!"), Message.user(big)]
    expected = sum(count_tokens(m.content) for m in msgs)
    assert prompt_tokens(msgs) == expected
    assert prompt_tokens(msgs) == expected  # memoized texts give the same counts
    assert prompt_tokens([Message.user("a b c")]) == 3


def test_request_digest_is_sha256_of_the_compact_json_of_role_content_pairs() -> None:
    big = 'é \u2028 "q" \\ ' * 1000  # past the memo size: encoded directly
    msgs = [Message.system("You are a bot."), Message.user("héllo \U0001f600"), Message.user(big)]
    for batch in (msgs, msgs[:1], msgs[1:]):
        payload = json.dumps([[m.role, m.content] for m in batch], separators=(",", ":"))
        expected = hashlib.sha256(payload.encode("ascii")).hexdigest()
        assert request_digest(batch) == expected
        assert request_digest(batch) == expected  # memoized parts give the same digest


def test_count_tokens_equals_the_regex_on_every_ascii_character() -> None:
    import random
    import re
    import string

    token = re.compile(r"\w+|[^\w\s]")
    rnd = random.Random(7)
    alphabet = "".join(chr(i) for i in range(128)) + string.printable
    samples = ["", " ", "a", "_", "a-b", "x\x1cy\x1f z", "é ü_1", "a\u2028b"]
    samples += [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60))) for _ in range(3000)
    ]
    for text in samples:
        assert count_tokens(text) == len(token.findall(text)), repr(text)


async def test_provider_reply_and_usage_equal_the_public_functions() -> None:
    msgs = [
        Message.system("be brief " * 10),
        Message.user("héllo, there!"),
        Message.user("x" * 5000),
    ]
    p = MockProvider()
    c = await p.complete(msgs)
    assert c.text == deterministic_reply(msgs)
    assert c.usage.prompt_tokens == prompt_tokens(msgs)
    events = await collect(p, msgs)
    done = events[-1]
    assert isinstance(done, Done)
    assert done.completion.text == c.text and done.completion.usage == c.usage
