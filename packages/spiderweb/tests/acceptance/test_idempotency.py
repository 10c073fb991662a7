"""§6 idempotency for ``/goal``: a re-sent ``chat.send`` with the same ``id`` (a client
retrying after a drop or a crash) never plans or runs a second goal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from spiderweb.client import SpiderwebClient
from spiderweb.session.services import TaskOutcome

GOAL = "/goal first; second"


async def quiet_after(client: SpiderwebClient) -> list[dict[str, Any]]:
    marker = await client.send("ping")
    return await client.collect(lambda f: f.get("request") == marker, 10)


async def test_resent_answered_goal_replays_the_answer_only(server: Any) -> None:
    async with SpiderwebClient(server.url, session="idem", proto=2) as client:
        await client.send("chat.send", request_id="g1", content=GOAL)
        first = await client.collect(
            lambda f: f.get("request") == "g1" and f["type"] == "session.receive", 20
        )
        await quiet_after(client)  # let the trailing execution/complete arrive
        before = (await client.request("session.history"))["items"]
        await client.send("chat.send", request_id="g1", content=GOAL)
        again = await client.collect(
            lambda f: f.get("request") == "g1" and f["type"] == "session.receive", 10
        )
        again += await quiet_after(client)
        after = (await client.request("session.history"))["items"]
    assert not [f for f in again if f["type"] in ("agent.plan", "agent.status")]
    reply = next(f for f in again if f["type"] == "session.receive")
    assert (reply["content"], reply["memoryId"]) == (first[-1]["content"], first[-1]["memoryId"])
    assert after == before


async def test_resent_goal_while_running_or_interrupted_starts_nothing(
    make_server: Any, tmp_path: Path
) -> None:
    gate = asyncio.Event()

    async def gated(_req: Any) -> TaskOutcome:
        await gate.wait()
        return TaskOutcome("complete", "done")

    data = tmp_path / "idem"
    server = await make_server(data_dir=data, task_runner=gated)
    async with SpiderwebClient(server.url, session="run", proto=2) as client:
        await client.send("chat.send", request_id="g2", content=GOAL)
        await client.collect(lambda f: f.get("status") == "started", 10)
        await client.send("chat.send", request_id="g2", content=GOAL)
        frames = await quiet_after(client)
        assert not [f for f in frames if f["type"] == "agent.plan"]
        state = await client.request("agent.control", action="state")
        assert (state["activeTasks"], state["goalState"]) == (2, "running")
    await server.stop(grace_s=0)
    again = await make_server(data_dir=data)
    async with SpiderwebClient(again.url, session="run", proto=2) as client:
        await client.send("chat.send", request_id="g2", content=GOAL)
        frames = await quiet_after(client)
        assert not [f for f in frames if f["type"] in ("agent.plan", "agent.status")]
        state = await client.request("agent.control", action="state")
        assert (state["queuedTasks"], state["goalState"], state["mode"]) == (
            2,
            "interrupted",
            "paused",
        )
    gate.set()
