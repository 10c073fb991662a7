"""The terminal client's view of goals (`spiderweb chat`): a goal that will not be answered
now (planned while paused or cancelled, or halted by pause/cancel/clear/a reset) stops being
waited for, so `--send "/goal …"` returns and `/quit` does not sit out the 120 s reply wait;
a paused goal's answer still shows once it is resumed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from spiderweb.client import ReconnectingClient
from spiderweb.session.services import TaskOutcome

RECEIVE = frozenset({"session.receive"})
STATE = frozenset({"agent.state"})


def gated_runner() -> tuple[asyncio.Event, Any]:
    gate = asyncio.Event()

    async def run(_req: Any) -> TaskOutcome:
        await gate.wait()
        return TaskOutcome("complete", "done")

    return gate, run


async def control(client: ReconnectingClient, action: str) -> dict[str, Any]:
    rid = await client.send("agent.control", STATE, action=action)
    return await client.wait_for(rid, 20)


@pytest.mark.parametrize("mode", ["pause", "cancel"])
async def test_goal_planned_while_halted_answers_with_its_state(server: Any, mode: str) -> None:
    client = ReconnectingClient(server.url, session=f"planned-{mode}")
    await client.connect()
    await control(client, mode)
    rid = await client.send("chat.send", RECEIVE, content="/goal one; two")
    reply = await client.wait_for(rid, 20)
    assert reply["type"] == "agent.state" and reply["request"] == rid
    assert reply["phase"] == f"workers.{'paused' if mode == 'pause' else 'cancelled'}"
    assert not client.pending
    if mode == "pause":  # resumed, the goal runs and its answer still reaches the client
        await control(client, "resume")
        async with asyncio.timeout(20):
            while True:
                frame = await client.recv()
                if frame["type"] == "session.receive" and frame["request"] == rid:
                    break
    await client.close()


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("agent.control", {"action": "pause"}),
        ("agent.control", {"action": "cancel"}),
        ("agent.control", {"action": "clear"}),
        ("session.new", {}),
        ("chat.send", {"content": "/new"}),
    ],
)
async def test_halting_a_running_goal_stops_waiting_for_it(
    make_server: Any, kind: str, fields: dict[str, Any]
) -> None:
    gate, run = gated_runner()
    server = await make_server(task_runner=run)
    client = ReconnectingClient(server.url, session="halt")
    await client.connect()
    goal = await client.send("chat.send", RECEIVE, content="/goal one; two; three")
    async with asyncio.timeout(20):
        while (await client.recv()).get("status") != "started":
            pass
    want = frozenset({"session.new"}) if "new" in kind + str(fields) else STATE
    rid = await client.send(kind, want, **fields)
    await client.wait_for(rid, 20)
    assert goal not in client.pending  # what `/quit` waits for
    gate.set()
    await client.close()


async def test_a_goal_still_running_is_still_waited_for(server: Any) -> None:
    client = ReconnectingClient(server.url, session="running")
    await client.connect()
    goal = await client.send("chat.send", RECEIVE, content="/goal one; two")
    state = await control(client, "state")  # not a halting control
    assert state["type"] == "agent.state"
    reply = await client.wait_for(goal, 20)
    assert reply["type"] == "session.receive"
    await client.close()
