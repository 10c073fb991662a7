"""``spiderweb chat`` reconnects (§12): a real server subprocess is SIGKILLed and restarted on
the same port under a real ``spiderweb chat`` subprocess. The client backs off (0.5 s, 1 s,
2 s, …), resumes the same session, and neither loses nor duplicates what the user typed —
the message in flight at the kill and the one typed while the server was down."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from groundwork.llm.fake.server import FakeLLMServer
from spiderweb.client import ClientError, ReconnectingClient, SpiderwebClient

from .conftest import EXIT_S, SPIDERWEB, Serving, cli_env

Frame = dict[str, Any]


class Chat:
    """A ``spiderweb chat --json`` subprocess: lines in on stdin, frames out on stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, err_path: Path) -> None:
        self.proc = proc
        self.err_path = err_path
        self.frames: list[Frame] = []

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def until(self, pred: Any, timeout: float = 60) -> Frame:
        """Read frames until one matches (every frame read is kept in ``frames``)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                assert line, f"chat exited {await self.proc.wait()}: {self.stderr()}"
                frame = json.loads(line)
                self.frames.append(frame)
                if pred(frame):
                    return frame

    def stderr(self) -> str:
        return self.err_path.read_text()


def config(path: Path, fake: FakeLLMServer) -> Path:
    path.write_text(
        json.dumps(
            {
                "provider": {"name": "openai-compatible", "model": "m", "base_url": fake.url},
                "memory": {"summarizer": "truncate"},
            }
        )
    )
    return path


async def test_chat_reconnects_after_sigkill_and_keeps_every_message_once(
    serving: Serving, tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    fake_llm.script("ok,hang")  # "first" is answered, "slow" hangs until the kill
    cfg = str(config(tmp_path / "config.json", fake_llm))
    data = tmp_path / "data"
    err_path = tmp_path / "chat.err"
    async with serving(data, "--config", cfg) as first_server:
        port = int(first_server.url.rsplit(":", 1)[1])
        with err_path.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *SPIDERWEB, "chat", first_server.url, "--session", "rc", "--proto", "2", "--json",
                env=cli_env(tmp_path), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err,
            )  # fmt: skip
        chat = Chat(proc, err_path)
        try:
            ack = await chat.until(lambda f: f["type"] == "session.ack")
            assert ack["sessionKey"] == "rc"
            chat.type("first")
            await chat.until(lambda f: f["type"] == "session.receive")
            chat.type("slow")
            slow_ack = await chat.until(lambda f: f["type"] == "chat.ack")
            slow_id = slow_ack["request"]
            first_server.send_signal(signal.SIGKILL)
            await asyncio.wait_for(first_server.wait(), 20)
            chat.type("typed while down")  # must be kept and sent after the reconnect
            async with asyncio.timeout(30):  # at least three failed attempts: 0.5, 1, 2 s
                while chat.stderr().count("reconnecting in") < 3:
                    await asyncio.sleep(0.1)
            async with serving(data, "--config", cfg, "--port", str(port)) as second_server:
                assert second_server.url.endswith(f":{port}")
                interrupted = await chat.until(
                    lambda f: f["type"] == "agent.progress" and f.get("status") == "interrupted"
                )
                assert interrupted["request"] == slow_id  # the re-sent id: reported, not re-run
                down = await chat.until(lambda f: f["type"] == "session.receive")
                chat.type("/history")
                history = await chat.until(lambda f: f["type"] == "session.history.response")
                assert proc.stdin is not None
                proc.stdin.close()  # EOF: the client exits once nothing is pending
                assert await asyncio.wait_for(proc.wait(), EXIT_S) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    users = [i["content"] for i in history["items"] if i["role"] == "user"]
    assert users == ["first", "slow", "typed while down"]
    replies = [i for i in history["items"] if i["role"] == "assistant"]
    assert [r["request"] for r in replies] == [
        next(i["request"] for i in history["items"] if i["content"] == c)
        for c in ("first", "typed while down")
    ]
    assert down["request"] == replies[-1]["request"]
    # Every answer reached the user once: no duplicate session.receive per request.
    received = [f["request"] for f in chat.frames if f["type"] == "session.receive"]
    assert len(received) == len(set(received)) == 2
    err = chat.stderr()
    waits = [float(w) for w in re.findall(r"reconnecting in ([0-9.]+) s", err)]
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0][: len(waits[:4])] and max(waits) <= 8
    assert err.count("reconnected") == 1


async def test_reconnecting_client_gives_up_within_its_bound(make_server: Any) -> None:
    server = await make_server()
    client = ReconnectingClient(server.url, session="gone", give_up_s=1.5)
    await client.connect()
    await server.stop(grace_s=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ClientError, match="gave up reconnecting"):
        await asyncio.wait_for(client.recv(), 20)
    assert loop.time() - started < 10
    await client.close()


async def test_superseded_client_does_not_fight_back(server: Any) -> None:
    """A 4001 close means another client owns the session: reconnecting would loop."""
    client = ReconnectingClient(server.url, session="owned")
    await client.connect()
    async with SpiderwebClient(server.url, session="owned") as other:
        with pytest.raises(ClientError, match="4001"):
            while True:
                await asyncio.wait_for(client.recv(), 20)
        assert (await other.request("ping"))["type"] == "pong"  # still attached
    await client.close()


async def test_rotated_token_is_not_retried(make_server: Any, config_factory: Any) -> None:
    """A 401 on reconnect cannot fix itself: the client stops at once, not after its bound."""
    server = await make_server(env={"SPIDERWEB_TOKEN": "old"})
    port = int(server.url.rsplit(":", 1)[1])
    client = ReconnectingClient(server.url, session="tok", token="old", give_up_s=120)
    await client.connect()
    await server.stop(grace_s=0)
    await make_server(config_factory(server={"port": port}), env={"SPIDERWEB_TOKEN": "new"})
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ClientError, match="401"):
        await asyncio.wait_for(client.recv(), 30)
    assert loop.time() - started < 10
    await client.close()


async def test_message_sent_while_down_is_sent_once_on_reconnect(
    make_server: Any, config_factory: Any, tmp_path: Path
) -> None:
    data = tmp_path / "down"
    server = await make_server(data_dir=data)
    port = int(server.url.rsplit(":", 1)[1])
    client = ReconnectingClient(server.url, session="down", proto=2)
    await client.connect()
    rid = await client.send("chat.send", frozenset({"session.receive"}), content="one")
    await client.wait_for(rid, 20)
    await server.stop(grace_s=0)
    # The socket is gone: the send must not raise, and the message waits for the reconnect.
    rid2 = await client.send("chat.send", frozenset({"session.receive"}), content="two")
    assert rid2 in client.pending
    await make_server(config_factory(server={"port": port}), data_dir=data)
    reply = await client.wait_for(rid2, 30)
    assert reply["type"] == "session.receive" and reply["content"].endswith("two")
    history = await client.send("session.history", frozenset({"session.history.response"}))
    items = (await client.wait_for(history, 20))["items"]
    assert [i["content"] for i in items if i["role"] == "user"] == ["one", "two"]
    assert client.reconnects == 1 and not client.pending
    await client.close()


async def test_bad_uri_and_a_server_without_ack_are_client_errors() -> None:
    """Connect failures are ``ClientError`` (exit 1 with one line), never a traceback."""
    from websockets.asyncio.server import ServerConnection, serve

    with pytest.raises(ClientError, match="cannot connect"):
        await SpiderwebClient("ws://[::1").connect()

    async def silent(ws: ServerConnection) -> None:
        await asyncio.sleep(30)

    async with serve(silent, "127.0.0.1", 0) as mute:
        port = mute.sockets[0].getsockname()[1]
        client = SpiderwebClient(f"ws://127.0.0.1:{port}", open_timeout_s=0.5)
        with pytest.raises(ClientError, match=r"no session\.ack .*timed out"):
            await client.connect()
