"""§6 idempotency beyond ``chat.send``: a re-sent session-changing request (same ``id``) gets
the same answer and changes nothing — ``/new``, ``session.new``/``session.reset``,
``agent.control`` pause/resume/cancel/clear and goal/plan — also after a restart and after
SIGKILL. Real server on 127.0.0.1, real websockets clients."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from spiderweb.client import SpiderwebClient
from spiderweb.memory.store import open_store
from spiderweb.session import dedup

from .conftest import Serving

Frame = dict[str, Any]


def strip(frame: Frame) -> Frame:
    """A frame without its per-send stamps (protocol 2 ``seq``/``ts``)."""
    return {k: v for k, v in frame.items() if k not in ("seq", "ts")}


async def answers(client: SpiderwebClient, rid: str) -> list[Frame]:
    """Every frame echoing ``rid`` until a ``ping`` sent after it is answered."""
    marker = await client.send("ping")
    frames = await client.collect(lambda f: f.get("request") == marker, 20)
    return [f for f in frames if f.get("request") == rid]


async def ram_contents(client: SpiderwebClient) -> list[str]:
    reply = await client.request("memory.recall", include_archived=False, limit=128)
    return [i["content"] for i in reply["items"] if i["kind"] == "entry"]


def snapshot_count(data: Path, key: str) -> int:
    store = open_store(data)
    try:
        return len(store.snapshots(key))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("frame", "reply_type"),
    [
        ({"type": "chat.send", "content": "/new"}, "session.new"),
        ({"type": "session.new"}, "session.new"),
        ({"type": "session.reset", "reason": "retry-test"}, "session.reset"),
    ],
    ids=["slash-new", "session.new", "session.reset"],
)
@pytest.mark.parametrize("proto", [1, 2])
async def test_resent_reset_is_answered_not_run_again(
    server: Any, tmp_path: Path, frame: Frame, reply_type: str, proto: int
) -> None:
    key = f"dup-{reply_type}-{proto}"
    async with SpiderwebClient(server.url, session=key, proto=proto) as client:
        await client.chat("before the reset")
        fields = {k: v for k, v in frame.items() if k != "type"}
        await client.send(frame["type"], request_id="reset-1", **fields)
        first = await answers(client, "reset-1")
        snaps = snapshot_count(tmp_path, key)
        await client.chat("after the reset")
        await client.send(frame["type"], request_id="reset-1", **fields)
        again = await answers(client, "reset-1")
        ram = await ram_contents(client)
    assert [f["type"] for f in first] == [reply_type]
    assert first[0]["archived"] is True
    assert [strip(f) for f in again] == [strip(f) for f in first]
    assert "after the reset" in ram  # no second reset wiped it
    assert "before the reset" not in ram  # the first one did run
    assert snapshot_count(tmp_path, key) == snaps  # no second archive


async def test_without_id_every_reset_runs(server: Any) -> None:
    """Dedup needs the client's ``id``: frames without one are separate requests."""
    async with SpiderwebClient(server.url, session="noid") as client:
        for _ in range(2):
            await client.chat("hello")
            await client.send_raw('{"type":"chat.send","content":"/new"}')
            await client.collect(lambda f: f["type"] == "session.new", 10)
            assert await ram_contents(client) == []


async def test_resent_mode_changes_keep_the_later_state(server: Any) -> None:
    """pause(p1), resume(r1), then p1 again: answered as paused, the session stays running."""
    async with SpiderwebClient(server.url, session="modes", proto=2) as client:
        await client.send("agent.control", request_id="p1", action="pause")
        paused = await answers(client, "p1")
        await client.send("agent.control", request_id="r1", action="resume")
        await answers(client, "r1")
        await client.send("agent.control", request_id="p1", action="pause")
        again = await answers(client, "p1")
        state = await client.request("agent.control", action="state")
        await client.send("agent.control", request_id="c1", action="cancel")
        cancelled = await answers(client, "c1")
        await client.send("agent.control", request_id="r1", action="resume")
        resumed_again = await answers(client, "r1")
        after_cancel = await client.request("agent.control", action="state")
    assert [f["phase"] for f in paused] == ["workers.paused"]
    assert [strip(f) for f in again] == [strip(f) for f in paused]
    assert state["mode"] == "running"
    assert [f["phase"] for f in cancelled] == ["workers.cancelled"]
    assert [f["phase"] for f in resumed_again] == ["workers.running"]
    assert after_cancel["mode"] == "cancelled"  # the stale resume did not resume


