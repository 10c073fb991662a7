"""LLM turns against groundwork's fake HTTP server (acceptance 17) and the global gate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from groundwork.llm.fake.server import FakeLLMServer
from spiderweb.brain.turns import GateBusy, LlmGate
from spiderweb.client import SpiderwebClient


def fake_config(config_factory: Any, fake: FakeLLMServer, **llm: Any) -> Any:
    return config_factory(
        provider={
            "name": "openai-compatible",
            "model": "my-model",
            "base_url": fake.url,  # without /v1: the provider adds it
        },
        llm=llm,
    )


async def test_model_and_base_url_used_and_429_retried(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("429x1,ok")
    server = await make_server(fake_config(config_factory, fake_llm))
    async with SpiderwebClient(server.url) as client:
        frames = await client.chat("hi there", timeout=30)
        assert frames[-1]["type"] == "session.receive", frames
        assert frames[-1]["content"]
    reqs = [r for r in fake_llm.requests if r["path"].endswith("/chat/completions")]
    assert len(reqs) == 2
    assert all(r["path"] == "/v1/chat/completions" for r in reqs)
    assert all(r["body"]["model"] == "my-model" for r in reqs)
    assert reqs[0]["status"] == 429


async def test_401_is_final_and_connection_stays(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("401,ok")
    server = await make_server(fake_config(config_factory, fake_llm))
    async with SpiderwebClient(server.url, session="auth") as client:
        frames = await client.chat("hello", timeout=30)
        err = frames[-1]
        assert err["type"] == "error" and err["code"] == "provider_error"
        assert err["retryable"] is False and err["request"]
        assert len(fake_llm.requests) == 1
        ok = await client.chat("again", timeout=30)
        assert ok[-1]["type"] == "session.receive"
        history = await client.request("session.history")
        roles = [i["role"] for i in history["items"]]
        assert roles == ["user", "user", "assistant"]  # the failed turn's message stays


async def test_hang_is_provider_timeout(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("hang,ok")
    cfg = fake_config(config_factory, fake_llm, first_token_timeout_s=0.3, retries=0)
    server = await make_server(cfg)
    async with SpiderwebClient(server.url) as client:
        frames = await client.chat("hello", timeout=30)
        err = frames[-1]
        assert err["type"] == "error" and err["code"] == "provider_timeout"
        assert err["retryable"] is True
        assert (await client.chat("still here", timeout=30))[-1]["type"] == "session.receive"


async def test_stream_deltas_concatenate_for_protocol_two(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer
) -> None:
    fake_llm.reply = lambda req: "word " * 200
    server = await make_server(fake_config(config_factory, fake_llm))
    async with SpiderwebClient(server.url, proto=2) as client:
        frames = await client.chat("long please", timeout=30)
        deltas = [f["delta"] for f in frames if f["type"] == "session.delta"]
        assert frames[-1]["type"] == "session.receive"
        assert "".join(deltas) == frames[-1]["content"] == "word " * 200


async def test_gate_limits_waiters() -> None:
    gate = LlmGate(max_concurrency=1, max_waiting=1, wait_s=5)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            entered.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await entered.wait()
    waiter = asyncio.create_task(hold())
    while gate.waiting == 0:
        await asyncio.sleep(0)
    with pytest.raises(GateBusy):
        async with gate.slot():
            pass
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, waiter), 5)


async def test_gate_wait_timeout_is_busy() -> None:
    gate = LlmGate(max_concurrency=1, max_waiting=4, wait_s=0.05)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    with pytest.raises(GateBusy):
        async with gate.slot():
            pass
    release.set()
    await asyncio.wait_for(holder, 5)


async def test_gate_hands_slots_to_waiters_in_order_and_counts_them_back() -> None:
    gate = LlmGate(max_concurrency=2, max_waiting=8, wait_s=5)
    order: list[int] = []
    release = asyncio.Event()

    async def use(i: int) -> None:
        async with gate.slot():
            order.append(i)
            await release.wait()

    first = [asyncio.create_task(use(i)) for i in range(2)]
    while len(order) < 2:
        await asyncio.sleep(0)
    queued = [asyncio.create_task(use(i)) for i in range(2, 6)]
    while gate.waiting < 4:
        await asyncio.sleep(0)
    assert gate.free == 0 and not gate.try_acquire()
    queued[1].cancel()  # a cancelled waiter gives up its place, not a slot
    release.set()
    await asyncio.wait_for(asyncio.gather(*first, *queued, return_exceptions=True), 5)
    assert order == [0, 1, 2, 4, 5]
    assert gate.free == 2 and gate.waiting == 0 and gate.try_acquire()
    gate.release()


async def test_gate_slot_handed_to_a_cancelled_waiter_goes_back() -> None:
    gate = LlmGate(max_concurrency=1, max_waiting=2, wait_s=5)
    assert gate.try_acquire()
    waiter = asyncio.create_task(gate.acquire())
    while gate.waiting == 0:
        await asyncio.sleep(0)
    gate.release()  # handed to the waiter...
    waiter.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.free == 1 and gate.waiting == 0
