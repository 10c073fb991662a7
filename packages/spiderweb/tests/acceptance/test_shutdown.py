"""Acceptance 14 with a goal *running* at SIGTERM: real subprocess, fake LLM that hangs (§6)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from groundwork.llm.fake.server import FakeLLMServer
from spiderweb.client import SpiderwebClient

from .conftest import EXIT_S, Serving

PLAN = {
    "tasks": [
        {"title": "look around", "kind": "research", "depends_on": []},
        {"title": "do the thing", "kind": "execution", "depends_on": []},
        {"title": "report back", "kind": "status", "depends_on": []},
    ]
}


def write_config(path: Path, fake: FakeLLMServer) -> Path:
    config = {
        "provider": {"name": "openai-compatible", "model": "m", "base_url": fake.url},
        "shutdown": {"grace_s": 0.5},
        "workers": {"task_timeout_s": 120},
    }
    path.write_text(json.dumps(config))
    return path


async def test_sigterm_mid_goal_saves_it_and_restart_returns_it_paused(
    serving: Serving, tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    fake_llm.reply = lambda req: json.dumps(PLAN)
    fake_llm.script("ok,hang,hang,hang,hang")  # the plan, then every worker call hangs
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.json", fake_llm)
    async with (
        serving(data, "--config", str(config)) as proc,
        SpiderwebClient(proc.url, session="mid", proto=2) as client,
    ):
        rid = await client.send("chat.send", content="/goal look, do and report")
        frames = await client.collect(
            lambda f: f.get("request") == rid and f.get("phase") == "workers.dispatching", 20
        )
        plan = next(f for f in frames if f["type"] == "agent.plan")
        assert plan["planner"] == "llm" and len(plan["tasks"]) == 3
        started: list[dict[str, Any]] = []
        while len(started) < 2:  # max_parallelism 2: two run, one waits
            frame = await client.recv(20)
            if frame.get("status") == "started":
                started.append(frame)
        state = await client.request("agent.control", action="state")
        assert (state["queuedTasks"], state["activeTasks"]) == (1, 2)
        assert state["goalState"] == "running"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
        code, _ = await client.closed(10)
        assert code == 1001
    saved = json.loads((data / ".spiderweb-session-state.json").read_text())
    assert saved["version"] == 2
    (mid,) = [s for s in saved["sessions"] if s["session_id"] == "mid"]
    assert (mid["workerQueueDepth"], mid["workerActiveTasks"]) == (3, 0)
    async with serving(data, "--provider", "mock") as proc:
        async with SpiderwebClient(proc.url, session="mid", proto=2) as client:
            progress = await client.recv(10)
            assert progress["phase"] == "reconnect" and progress["source"] == "state"
            assert progress["status"] == "backpressure_resumed"
            assert (progress["queued"], progress["active"]) == (3, 0)
            state = await client.request("agent.control", action="state")
            assert (state["mode"], state["goalState"]) == ("paused", "interrupted")
            assert (state["queuedTasks"], state["activeTasks"]) == (3, 0)
            await client.send("agent.control", action="resume")
            await client.collect(lambda f: f.get("phase") == "workers.ready", 30)
            state = await client.request("agent.control", action="state")
            assert (state["queuedTasks"], state["activeTasks"]) == (0, 0)
            assert state["goalState"] == "completed"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