async def test_resent_clear_does_not_wipe_later_messages(server: Any, tmp_path: Path) -> None:
    async with SpiderwebClient(server.url, session="clear") as client:
        await client.chat("old context")
        await client.send("agent.control", request_id="clr", action="clear")
        first = await answers(client, "clr")
        snaps = snapshot_count(tmp_path, "clear")
        await client.chat("new context")
        await client.send("agent.control", request_id="clr", action="clear")
        again = await answers(client, "clr")
        ram = await ram_contents(client)
    assert [f["phase"] for f in first] == ["workers.ready"]
    assert again == first
    assert "new context" in ram and "old context" not in ram
    assert snapshot_count(tmp_path, "clear") == snaps


async def test_resent_control_goal_plans_once(server: Any) -> None:
    async with SpiderwebClient(server.url, session="cgoal", proto=2) as client:
        await client.send("agent.control", request_id="g1", action="goal", goal="one; two")
        first = await client.collect(
            lambda f: f.get("request") == "g1" and f["type"] == "session.receive", 30
        )
        await answers(client, "g1")  # the trailing execution/complete
        await client.send("agent.control", request_id="g1", action="goal", goal="one; two")
        again = await answers(client, "g1")
        # An absent action is "plan": same id, same treatment.
        await client.send("agent.control", request_id="g1", goal="one; two")
        again += await answers(client, "g1")
        history = (await client.request("session.history"))["items"]
    assert sum(f["type"] == "agent.plan" for f in first) == 1
    assert not [f for f in again if f["type"] in ("agent.plan", "agent.status", "agent.progress")]
    replies = [f for f in again if f["type"] == "session.receive"]
    assert replies and {f["content"] for f in replies} == {first[-1]["content"]}
    assert [i["content"] for i in history if i["role"] == "user"] == ["one; two"]


async def test_resent_reset_after_restart_is_still_answered(
    make_server: Any, tmp_path: Path
) -> None:
    """The replies are committed with the reset: a clean restart keeps them."""
    data = tmp_path / "restart"
    server = await make_server(data_dir=data)
    async with SpiderwebClient(server.url, session="rs") as client:
        await client.chat("before")
        await client.send("session.reset", request_id="rs-1")
        first = await answers(client, "rs-1")
        await client.chat("after")
    await server.stop(grace_s=0)
    again_server = await make_server(data_dir=data)
    async with SpiderwebClient(again_server.url, session="rs") as client:
        await client.send("session.reset", request_id="rs-1")
        again = await answers(client, "rs-1")
        ram = await ram_contents(client)
    assert again == first
    assert "after" in ram


async def test_resent_new_after_sigkill_is_answered_not_run(
    serving: Serving, tmp_path: Path
) -> None:
    """An acknowledged ``/new`` survives SIGKILL together with its reply (§6)."""
    data = tmp_path / "data"
    async with (
        serving(data, "--provider", "mock") as proc,
        SpiderwebClient(proc.url, session="killed", proto=2) as client,
    ):
        await client.chat("before")
        await client.send("chat.send", request_id="n1", content="/new")
        first = await client.collect(lambda f: f.get("request") == "n1", 20)
        await client.chat("after")
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 20)
    snaps = snapshot_count(data, "killed")
    async with (
        serving(data, "--provider", "mock") as proc,
        SpiderwebClient(proc.url, session="killed", proto=2) as client,
    ):
        await client.send("chat.send", request_id="n1", content="/new")
        again = await answers(client, "n1")
        ram = await ram_contents(client)
    assert [strip(f) for f in again] == [strip(first[-1])]
    assert "after" in ram and "before" not in ram
    assert snapshot_count(data, "killed") == snaps


def test_reply_store_is_bounded_and_round_trips() -> None:
    replies: dedup.Replies = {}
    for n in range(dedup.RECENT_REPLIES + 5):
        frame = dedup.StoredReply({"type": "session.new", "request": f"r{n}", "archived": False})
        other = dedup.StoredReply({"type": "agent.progress", "request": "someone-else"})
        assert dedup.remember(replies, f"r{n}", [(frame, False), (other, False)])
    assert len(replies) == dedup.RECENT_REPLIES
    assert "r0" not in replies and f"r{dedup.RECENT_REPLIES + 4}" in replies
    assert all(len(w) == 1 for w in replies.values())  # only frames echoing the id
    assert dedup.from_v2(dedup.to_v2(replies)) == replies
    assert dedup.from_v2([{"request": 1}, "junk", {"request": "x", "frames": [{}]}]) == {}
    assert not dedup.remember(replies, "none", [])
