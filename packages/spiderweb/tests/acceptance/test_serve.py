"""Acceptance 1 and 4 against ``spiderweb serve`` as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

import pytest
from spiderweb.client import ClientError, SpiderwebClient
from websockets.asyncio.client import connect as ws_connect

from .conftest import EXIT_S, REPLY_S, SPIDERWEB, Serving, cli_env


async def test_serve_prints_its_url_and_the_first_frame_is_the_ack(
    serving: Serving, tmp_path: Path
) -> None:
    async with serving(tmp_path / "data", "--provider", "mock", json_mode=False) as proc:
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", proc.url), proc.url
        async with ws_connect(proc.url + "/v1/agents/a/stream?session=k1") as ws:
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "session.ack"
        assert (ack["sessionKey"], ack["agentId"], ack["protocol"]) == ("k1", "a", 1)
        assert isinstance(ack["capabilities"], list) and "history" in ack["capabilities"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0


async def test_token_from_env_gates_the_upgrade(serving: Serving, tmp_path: Path) -> None:
    env = {"MY_TOKEN": "t0ken-value"}
    args = ("--provider", "mock", "--token-env", "MY_TOKEN")
    async with serving(tmp_path / "data", *args, env=env) as proc:
        for token in (None, "wrong"):
            with pytest.raises(ClientError) as info:
                await SpiderwebClient(proc.url, token=token).connect()
            assert info.value.status == 401
        async with SpiderwebClient(proc.url, token="t0ken-value", session="in") as client:
            assert client.ack is not None and "auth" in client.ack["capabilities"]
            frames = await client.chat("let me in", timeout=REPLY_S)
            assert frames[-1]["type"] == "session.receive"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"])
async def test_non_loopback_bind_without_token_exits_2(tmp_path: Path, bind: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *SPIDERWEB,
        "serve",
        "--bind",
        bind,
        "--port",
        "0",
        "--provider",
        "mock",
        "--data-dir",
        str(tmp_path / "data"),
        env=cli_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert b"listening" not in out
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "SPIDERWEB_TOKEN" in lines[0] and "--insecure-no-auth" in lines[0]


async def test_data_dir_lock_refuses_a_second_server_and_is_taken_over_after_kill_9(
    serving: Serving, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with serving(data, "--provider", "mock") as first:
        proc = await asyncio.create_subprocess_exec(
            *SPIDERWEB, "serve", "--port", "0", "--provider", "mock", "--data-dir", str(data),
            env=cli_env(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1 and b"listening" not in out
        (line,) = err.decode().strip().splitlines()
        assert f"data dir in use by pid {first.pid}" in line
        first.send_signal(signal.SIGKILL)
        await first.wait()
    async with serving(data, "--provider", "mock") as second:
        async with SpiderwebClient(second.url, session="after-kill") as client:
            assert (await client.chat("mine now", timeout=REPLY_S))[-1]["type"] == "session.receive"
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), EXIT_S) == 0
    log = second.log_path.read_text()
    assert "took over a stale data-dir lock" in log and str(first.pid) in log
