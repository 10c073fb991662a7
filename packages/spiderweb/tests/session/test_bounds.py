"""Per-session structures stay bounded over many turns (P9 soak): counts, not RSS.

Each test drives a real server with small configured caps for many more turns
than the caps, then reads the structure's size off the session actor.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from groundwork.llm import MockProvider
from spiderweb.api import SpiderwebServer
from spiderweb.client import SpiderwebClient
from spiderweb.memory.ram import Ram, RamLimits
from spiderweb.session import core, turn_ops
from spiderweb.session.state import SessionState

TURNS = 60
CAPS = {
    "max_context_messages": 6,
    "max_tombstones": 5,
    "max_summaries": 4,
    "auto_snapshot_min_interval_s": 0,
}


async def drive(
    tmp_path: Path, config_factory: Any, *, proto: int, provider: MockProvider | None = None
) -> tuple[SpiderwebServer, SpiderwebClient, list[int]]:
    """Start a server with small caps, run ``TURNS`` turns; returns task counts per 20 turns."""
    cfg = config_factory(memory=CAPS, session={"replay_frames": 16}, limits={"rate_per_s": 0})
    server = SpiderwebServer(cfg, data_dir=tmp_path, env={}, provider=provider)
    await server.start()
    client = SpiderwebClient(server.url, session="bounded", proto=proto)
    await client.connect()
    tasks: list[int] = []
    for i in range(TURNS):
        frames = await client.chat(f"turn {i}: " + "words " * 8, timeout=30)
        assert frames[-1]["type"] == "session.receive", frames[-1]
        if i % 20 == 19:
            await asyncio.sleep(0.05)
            tasks.append(len(asyncio.all_tasks()))
    return server, client, tasks


def the_actor(server: SpiderwebServer) -> Any:
    assert server.registry is not None
    actor = server.registry.get("bounded")
    assert actor is not None
    return actor


async def stop(server: SpiderwebServer, client: SpiderwebClient) -> None:
    await client.close()
    await server.stop(grace_s=0)


@pytest.mark.parametrize("proto", [1, 2])
async def test_actor_structures_bounded_over_many_turns(
    tmp_path: Path, config_factory: Any, monkeypatch: pytest.MonkeyPatch, proto: int
) -> None:
    monkeypatch.setattr(turn_ops, "RECENT_REQUESTS", 8)
    server, client, tasks = await drive(tmp_path, config_factory, proto=proto)
    try:
        actor = the_actor(server)
        ram = actor.state.ram
        assert ram.active_count <= CAPS["max_context_messages"]
        assert ram.tombstone_count <= CAPS["max_tombstones"]
        assert ram.summary_count <= CAPS["max_summaries"]
        # the replay ring keeps the configured number of frames, no more
        assert 0 < len(actor._ring) <= 16
        # idempotency cache: the most recent requests only
        assert len(actor._answered) <= 8
        # commit bookkeeping is drained once the turn's frames went out
        assert not actor._inflight and not actor._p.messages and not actor._p.frames
        assert not actor._turn_queue and actor._turn is None
        # encoded-state caches hold exactly what RAM holds
        ram.state_json_parts()
        assert len(ram._enc_entries) == len(ram.entries)
        assert len(ram._enc_summaries) == len(ram.summaries)
        # no task per turn outlives its turn
        assert tasks[-1] <= tasks[0] + 1, tasks
        assert len(core._background) <= 4
    finally:
        await stop(server, client)


async def test_mock_provider_keeps_only_recent_contexts(
    tmp_path: Path, config_factory: Any
) -> None:
    provider = MockProvider(keep_calls=5)
    server, client, _ = await drive(tmp_path, config_factory, proto=1, provider=provider)
    try:
        assert len(provider.calls) == 5
    finally:
        await stop(server, client)
        await provider.aclose()


def test_state_json_matches_v2_and_caches_stay_bounded() -> None:
    st = SessionState("k", "agent", Ram(RamLimits(6, 16384, 8192, 5, 4)))
    for i in range(200):
        st.ram.update("user" if i % 2 else "assistant", f"message {i} ü", now_ms=i)
        if i % 3 == 0:
            oldest = st.ram.oldest_active(1)[0]
            st.ram.summarize(oldest.id, f"summary of {oldest.id}", now_ms=i)
        encoded = st.to_json()
        assert encoded is not None
        assert orjson.loads(encoded) == st.to_v2()
    assert len(st.ram._enc_entries) == len(st.ram.entries) <= 6 + 5
    assert len(st.ram._enc_summaries) == len(st.ram.summaries) <= 4


def test_kept_encodings_cost_their_length_not_orjsons_buffer() -> None:
    """P9: each cached item encoding is ~200 bytes of JSON, so it must not pin 4 KiB."""
    ram = Ram(RamLimits())
    for i in range(48):
        ram.update("user", f"message {i}", now_ms=i)
    for e in ram.oldest_active(16):
        ram.summarize(e.id, f"summary of {e.id}", now_ms=99)
    tracemalloc.start()
    try:
        parts = ram.state_json_parts()
        del parts
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    items = len(ram._enc_entries) + len(ram._enc_summaries)
    assert items == 64
    assert kept < items * 512, f"{kept / items:.0f} bytes per cached encoding"


def test_state_json_refuses_what_orjson_cannot_write() -> None:
    st = SessionState("k", "agent", Ram())
    st.last_goal = "lone \ud800 surrogate"  # never cleaned on this path: canonical path decides
    assert st.to_json() is None


async def test_duplicate_older_than_the_cache_is_answered_from_the_transcript(
    tmp_path: Path, config_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``RECENT_REQUESTS`` a re-sent ``chat.send`` is found in SQLite, not run again."""
    monkeypatch.setattr(turn_ops, "RECENT_REQUESTS", 4)
    cfg = config_factory(limits={"rate_per_s": 0})
    server = SpiderwebServer(cfg, data_dir=tmp_path, env={})
    await server.start()
    client = SpiderwebClient(server.url, session="bounded")
    await client.connect()
    try:
        first = (await client.chat("the first question", request_id="q-0"))[-1]
        for i in range(1, 10):
            await client.chat(f"question {i}", request_id=f"q-{i}")
        actor = the_actor(server)
        assert "q-0" not in actor._answered and len(actor._answered) <= 4
        next_id = actor.state.ram.next_id
        again = (await client.chat("the first question", request_id="q-0"))[-1]
        assert again["type"] == "session.receive"
        assert (again["memoryId"], again["content"]) == (first["memoryId"], first["content"])
        assert actor.state.ram.next_id == next_id  # nothing appended: no second turn
    finally:
        await stop(server, client)
