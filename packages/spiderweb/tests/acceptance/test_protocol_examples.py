"""docs/spiderweb/protocol.md, taken literally: every inbound example is accepted by a real
server (no `error` for its id) on protocol 1 and 2, and every outbound example has exactly
the fields a real frame of its type has (`seq`/`ts` aside, which only protocol 2 carries)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from spiderweb.client import SpiderwebClient

PROTOCOL_MD = Path(__file__).resolve().parents[4] / "docs" / "spiderweb" / "protocol.md"
STAMPS = {"seq", "ts"}
FINAL = ("session.receive", "session.new")


def examples() -> list[dict[str, Any]]:
    frames, inside = [], False
    for line in PROTOCOL_MD.read_text().splitlines():
        if line.startswith("```"):
            inside = line == "```json"
            continue
        if inside and line.strip():
            frames.append(json.loads(line))
    return frames


INBOUND = [f for f in examples() if "id" in f and "request" not in f]
OUTBOUND = [f for f in examples() if f not in INBOUND]


def shape(frame: dict[str, Any]) -> tuple[Any, ...]:
    """What tells two examples of one type apart: progress phase/status, event status…"""
    kind = frame["type"]
    if kind == "agent.progress":
        return kind, frame["phase"], frame["status"]
    if kind == "memory.event":
        return kind, frame["status"]
    if kind == "session.restore.response":
        return kind, frame["found"]
    return (kind,)


async def settle(client: SpiderwebClient, seen: list[dict[str, Any]]) -> None:
    """Collect frames until a ping sent now is answered (everything before it has arrived)."""
    marker = await client.send("ping")
    seen += await client.collect(lambda f: f.get("request") == marker, 30)


async def exercise(server: Any, proto: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    key = f"k{proto}"
    async with SpiderwebClient(server.url, agent="demo", session=key, proto=proto) as client:
        assert client.ack is not None
        seen.append(client.ack)
        for example in INBOUND:
            frame = dict(example)
            if frame["type"] == "session.restore":
                frame["sessionKey"] = key
            await client.send_raw(json.dumps(frame))
            if frame["type"] in ("chat.send", "session.send"):  # its turn or reset, finished
                rid: str = frame["id"]

                def finished(f: dict[str, Any], rid: str = rid) -> bool:
                    return f.get("request") == rid and f["type"] in FINAL

                seen += await client.collect(finished, 60)
            await settle(client, seen)
            if frame.get("action") == "pause":  # let goal g1 run to its answer
                await client.send("agent.control", action="resume")
                seen += await client.collect(
                    lambda f: f.get("request") == "g1" and f["type"] == "session.receive", 60
                )
                await settle(client, seen)
        # what the inbound examples alone do not produce
        await client.send("agent.control", action="pause")
        goal = await client.send("chat.send", content="/goal find the config; summarize it")
        seen += await client.collect(
            lambda f: f.get("request") == goal and f.get("phase") == "workers.paused", 60
        )
        await client.send("agent.heartbeat")  # 2 queued tasks blocked by the pause
        await client.send("agent.control", action="frobnicate")
        await client.send("session.restore", sessionKey="nobody-has-this-key")
        await client.send("agent.control", action="resume")
        await settle(client, seen)
        for i in range(4):  # past 3/4 of max_context_messages: the manager summarizes
            await client.chat(f"message {i} about the config")
        await settle(client, seen)
    async with SpiderwebClient(server.url, agent="demo", session=key, proto=proto) as client:
        await settle(client, seen)  # the reconnect progress frame
    return seen


@pytest.mark.parametrize("proto", [1, 2])
async def test_protocol_md_examples_match_the_wire(
    make_server: Any, config_factory: Any, tmp_path: Path, proto: int
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "config.txt").write_text("the config lives here\n")
    config = config_factory(
        tools={"workspace": str(workspace)},
        memory={"max_context_messages": 8, "auto_snapshot_min_interval_s": 0},
        limits={"rate_per_s": 0},
    )
    server = await make_server(config, data_dir=tmp_path / f"data{proto}")
    seen = await exercise(server, proto)

    rejected = [f for f in seen if f["type"] == "error" and f.get("code") != "unsupported_action"]
    assert rejected == [], rejected
    inbound_ids = {f["id"] for f in INBOUND}
    answered = {f.get("request") for f in seen}
    assert inbound_ids <= answered, inbound_ids - answered

    real: dict[tuple[Any, ...], dict[str, Any]] = {}
    for frame in seen:
        real.setdefault(shape(frame), frame)
        assert (STAMPS & set(frame) == set()) if proto == 1 else ("ts" in frame), frame
    for example in OUTBOUND:
        if proto == 1 and example["type"] in ("chat.ack", "session.delta"):
            assert shape(example) not in real  # protocol 2 only
            continue
        got = real.get(shape(example))
        assert got is not None, f"no real frame like {example}"
        want = set(example) - STAMPS
        if proto == 1 and example["type"] == "session.ack":
            want -= {"replay"}  # the documented ack is protocol 2's
        assert set(got) - STAMPS == want, (example, got)
