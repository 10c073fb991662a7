"""Acceptance 18: ``chat --send`` against a serve subprocess, then the offline ``sessions`` /
``memory`` commands report exactly what the wire reports for the same session."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from spiderweb.client import SpiderwebClient

from .conftest import EXIT_S, SPIDERWEB, Serving, cli_env


async def run(home: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *SPIDERWEB,
        *args,
        env=cli_env(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_chat_send_then_reports_match_the_wire(serving: Serving, tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with serving(data, "--provider", "mock") as proc:
        code, out, err = await run(
            tmp_path, "chat", proc.url, "--session", "rep", "--send", "first", "--send", "/new",
            "--send", "second topic",
        )  # fmt: skip
        assert code == 0, err
        assert out.splitlines()[0] == "session rep" and out.rstrip().endswith(": second topic")
        dd = ("--data-dir", str(data), "--json")
        wire: dict[str, Any] = {}
        async with SpiderwebClient(proc.url, session="rep") as client:
            wire["query"] = await client.request("memory.query", limit=128)
            wire["topic"] = await client.request("memory.query", topic="topic")
            wire["recall"] = await client.request("memory.recall", include_full=True)
            wire["history"] = await client.request("session.history")
        cli: dict[str, Any] = {}
        for name, args in {
            "query": ("memory", "query", "rep", "--limit", "128"),
            "topic": ("memory", "query", "rep", "--topic", "topic"),
            "recall": ("memory", "recall", "rep", "--full"),
            "list": ("sessions", "list"),
        }.items():
            code, out, err = await run(tmp_path, *args, *dd)
            assert code == 0, (name, err)
            cli[name] = json.loads(out)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
    assert cli["query"]["items"] == wire["query"]["items"]
    assert cli["topic"]["items"] == wire["topic"]["items"] and cli["topic"]["topic"] == "topic"
    assert cli["recall"]["items"] == wire["recall"]["items"]
    assert any(i["source"] == "ltm" for i in cli["recall"]["items"])  # the /new snapshot
    (row,) = [s for s in cli["list"]["sessions"] if s["session_key"] == "rep"]
    assert row["message_count"] == len(wire["history"]["items"]) == 4
