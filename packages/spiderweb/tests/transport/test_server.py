"""Gateway behaviour that needs real sockets: slow consumers, protocol fuzz (acceptance 3, 19)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spiderweb.client import SpiderwebClient
from spiderweb.transport.outbox import CLOSE_TRY_AGAIN_LATER
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


async def test_slow_consumer_is_closed_1013_others_unaffected(
    make_server: Any, config_factory: Any
) -> None:
    cfg = config_factory(limits={"outbox_frames": 8, "rate_per_s": 0})
    server = await make_server(cfg)
    base = server.url + "/v1/agents/a/stream"
    async with SpiderwebClient(server.url, session="slow") as setup:
        for i in range(30):
            await setup.chat(f"{i} " + "x" * 4000, timeout=10)
    bystander = SpiderwebClient(server.url, session="fine")
    await bystander.connect()
    async with ws_connect(base + "?session=slow", max_queue=1, compression=None) as slow:
        for _ in range(200):
            try:
                await slow.send('{"type":"session.history","limit":500}')
            except ConnectionClosed:
                break
        actor = server.registry.get("slow")
        for _ in range(500):
            link = actor.link if actor is not None else None
            if link is None or link.outbox.close_code == CLOSE_TRY_AGAIN_LATER:
                break
            await asyncio.sleep(0.01)
        code = None
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        assert code == CLOSE_TRY_AGAIN_LATER
    for i in range(5):
        frames = await bystander.chat(f"still fine {i}", timeout=10)
        assert frames[-1]["type"] == "session.receive"
    await bystander.close()


frames_strategy = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=40),
    st.builds(
        lambda t, extra: json.dumps({"type": t, **extra}),
        st.sampled_from(
            [
                "chat.send",
                "agent.control",
                "memory.recall",
                "memory.query",
                "session.history",
                "session.restore",
                "agent.get",
                "ping",
                "nope",
                "",
            ]
        ),
        st.dictionaries(
            st.sampled_from(
                [
                    "content",
                    "text",
                    "limit",
                    "action",
                    "id",
                    "kind",
                    "topic",
                    "memoryIds",
                    "sessionKey",
                    "agentId",
                    "beforeId",
                    "archive",
                ]
            ),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-3, 600),
                st.text(max_size=10),
                st.lists(st.integers(0, 5), max_size=3),
            ),
            max_size=4,
        ),
    ),
)


async def test_random_frames_get_a_reply_and_socket_stays_open(
    make_server: Any, config_factory: Any
) -> None:
    server = await make_server(config_factory(limits={"rate_per_s": 0}))
    client = SpiderwebClient(server.url, session="fuzz")
    await client.connect()
    sent: list[str | bytes] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(frames_strategy)
    def collect(frame: str | bytes) -> None:
        sent.append(frame)

    collect()
    for frame in sent:
        await client.send_raw(frame)
    marker = await client.send("ping")
    frames = await client.collect(lambda f: f.get("request") == marker, 30)
    assert frames[-1]["type"] == "pong"
    for f in frames:
        assert isinstance(f.get("type"), str)
        if f["type"] == "error":
            assert isinstance(f["code"], str) and f["code"]
    reply = await client.chat("after the fuzz", timeout=30)
    assert reply[-1]["type"] == "session.receive"
    await client.close()


async def test_ignoring_rate_limit_closes_1008(make_server: Any, config_factory: Any) -> None:
    server = await make_server(config_factory(limits={"rate_per_s": 0.001, "rate_burst": 1}))
    client = SpiderwebClient(server.url)
    await client.connect()
    for _ in range(260):
        try:
            await client.send_raw('{"type":"ping"}')
        except ConnectionClosed:
            break
    code, _ = await client.closed(10)
    assert code == 1008


async def test_origin_connection_cap_and_query_token(make_server: Any, config_factory: Any) -> None:
    cfg = config_factory(
        server={
            "allowed_origins": ["https://ok.example"],
            "max_connections": 1,
            "allow_query_token": True,
        }
    )
    server = await make_server(cfg, env={"SPIDERWEB_TOKEN": "tok"})
    base = server.url + "/v1/agents/a/stream?access_token=tok"
    try:
        async with ws_connect(base, origin="https://evil.example"):  # type: ignore[arg-type]
            raise AssertionError("must be refused")
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
    async with ws_connect(base, origin="https://ok.example") as ws:  # type: ignore[arg-type]
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "session.ack"
        try:
            async with ws_connect(base):
                raise AssertionError("must be refused")
        except InvalidStatus as exc:
            assert exc.response.status_code == 503


async def test_invalid_utf8_text_frame_closes_1007(make_server: Any) -> None:
    server = await make_server()
    async with ws_connect(server.url + "/v1/agents/a/stream") as ws:
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send(b"\xff\xfe not utf-8", text=True)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 1007
    async with SpiderwebClient(server.url) as other:  # the server stays up
        assert (await other.chat("ok", timeout=10))[-1]["type"] == "session.receive"


async def test_unmasked_client_frame_closes_1002(make_server: Any) -> None:
    server = await make_server()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /v1/agents/a/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101")
    payload = b'{"type":"ping"}'
    writer.write(bytes([0x81, len(payload)]) + payload)  # FIN text frame, *unmasked*
    await writer.drain()
    data = b""
    while True:
        chunk = await asyncio.wait_for(reader.read(4096), 10)
        if not chunk:
            break
        data += chunk
    close_at = data.rfind(b"\x88")  # the server's close frame: opcode 8, unmasked
    assert close_at >= 0
    code = int.from_bytes(data[close_at + 2 : close_at + 4], "big")
    assert code == 1002
    writer.close()
    async with SpiderwebClient(server.url) as other:
        assert (await other.chat("still up", timeout=10))[-1]["type"] == "session.receive"
