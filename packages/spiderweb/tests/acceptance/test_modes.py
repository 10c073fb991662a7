"""§9 mode semantics with tasks *running* (D16: pause/cancel must not only gate dispatch)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from groundwork.llm import MockProvider
from spiderweb.client import SpiderwebClient
from spiderweb.session.services import TaskOutcome


def gated_runner() -> tuple[asyncio.Event, Any]:
    gate = asyncio.Event()

    async def run(_req: Any) -> TaskOutcome:
        await gate.wait()
        return TaskOutcome("complete", "done")

    return gate, run


async def started_tasks(client: SpiderwebClient, n: int) -> list[dict[str, Any]]:
    started: list[dict[str, Any]] = []
    while len(started) < n:
        frame = await client.recv(10)
        if frame["type"] == "agent.progress" and frame.get("status") == "started":
            started.append(frame)
    return started


async def test_pause_lets_running_tasks_finish_and_starts_no_new_one(make_server: Any) -> None:
    gate, run = gated_runner()
    server = await make_server(task_runner=run)
    async with SpiderwebClient(server.url, session="pause") as client:
        await client.send("chat.send", content="/goal one; two; three; four")
        await started_tasks(client, 2)
        paused = await client.request("agent.control", action="pause")
        assert paused["phase"] == "workers.paused"
        assert (paused["queuedTasks"], paused["activeTasks"]) == (2, 2)
        gate.set()
        done: list[dict[str, Any]] = []
        while len(done) < 2:
            frame = await client.recv(10)
            assert frame.get("status") != "started", f"a task started while paused: {frame}"
            if frame["type"] == "agent.status":
                done.append(frame)
        assert [f["status"] for f in done] == ["complete", "complete"]
        marker = await client.send("ping")
        quiet = await client.collect(lambda f: f.get("request") == marker, 10)
        assert not [f for f in quiet if f.get("status") == "started"]
        state = await client.request("agent.control", action="state")
        assert (state["queuedTasks"], state["activeTasks"], state["mode"]) == (2, 0, "paused")
        await client.send("agent.control", action="resume")
        await client.collect(lambda f: f.get("phase") == "workers" and f["status"] == "ready", 10)
        state = await client.request("agent.control", action="state")
        assert (state["queuedTasks"], state["activeTasks"], state["goalState"]) == (
            0,
            0,
            "completed",
        )


async def test_cancel_stops_running_and_queued_tasks_and_stays_cancelled(
    make_server: Any,
) -> None:
    gate, run = gated_runner()
    server = await make_server(task_runner=run)
    async with SpiderwebClient(server.url, session="cancel") as client:
        await client.send("chat.send", content="/goal one; two; three; four")
        await started_tasks(client, 2)
        rid = await client.send("agent.control", action="cancel")
        frames = await client.collect(
            lambda f: f.get("request") == rid and f["type"] == "agent.state", 10
        )
        assert frames[-1]["phase"] == "workers.cancelled"
        assert (frames[-1]["queuedTasks"], frames[-1]["activeTasks"]) == (0, 0)
        statuses = [f["status"] for f in frames if f["type"] == "agent.status"]
        assert statuses == ["cancelled", "cancelled"]  # the running ones, via asyncio cancel
        gate.set()  # nothing is left to finish
        rid = await client.send("chat.send", content="/goal five")
        frames = await client.collect(
            lambda f: f.get("request") == rid and f.get("phase") == "workers.cancelled", 10
        )
        skipped = [f for f in frames if f.get("status") == "skipped"]
        assert skipped and skipped[0]["message"] == "Workers cancelled"
        assert not [f for f in frames if f.get("status") == "started"]
        state = await client.request("agent.control", action="state")
        assert state["mode"] == "cancelled" and state["goalState"] == "cancelled"


@pytest.mark.parametrize(
    "reset",
    [
        {"type": "session.new"},
        {"type": "session.reset"},
        {"type": "chat.send", "content": "/new"},
        {"type": "agent.control", "action": "clear"},
    ],
)
async def test_a_turn_cut_off_by_a_reset_is_reported_interrupted(
    make_server: Any, reset: dict[str, Any]
) -> None:
    """A turn in flight (and one queued behind it) that a reset/clear cancels gets
    `execution/interrupted`, so a client waiting for its `session.receive` is not left hanging."""
    server = await make_server(provider=MockProvider(latency_s=5.0))
    async with SpiderwebClient(server.url, session="cut") as client:
        running = await client.send("chat.send", content="first")
        queued = await client.send("chat.send", content="second")
        fields = dict(reset)
        kind = fields.pop("type")
        rid = await client.send(kind, **fields)
        frames = await client.collect(lambda f: f.get("request") == rid, 10)
        cut = [f for f in frames if f.get("status") == "interrupted"]
        assert [f["request"] for f in cut] == [running, queued]
        assert all(f["phase"] == "execution" and f["type"] == "agent.progress" for f in cut)
        assert not [f for f in frames if f["type"] == "session.receive"]
