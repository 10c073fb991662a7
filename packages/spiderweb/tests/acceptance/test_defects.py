"""§14 upstream defects, each shown end to end on a real server (unit tests live beside
the modules; these prove the fix holds over the wire)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from groundwork.llm.fake.server import FakeLLMServer
from spiderweb.client import SpiderwebClient
from websockets.asyncio.client import connect as ws_connect

from .conftest import SPIDERWEB, cli_env


async def test_d1_long_chat_never_wipes_the_context(make_server: Any, config_factory: Any) -> None:
    """D1: after 40 turns (80 entries + tombstones) the context still holds recent turns."""
    server = await make_server(config_factory(limits={"rate_per_s": 0}))  # turns back to back
    async with SpiderwebClient(server.url, session="d1") as client:
        for i in range(40):
            reply = await client.chat(f"turn number {i}", timeout=10)
            assert reply[-1]["type"] == "session.receive"
        items = (await client.request("memory.recall", limit=128))["items"]
    entries = [i for i in items if i["kind"] == "entry" and i["source"] == "ram"]
    assert entries and all(e["state"] == "active" for e in entries)
    assert 1 < len(entries) <= 64
    assert any("turn number 39" in e["content"] for e in entries)


async def test_d2_big_reply_is_kept_truncated_not_self_evicted(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer
) -> None:
    """D2: a > 16 KiB reply stays (truncated) in RAM; client and transcript get it whole."""
    big = "long reply " * 1700  # ~18.7 KiB
    fake_llm.reply = lambda req: big
    provider = {"name": "openai-compatible", "model": "m", "base_url": fake_llm.url}
    server = await make_server(config_factory(provider=provider))
    async with SpiderwebClient(server.url, session="d2") as client:
        reply = (await client.chat("say a lot", timeout=30))[-1]
        assert reply["type"] == "session.receive" and reply["content"] == big
        items = (await client.request("memory.recall", limit=128))["items"]
        history = (await client.request("session.history"))["items"]
    ram = {i["id"]: i for i in items if i["kind"] == "entry" and i["source"] == "ram"}
    mine = ram[reply["memoryId"]]
    assert mine["state"] == "active" and mine["role"] == "assistant"
    assert "…[truncated " in mine["content"] and len(mine["content"].encode()) <= 8192
    assert big.startswith(mine["content"].split(" …[truncated ")[0])
    assert history[-1]["content"] == big


async def test_d17_manager_runs_after_non_user_appends(
    make_server: Any, config_factory: Any
) -> None:
    """D17: one /goal (plan, 4 results, answer: no further user message) triggers a summary."""
    cfg = config_factory(memory={"max_context_messages": 8, "auto_snapshot_min_interval_s": 0})
    server = await make_server(cfg)
    async with SpiderwebClient(server.url, session="d17") as client:
        rid = await client.send("chat.send", content="/goal a; b; c; d; e")
        frames = await client.collect(lambda f: f.get("type") == "memory.event", 30)
    # The goal's plan, results and answer were the only appends after the one user frame.
    assert frames[-1]["event"] == "summarize" and frames[-1]["count"] >= 1
    assert [f for f in frames if f.get("request") == rid and f["type"] == "session.receive"]


async def test_d20_sql_metacharacters_round_trip(server: Any, tmp_path: Path) -> None:
    """D20: bound parameters only: quotes and statements in content are stored as text."""
    evil = "x'); DROP TABLE messages; -- \" ; DELETE FROM sessions; '"
    async with SpiderwebClient(server.url, session="d20") as client:
        await client.chat(evil, timeout=10)
        history = (await client.request("session.history"))["items"]
        assert history[0]["content"] == evil
        found = await client.request("memory.query", topic="DROP TABLE")
        assert any(evil in i.get("content", "") for i in found["items"])
    with sqlite3.connect(tmp_path / ".spiderweb-ltm" / "memory.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"messages", "sessions", "entries", "ram_snapshots"} <= tables


async def test_d21_prune_runs_after_each_archive_not_only_at_startup(
    make_server: Any, config_factory: Any, tmp_path: Path
) -> None:
    """D21: with keep_snapshots=3, six /new archives leave 3 snapshots and no orphans."""
    server = await make_server(config_factory(ltm={"keep_snapshots": 3}))
    async with SpiderwebClient(server.url, session="d21") as client:
        for i in range(6):
            await client.chat(f"before reset {i}", timeout=10)
            reset = await client.request("session.new")
            assert reset["archived"] is True
    db = sqlite3.connect(tmp_path / ".spiderweb-ltm" / "memory.db")
    try:
        snaps = db.execute(
            "SELECT COUNT(*) FROM ram_snapshots WHERE session_id = ?", ("d21",)
        ).fetchone()
        orphans = db.execute(
            "SELECT COUNT(*) FROM entries WHERE snapshot_id NOT IN (SELECT id FROM ram_snapshots)"
        ).fetchone()
        events = db.execute(
            "SELECT COUNT(*) FROM ltm_events WHERE session_id = ? AND event_type = 'snapshot'",
            ("d21",),
        ).fetchone()
    finally:
        db.close()
    assert snaps == (3,) and orphans == (0,) and events[0] >= 6


async def test_d8_protocol_ping_and_close_are_answered(server: Any) -> None:
    """D8: a control ping gets a pong (not a binary frame); a client close is echoed."""
    async with ws_connect(server.url + "/v1/agents/a/stream?session=d8") as ws:
        json.loads(await asyncio.wait_for(ws.recv(), 10))
        latency = await asyncio.wait_for(await ws.ping(b"hi"), 10)
        assert latency >= 0
        await ws.close(1000, "bye")
        echoed = ws.protocol.close_rcvd
        assert echoed is not None and echoed.code == 1000


async def test_d25_spiderweb_config_env_is_read(tmp_path: Path) -> None:
    """D25: $SPIDERWEB_CONFIG names the config file the CLI uses."""
    config = tmp_path / "elsewhere.json"
    config.write_text(json.dumps({"provider": {"name": "mock", "model": "from-env"}}))
    env = cli_env(tmp_path) | {"SPIDERWEB_CONFIG": str(config)}
    outs = []
    for args in (["config", "path", "--json"], ["config", "show", "--json"]):
        proc = await asyncio.create_subprocess_exec(
            *SPIDERWEB, *args, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0
        outs.append(json.loads(out))
    assert Path(outs[0]["path"]) == config
    assert outs[1]["provider"]["model"] == "from-env"
