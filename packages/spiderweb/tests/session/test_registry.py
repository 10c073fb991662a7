"""Restore order on attach (§6): state, LTM snapshot alone, legacy JSON alone, new."""

from __future__ import annotations

import asyncio
from typing import Any

from spiderweb.client import SpiderwebClient
from spiderweb.memory.legacy import write_legacy_snapshot
from spiderweb.memory.ram import Entry, Summary
from spiderweb.memory.snapshot import Snapshot
from spiderweb.session.registry import new_session_key


def snapshot(key: str, ts: int) -> Snapshot:
    entries = (
        Entry(1, "user", "old question", "active", None, ts),
        Entry(2, "assistant", "old answer", "active", None, ts),
        Entry(3, "system", "[evicted:0] [evicted context entry]", "tombstone", 0, ts),
    )
    return Snapshot(0, key, ts, "manual-reset", 9, entries, (Summary(4, 0, "earlier", ts),))


async def reconnect_source(url: str, key: str) -> tuple[dict[str, Any], SpiderwebClient]:
    client = SpiderwebClient(url, session=key)
    ack = await client.connect()
    assert ack["restored"] is True
    progress = await client.recv(10)
    assert progress["phase"] == "reconnect" and progress["status"] == "state_restored"
    return progress, client


async def test_restore_from_ltm_snapshot_alone(make_server: Any) -> None:
    server = await make_server()
    await asyncio.wrap_future(server.store.archive(snapshot("ltm-only", 1000)))
    progress, client = await reconnect_source(server.url, "ltm-only")
    assert progress["source"] == "ltm"
    assert (progress["restoredEntries"], progress["restoredSummaries"]) == (2, 1)
    frames = await client.chat("new question", timeout=10)
    assert frames[-1]["memoryId"] > 9  # next_id continues after the snapshot's
    await client.close()


async def test_restore_from_legacy_json_alone(make_server: Any, tmp_path: Any) -> None:
    server = await make_server()
    await asyncio.to_thread(write_legacy_snapshot, tmp_path, snapshot("legacy-only", 2000))
    progress, client = await reconnect_source(server.url, "legacy-only")
    assert progress["source"] == "legacy"
    recall = await client.request("memory.recall", include_archived=False)
    contents = [i.get("content") for i in recall["items"] if i["kind"] == "entry"]
    assert contents == ["old answer", "old question"]
    await client.close()


async def test_unknown_key_is_new(make_server: Any) -> None:
    server = await make_server()
    async with SpiderwebClient(server.url, session="brand-new") as client:
        assert client.ack is not None and client.ack["restored"] is False
        assert (await client.chat("hi", timeout=10))[-1]["memoryId"] == 2


def test_generated_keys() -> None:
    keys = {new_session_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(k) == 32 and k.isalnum() for k in keys)


async def test_idle_detached_sessions_are_unloaded_and_restored(
    make_server: Any, config_factory: Any
) -> None:
    server = await make_server(config_factory(session={"idle_ttl_s": 0}))
    async with SpiderwebClient(server.url, session="idle") as client:
        await client.chat("remember me", timeout=10)
    registry = server.registry
    assert registry is not None
    for _ in range(1000):  # the detach is posted when the socket closes
        actor = registry.get("idle")
        if actor is not None and actor.link is None:
            break
        await asyncio.sleep(0.01)
    assert await registry.sweep_idle() == 1
    assert registry.get("idle") is None
    progress, client = await reconnect_source(server.url, "idle")
    assert progress["source"] == "state" and progress["restoredEntries"] == 2
    await client.close()


async def test_concurrent_attaches_share_one_actor(make_server: Any) -> None:
    server = await make_server()
    clients = [SpiderwebClient(server.url, session="race") for _ in range(8)]
    # A client superseded before its ack was sent sees only the 4001 close.
    await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    assert server.registry is not None and len(server.registry) == 1
    survivors = 0
    for client in clients:
        try:
            frames = await client.chat("who is alive?", timeout=5)
        except Exception:
            continue
        survivors += frames[-1]["type"] == "session.receive"
    assert survivors == 1
    for client in clients:
        await client.close()
