"""Acceptance 2 and 3 on one live connection each (real server, raw and typed clients)."""

from __future__ import annotations

import json
from typing import Any

from spiderweb.client import SpiderwebClient

M10_PLAN_TASK = {"id": int, "title": str, "status": str}
MALFORMED: list[tuple[str | bytes, str]] = [
    ("{not json", "bad_json"),
    ("[1,2,3]", "not_object"),
    ('"just a string"', "not_object"),
    ('{"id":"no-type"}', "invalid_field"),
    ('{"type":7}', "invalid_field"),
    ('{"type":"nope"}', "unknown_type"),
    ('{"type":"ping","id":5}', "invalid_field"),
    (json.dumps({"type": "ping", "id": "x" * 65}), "invalid_field"),
    ('{"type":"session.history","limit":1.5}', "invalid_field"),
    ('{"type":"memory.recall","limit":"5"}', "invalid_field"),
    ('{"type":"memory.query","include_archived":"yes"}', "invalid_field"),
    ('{"type":"chat.send"}', "invalid_field"),
    ('{"type":"chat.send","content":42}', "invalid_field"),
    (b"\x00\x01binary", "unsupported_frame"),
    (json.dumps({"type": "chat.send", "content": "a" * 70 * 1024}), "frame_too_large"),
    (json.dumps({"type": "chat.send", "content": "a" * 4097}), "message_too_large"),
    ('{"type":"agent.control","action":"dance"}', "unsupported_action"),
    ('{"type":"agent.control","action":"goal","goal":"   "}', "invalid_goal"),
]


async def test_every_malformed_frame_on_one_connection_then_a_turn(
    make_server: Any, config_factory: Any
) -> None:
    """One socket takes every malformed kind in a row, answers each, and still chats."""
    server = await make_server(config_factory(limits={"rate_per_s": 0}))
    async with SpiderwebClient(server.url, session="abuse") as client:
        for raw, code in MALFORMED:
            await client.send_raw(raw)
            frame = await client.recv(10)
            assert frame["type"] == "error", (raw[:40], frame)
            assert frame["code"] == code, (raw[:40], frame)
            assert isinstance(frame["message"], str) and frame["message"]
            assert isinstance(frame["retryable"], bool)
        reply = await client.chat("still here?", timeout=10)
        assert reply[-1]["type"] == "session.receive" and "still here?" in reply[-1]["content"]


async def test_wrong_field_error_names_field_and_type(server: Any) -> None:
    async with SpiderwebClient(server.url) as client:
        frame = await client.request("memory.recall", limit="5")
        assert frame["type"] == "error" and frame["code"] == "invalid_field"
        assert "limit" in frame["message"] and "int" in frame["message"]


def shape(frame: dict[str, Any]) -> dict[str, type]:
    return {k: type(v) for k, v in frame.items()}


async def test_goal_frames_carry_m10_fields_with_m10_types(server: Any) -> None:
    """Protocol 1: agent.plan/progress/status/state as M10 typed them (plus additions)."""
    async with SpiderwebClient(server.url, session="gold-goal") as client:
        rid = await client.send("chat.send", content="/goal a; b; c; d; e")
        ready: list[bool] = []

        def answered(f: dict[str, Any]) -> bool:
            """The answer turn's execution/complete comes after workers/ready."""
            if f.get("phase") == "workers" and f.get("status") == "ready":
                ready.append(True)
            done = f.get("phase") == "execution" and f.get("status") != "started"
            return bool(ready) and f.get("request") == rid and done

        frames = await client.collect(answered, 30)
    assert all("seq" not in f and "ts" not in f for f in frames)  # protocol 1: no p2 stamps
    plan = next(f for f in frames if f["type"] == "agent.plan")
    for key, typ in {"request": str, "sessionKey": str, "goal": str, "tasks": list}.items():
        assert isinstance(plan[key], typ), key
    for task in plan["tasks"]:
        assert all(isinstance(task[k], t) for k, t in M10_PLAN_TASK.items()), task
    assert [t["status"] for t in plan["tasks"]] == ["queued"] * 4 + ["dropped"]
    base = {"request": str, "sessionKey": str, "phase": str, "status": str, "message": str}
    for progress in (f for f in frames if f["type"] == "agent.progress"):
        assert all(isinstance(progress[k], t) for k, t in base.items()), progress
    saturated = next(f for f in frames if f.get("status") == "saturated")
    assert all(
        isinstance(saturated[k], int) for k in ("accepted", "total", "dropped", "queued", "active")
    )
    statuses = [f for f in frames if f["type"] == "agent.status"]
    assert len(statuses) == 4
    for st in statuses:
        want = {"request": str, "sessionKey": str, "taskId": int, "worker": str}
        assert all(isinstance(st[k], t) for k, t in want.items()), st
        assert st["status"] in ("complete", "failed", "timeout", "cancelled")
        assert isinstance(st["message"], str)
    state = next(f for f in frames if f["type"] == "agent.state")
    want = {"request": str, "sessionKey": str, "phase": str, "queuedTasks": int}
    assert all(isinstance(state[k], t) for k, t in want.items())
    assert isinstance(state["activeTasks"], int) and isinstance(state["lastGoal"], str)


