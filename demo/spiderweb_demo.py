"""spiderweb end to end: serve, chat, run a goal, restart, restore.

Starts `spiderweb serve` as a real subprocess (mock provider, a temp data dir,
this repository's docs/ as the workers' sandboxed workspace), chats and hands
the agent a goal over a real WebSocket, stops the server with SIGTERM, starts
a new one on the same data dir and reconnects with the same session key: the
session comes back with its history.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from spiderweb.client import SpiderwebClient

ROOT = Path(__file__).resolve().parents[1]
SPIDERWEB = Path(sys.executable).parent / "spiderweb"
SESSION = "demo-session"


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [str(SPIDERWEB), "serve", "--port", "0", "--json", "--provider", "mock",
         "--data-dir", str(data_dir), "--workspace", str(ROOT / "docs")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        raise SystemExit(f"spiderweb serve exited with {server.wait()} before listening")
    url = json.loads(line)["url"]
    print(f"server pid {server.pid} listening on {url}")
    return server, url


def stop_server(server: subprocess.Popen[str]) -> int:
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=30)
    print(f"server stopped by SIGTERM, exit {code}")
    return code


def describe(frame: dict[str, Any]) -> str:
    kind = frame.get("type", "?")
    if kind == "agent.plan":
        tasks = "; ".join(f"{t['id']}. {t['title']} [{t['status']}]" for t in frame["tasks"])
        return f"plan ({frame.get('planner')}): {tasks}"
    if kind == "agent.progress":
        return f"progress {frame['phase']}/{frame['status']}: {frame.get('message', '')}"
    if kind == "agent.status":
        return f"task {frame['taskId']} {frame['status']}: {frame.get('message', '')}"
    if kind == "agent.state":
        return f"state {frame['phase']} queued={frame['queuedTasks']} active={frame['activeTasks']}"
    if kind == "session.receive":
        return f"reply #{frame['memoryId']}: {frame['content']}"
    return str(kind)


async def first_run(url: str) -> None:
    async with SpiderwebClient(url, session=SESSION) as client:
        print(f"attached: {client.ack}")
        for frame in await client.chat("hello, what can you do?"):
            print("  " + describe(frame))
        goal = "list the groundwork docs; search them for atomic_write; report status"
        print(f"goal: {goal}")
        for frame in await client.chat(f"/goal {goal}"):
            print("  " + describe(frame))


async def second_run(url: str) -> int:
    async with SpiderwebClient(url, session=SESSION) as client:
        ack = client.ack or {}
        print(f"re-attached: restored={ack.get('restored')} key={ack.get('sessionKey')}")
        frame = await client.recv(10)
        print("  " + describe(frame))
        history = await client.request("session.history", limit=50)
        items = history.get("items", [])
        print(f"history after restart: {len(items)} messages")
        for item in items:
            print(f"  {item['role']:>9}: {item['content'][:70]}")
        return 0 if ack.get("restored") and len(items) >= 4 else 1


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="spiderweb-demo-") as tmp:
        data_dir = Path(tmp) / "data"
        server, url = start_server(data_dir)
        try:
            asyncio.run(first_run(url))
        finally:
            code = stop_server(server)
        if code != 0:
            return code
        server, url = start_server(data_dir)
        try:
            result = asyncio.run(second_run(url))
        finally:
            stop_server(server)
    print("spiderweb demo: session restored after restart" if result == 0 else "demo FAILED")
    return result


if __name__ == "__main__":
    sys.exit(main())
