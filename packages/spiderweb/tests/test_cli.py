"""The CLI as real subprocesses: serve/chat, SIGTERM and SIGKILL restarts, reporting commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from spiderweb.client import SpiderwebClient

SPIDERWEB = [sys.executable, "-c", "from spiderweb.cli import main; main()"]
#: Bounds, not sleeps, sized for a loaded 2-core box: start (imports dominate), exit after a
#: signal (10 s shutdown grace + persisting), one mock turn.
STARTUP_S = 90
EXIT_S = 90
REPLY_S = 60


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDERWEB")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg")})
    env.pop("XDG_DATA_HOME", None)
    return env


async def run_cli(home: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *SPIDERWEB,
        *args,
        env=cli_env(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def serving(home: Path, data: Path, *extra: str) -> AsyncIterator[Any]:
    # stderr goes to a file: an unread pipe would fill and stall a chatty server.
    log_path = home / f"serve-{len(list(home.glob('serve-*.log')))}.log"
    log = log_path.open("wb")
    proc = await asyncio.create_subprocess_exec(
        *SPIDERWEB,
        "serve",
        "--port",
        "0",
        "--provider",
        "mock",
        "--data-dir",
        str(data),
        "--json",
        *extra,
        env=cli_env(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        stdin=asyncio.subprocess.DEVNULL,
    )
    log.close()
    assert proc.stdout is not None
    try:  # a loaded 2-core box can take a while to import and start
        line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_S)
    except BaseException:
        proc.kill()  # never leak a server that was slow to start
        await proc.wait()
        raise
    if not line:
        code = await proc.wait()
        raise AssertionError(f"serve exited {code}: {log_path.read_text()}")
    event = json.loads(line)
    assert event["event"] == "listening" and event["port"] > 0
    proc.url = event["url"]  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_serve_and_chat_send(tmp_path: Path) -> None:
    async with serving(tmp_path, tmp_path / "data") as proc:
        code, out, err = await run_cli(
            tmp_path, "chat", proc.url, "--session", "k1", "--send", "hi"
        )
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == "session k1"
        assert lines[1].startswith("Mock reply") and lines[1].endswith(": hi")
        code, out, _ = await run_cli(
            tmp_path, "sessions", "list", "--data-dir", str(tmp_path / "data"), "--json"
        )
        assert code == 0
        sessions = json.loads(out)["sessions"]
        assert [s["session_key"] for s in sessions] == ["k1"]
        assert sessions[0]["message_count"] == 2
        code, out, _ = await run_cli(
            tmp_path, "memory", "recall", "k1", "--data-dir", str(tmp_path / "data"), "--json"
        )
        cli_items = json.loads(out)["items"]
        async with SpiderwebClient(proc.url, session="k1") as client:
            wire = await client.request("memory.recall")
        assert cli_items == wire["items"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0


async def test_chat_cannot_connect_exits_1(tmp_path: Path) -> None:
    code, _, err = await run_cli(tmp_path, "chat", "ws://127.0.0.1:9", "--send", "hi")
    assert code == 1 and len(err.strip().splitlines()) == 1


async def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"server": {"max_connections": "many"}}')
    code, _, err = await run_cli(tmp_path, "serve", "--config", str(cfg), "--port", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "server.max_connections" in err


async def test_missing_provider_key_exits_2_naming_it(tmp_path: Path) -> None:
    args = ("serve", "--port", "0", "--provider", "openai", "--data-dir", str(tmp_path / "d"))
    code, _, err = await run_cli(tmp_path, *args)
    assert code == 2 and "OPENAI_API_KEY" in err


async def test_non_loopback_without_token_exits_2(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        tmp_path,
        "serve",
        "--bind",
        "0.0.0.0",
        "--port",
        "0",
        "--provider",
        "mock",
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert code == 2 and "SPIDERWEB_TOKEN" in err


async def test_sigterm_saves_every_session_and_restart_restores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with serving(tmp_path, data) as proc:
        async with SpiderwebClient(proc.url, session="busy") as client:
            await client.request("agent.control", action="pause")
            rid = await client.send("agent.control", goal="first part and second part")
            await client.collect(
                lambda f: f.get("request") == rid and f.get("phase") == "workers.paused", 10
            )
        async with SpiderwebClient(proc.url, session="idle") as client:
            await client.chat("hello", timeout=REPLY_S)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
    state = json.loads((data / ".spiderweb-session-state.json").read_text())
    assert state["version"] == 2
    by_key = {s["session_id"]: s for s in state["sessions"]}
    assert set(by_key) == {"busy", "idle"}
    assert by_key["busy"]["workerQueueDepth"] == 2 and by_key["busy"]["workerMode"] == "paused"
    async with serving(tmp_path, data) as proc:
        async with SpiderwebClient(proc.url, session="busy") as client:
            progress = await client.recv(10)
            assert progress["phase"] == "reconnect"
            assert progress["status"] == "backpressure_resumed" and progress["queued"] == 2
            assert progress["source"] == "state"
            st = await client.request("agent.control", action="state")
            assert (st["queuedTasks"], st["activeTasks"], st["mode"]) == (2, 0, "paused")
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0


async def test_sigkill_loses_no_acknowledged_turn(tmp_path: Path) -> None:
    data = tmp_path / "data"
    turns = 6
    crash = {"session": "crash", "proto": 2}
    async with serving(tmp_path, data) as proc, SpiderwebClient(proc.url, **crash) as c:
        for i in range(turns):
            frames = await c.chat(f"turn {i}", timeout=10, request_id=f"r{i}")
            assert frames[-1]["type"] == "session.receive"
        seen = c.last_seq
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    async with serving(tmp_path, data) as proc:
        async with SpiderwebClient(proc.url, **crash) as client:
            assert client.ack is not None and seen is not None
            assert client.ack["seq"] > seen  # seq blocks: skipped, never reused
            history = await client.request("session.history", limit=100)
            assert len(history["items"]) == 2 * turns
            before = history["items"][-1]["memoryId"]
            again = await client.chat("turn 5", timeout=10, request_id="r5")
            assert again[-1]["memoryId"] == before
            history = await client.request("session.history", limit=100)
            assert len(history["items"]) == 2 * turns
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), EXIT_S)


async def test_config_and_identity_commands(tmp_path: Path) -> None:
    code, out, _ = await run_cli(tmp_path, "config", "path", "--json")
    path = Path(json.loads(out)["path"])
    assert code == 0 and path == tmp_path / "cfg" / "spiderweb" / "config.json"
    code, _, err = await run_cli(tmp_path, "config", "set-provider", "mock", "m1")
    assert code == 0, err
    assert (path.stat().st_mode & 0o777) == 0o600
    code, out, _ = await run_cli(tmp_path, "config", "show", "--json")
    shown = json.loads(out)
    assert shown["provider"]["name"] == "mock" and shown["provider"]["model"] == "m1"
    code, _, err = await run_cli(tmp_path, "config", "set-provider", "nonsense")
    assert code == 2 and len(err.strip().splitlines()) == 1
    data = tmp_path / "d"
    (data / "agents" / "bot").mkdir(parents=True)
    (data / "agents" / "bot" / "SOUL.md").write_text("# Style\nBe brief.\n")
    (data / "USER.md").write_text("# style\nBe verbose.\n")
    code, out, err = await run_cli(
        tmp_path, "identity", "show", "bot", "--data-dir", str(data), "--json"
    )
    shown = json.loads(out)
    assert code == 0 and "Be brief." in shown["prompt"] and "verbose" not in shown["prompt"]
    assert any("shadowed" in w for w in shown["warnings"])


async def test_sigint_exits_130_after_clean_shutdown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with serving(tmp_path, data) as proc:
        async with SpiderwebClient(proc.url, session="int") as client:
            await client.chat("hi", timeout=REPLY_S)
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 130
    state = json.loads((data / ".spiderweb-session-state.json").read_text())
    assert [s["session_id"] for s in state["sessions"]] == ["int"]


async def test_world_readable_key_file_warns(tmp_path: Path) -> None:
    cfg = tmp_path / "key.json"
    cfg.write_text('{"provider": {"name": "mock", "api_key": "sk-secret-1234"}}')
    cfg.chmod(0o644)
    code, out, err = await run_cli(tmp_path, "config", "show", "--config", str(cfg), "--json")
    assert code == 0 and "readable by others" in err
    assert json.loads(out)["provider"]["api_key"] == "***" and "sk-secret" not in out
    cfg.chmod(0o600)
    code, _, err = await run_cli(tmp_path, "config", "show", "--config", str(cfg), "--json")
    assert code == 0 and "readable by others" not in err


async def test_serve_warns_about_a_missing_workspace(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    async with serving(tmp_path, tmp_path / "data", "--workspace", str(missing)) as proc:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
    log = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert f"tools.workspace {str(missing)!r} is not a directory" in log
    async with serving(tmp_path, tmp_path / "data", "--workspace", str(tmp_path)) as proc:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
    log = sorted(tmp_path.glob("serve-*.log"))[-1].read_text()
    assert "is not a directory" not in log


async def test_chat_help_is_answered_by_the_client_not_sent(tmp_path: Path) -> None:
    async with serving(tmp_path, tmp_path / "data") as proc:
        code, out, err = await run_cli(
            tmp_path, "chat", proc.url, "--session", "k2", "--send", "/help", "--send", "hi"
        )
        assert code == 0, err
        assert "/goal TEXT" in out and "/quit" in out
        assert out.splitlines()[-1].endswith(": hi")
        code, out, _ = await run_cli(
            tmp_path, "sessions", "list", "--data-dir", str(tmp_path / "data"), "--json"
        )
        assert [s["message_count"] for s in json.loads(out)["sessions"]] == [2]  # hi + reply
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