async def test_memory_event_carries_added_fields(make_server: Any, config_factory: Any) -> None:
    cfg = config_factory(memory={"max_context_messages": 8, "auto_snapshot_min_interval_s": 0})
    server = await make_server(cfg)
    async with SpiderwebClient(server.url, session="events") as client:
        events: list[dict[str, Any]] = []
        for i in range(6):
            frames = await client.chat(f"turn {i}", timeout=10)
            events += [f for f in frames if f["type"] == "memory.event"]
    assert events, "7+ active entries over a limit of 8 must summarize"
    summarize = next(e for e in events if e["event"] == "summarize")
    m10 = {"request": str, "sessionKey": str, "event": str, "status": str, "count": int}
    added = {"activeCount": int, "activeBytes": int, "summaryCount": int, "tombstoneCount": int}
    for key, typ in {**m10, **added, "summarizer": str, "message": str}.items():
        assert isinstance(summarize[key], typ), (key, summarize)
    assert summarize["status"] == "snapshot" and isinstance(summarize["snapshotId"], int)
    assert summarize["message"].startswith("summarized ")
    assert summarize["summarizer"] == "fallback"  # mock provider → truncate summaries


async def test_protocol_two_stamps_every_frame(server: Any) -> None:
    async with SpiderwebClient(server.url, session="p2-gold", proto=2) as client:
        assert client.ack is not None and client.ack["protocol"] == 2
        assert isinstance(client.ack["seq"], int) and isinstance(client.ack["ts"], int)
        assert {"seq", "resume"} <= set(client.ack["capabilities"])
        frames = await client.chat("stamp me", timeout=10)
        frames += [await client.request("ping")]
    seqs = [f["seq"] for f in frames]
    assert seqs == sorted(set(seqs)) and seqs[0] > client.ack["seq"]
    assert all(isinstance(f["ts"], int) for f in frames)
    ack = next(f for f in frames if f["type"] == "chat.ack")
    assert shape(ack) == {
        "type": str,
        "request": str,
        "sessionKey": str,
        "memoryId": int,
        "seq": int,
        "ts": int,
    }
    assert ack["sessionKey"] == "p2-gold"
    deltas = [f for f in frames if f["type"] == "session.delta"]
    reply = next(f for f in frames if f["type"] == "session.receive")
    assert deltas and "".join(d["delta"] for d in deltas) == reply["content"]
    assert [d["index"] for d in deltas] == list(range(len(deltas)))


async def test_rate_limited_errors_name_their_request(
    make_server: Any, config_factory: Any
) -> None:
    """A client can tell which request to retry: every ``rate_limited`` echoes its ``id``."""
    server = await make_server(config_factory(limits={"rate_per_s": 0.01, "rate_burst": 2}))
    async with SpiderwebClient(server.url, session="burst") as client:
        sent = [await client.send("ping", request_id=f"p{i}") for i in range(6)]
        frames = [await client.recv(10) for _ in sent]
    limited = [f for f in frames if f.get("code") == "rate_limited"]
    assert len(limited) == 4 and all(f["retryAfterMs"] > 0 for f in limited)
    assert sorted(f["request"] for f in frames) == sorted(sent)
