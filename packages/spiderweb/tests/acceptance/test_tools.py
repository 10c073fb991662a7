"""Acceptance 11 end to end: an LLM worker (fake server) that tries every escape gets refusals,
and the secret outside the workspace never reaches a frame or a model request."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from groundwork.llm.fake.request import FakeRequest
from groundwork.llm.fake.server import FakeLLMServer
from spiderweb.client import SpiderwebClient

SECRET = "TOPSECRET-7f3a"


def build_tree(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "main.py").write_text("print('inside')\n")
    os.symlink(outside / "secret.txt", ws / "link.txt")
    os.symlink(outside, ws / "linkdir")
    return ws, outside


async def test_llm_worker_cannot_escape_the_workspace(
    make_server: Any, config_factory: Any, fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    ws, outside = build_tree(tmp_path)
    attempts = [
        "../outside/secret.txt",
        str(outside / "secret.txt"),
        "link.txt",
        "linkdir/secret.txt",
        "src/../../outside/secret.txt",
    ]
    replies = iter(
        [json.dumps({"tasks": [{"title": "read the secret", "kind": "execution"}]})]
        + [json.dumps({"tool": "read_file", "args": {"path": p}}) for p in attempts]
        + [json.dumps({"final": "could not read it"})]
    )

    def reply(req: FakeRequest) -> str:
        return next(replies, "the answer")

    fake_llm.reply = reply
    cfg = config_factory(
        provider={"name": "openai-compatible", "model": "m", "base_url": fake_llm.url},
        tools={"workspace": str(ws)},
        workers={"max_steps": 6},
    )
    server = await make_server(cfg)
    async with SpiderwebClient(server.url, session="escape") as client:
        rid = await client.send("chat.send", content="/goal read the secret")
        frames = await client.collect(
            lambda f: f.get("request") == rid and f.get("type") == "session.receive", 60
        )
        status = next(f for f in frames if f["type"] == "agent.status")
        assert status["status"] == "complete" and "could not read it" in status["message"]
    assert SECRET not in json.dumps(frames)
    bodies = json.dumps([r["body"] for r in fake_llm.requests])
    assert SECRET not in bodies
    assert bodies.count("path_escape") >= len(attempts)  # each refused, the model told
