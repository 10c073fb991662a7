"""The commit-then-send pipeline: frames wait for their commit, in order; failures reload.

The writer thread's done-callbacks drive delivery (no flusher task), so these
check what the flusher used to guarantee: a failed or stuck commit never sends
the frames that report it, the client hears ``internal``, the session goes on.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from spiderweb.api import SpiderwebServer
from spiderweb.client import SpiderwebClient


def _patch_next_commit(
    server: SpiderwebServer, monkeypatch: pytest.MonkeyPatch, fut: Future[Any]
) -> None:
    """The next ``commit_session`` returns ``fut`` instead of writing; later ones write."""
    assert server.registry is not None
    store = server.registry.s.store
    real = store.commit_session
    calls: list[int] = []

    def fake(*args: Any, **kwargs: Any) -> Future[Any]:
        calls.append(1)
        return fut if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(store, "commit_session", fake)


async def _client(server: SpiderwebServer) -> SpiderwebClient:
    client = SpiderwebClient(server.url, session="pipe")
    await client.connect()
    return client


async def test_a_failed_commit_sends_internal_not_the_reply(
    server: SpiderwebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await _client(server)
    try:
        assert (await client.chat("warm up", timeout=30))[-1]["type"] == "session.receive"
        failed: Future[Any] = Future()
        failed.set_exception(RuntimeError("disk on fire"))
        _patch_next_commit(server, monkeypatch, failed)
        rid = await client.send("chat.send", content="lost")
        frames = await client.collect(lambda f: f.get("type") == "error", timeout=30)
        assert frames[-1]["code"] == "internal"
        assert not any(f.get("request") == rid and f["type"] == "session.receive" for f in frames)
        assert (await client.chat("still here", timeout=30))[-1]["type"] == "session.receive"
    finally:
        await client.close()


async def test_a_stuck_commit_times_out_and_later_frames_wait_for_it(
    server: SpiderwebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert server.registry is not None
    monkeypatch.setattr(server.registry.s, "db_timeout_s", 0.3)
    client = await _client(server)
    try:
        assert (await client.chat("warm up", timeout=30))[-1]["type"] == "session.receive"
        never: Future[Any] = Future()
        _patch_next_commit(server, monkeypatch, never)
        rid = await client.send("chat.send", content="stuck")
        frames = await client.collect(lambda f: f.get("type") == "error", timeout=30)
        assert frames[-1]["code"] == "internal"
        assert not any(f.get("request") == rid for f in frames[:-1])
        assert (await client.chat("after", timeout=30))[-1]["type"] == "session.receive"
        never.set_result(None)  # resolving late delivers nothing twice
        assert (await client.chat("again", timeout=30))[-1]["type"] == "session.receive"
    finally:
        await client.close()
