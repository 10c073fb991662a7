"""Acceptance 15 / issue "kill -9 under load loses no acknowledged message" (§6)."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field
from pathlib import Path

from spiderweb.client import SpiderwebClient
from websockets.exceptions import ConnectionClosed

from .conftest import EXIT_S, REPLY_S, Serving

SESSIONS = 8


@dataclass
class Acked:
    """What one client was told was committed before the server died."""

    users: set[str] = field(default_factory=set)  # request ids with a chat.ack
    replies: dict[str, str] = field(default_factory=dict)  # request id -> session.receive text


async def chat_until_killed(client: SpiderwebClient, key: str, acked: Acked) -> None:
    """Send turns back to back (one always in flight) until the socket dies."""
    try:
        for i in range(10_000):
            rid = await client.send("chat.send", request_id=f"{key}-{i}", content=f"{key} #{i}")
            while True:
                frame = await client.recv(REPLY_S)
                if frame.get("request") != rid:
                    continue
                if frame["type"] == "chat.ack":
                    acked.users.add(rid)
                elif frame["type"] == "session.receive":
                    acked.replies[rid] = frame["content"]
                    break
                elif frame["type"] == "error":
                    raise AssertionError(f"turn {rid} failed: {frame}")
    except (ConnectionClosed, OSError):
        return


async def test_sigkill_under_concurrent_load_loses_no_acknowledged_message(
    serving: Serving, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    acked = {f"load{n}": Acked() for n in range(SESSIONS)}
    async with serving(data, "--provider", "mock") as proc:
        clients = [SpiderwebClient(proc.url, session=k, proto=2) for k in acked]
        for c in clients:
            await c.connect()
        loops = [
            asyncio.create_task(chat_until_killed(c, k, acked[k]))
            for c, k in zip(clients, acked, strict=True)
        ]
        while sum(len(a.replies) for a in acked.values()) < 5 * SESSIONS:
            await asyncio.sleep(0.02)
            assert not any(t.done() for t in loops), "a client stopped before the kill"
        proc.send_signal(signal.SIGKILL)  # mid-flight: every session has a turn running
        assert await proc.wait() == -signal.SIGKILL
        await asyncio.wait_for(asyncio.gather(*loops), EXIT_S)
    async with serving(data, "--provider", "mock") as proc:
        for key, got in acked.items():
            async with SpiderwebClient(proc.url, session=key, proto=2) as client:
                history = await client.request("session.history", limit=500)
                items = history["items"]
                users = {i["request"] for i in items if i["role"] == "user"}
                replies = {i["request"]: i["content"] for i in items if i["role"] == "assistant"}
                assert got.users <= users, f"{key}: acknowledged user messages lost"
                for rid, text in got.replies.items():
                    assert replies.get(rid) == text, f"{key}: acknowledged reply {rid} lost"
                ids = [i["memoryId"] for i in items]
                assert ids == sorted(set(ids)), f"{key}: memory ids repeat or go back"
                # A re-sent acknowledged request is answered from the store: no second turn.
                last = max(got.replies, key=lambda r: int(r.rsplit("-", 1)[1]))
                again = await client.chat(f"{key} again", request_id=last, timeout=REPLY_S)
                assert again[-1]["type"] == "session.receive"
                assert again[-1]["content"] == got.replies[last]
                after = await client.request("session.history", limit=500)
                assert len(after["items"]) == len(items)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
