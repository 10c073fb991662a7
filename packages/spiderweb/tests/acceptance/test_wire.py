"""§3 / D8 at the byte level: fragmented messages are assembled, RFC 6455 violations the
library detects close 1002, and the server keeps serving (raw sockets, hand-built frames)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import pytest
from spiderweb.client import SpiderwebClient


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """One masked client frame (payload < 126 bytes)."""
    assert len(payload) < 126
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def upgrade(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /v1/agents/a/stream?session=raw HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_frames(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """Server frames (unmasked) until the server closes the TCP stream."""
    frames: list[tuple[int, bytes]] = []
    while True:
        try:
            head = await asyncio.wait_for(reader.readexactly(2), 10)
        except asyncio.IncompleteReadError:
            return frames
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await reader.readexactly(8), "big")
        frames.append((head[0] & 0x0F, await reader.readexactly(size)))
        if frames[-1][0] == 0x8:
            return frames


async def next_text(
    reader: asyncio.StreamReader, seen: list[tuple[int, bytes]] | None = None
) -> dict[str, Any]:
    """The next text frame as JSON; control frames read on the way go to ``seen``."""
    while True:
        head = await asyncio.wait_for(reader.readexactly(2), 10)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        payload = await reader.readexactly(size)
        if seen is not None:
            seen.append((head[0] & 0x0F, payload))
        if head[0] & 0x0F == 0x1:
            data: dict[str, Any] = json.loads(payload)
            return data


async def test_fragmented_message_with_a_ping_between_is_assembled(server: Any) -> None:
    reader, writer = await upgrade(server.port)
    assert (await next_text(reader))["type"] == "session.ack"
    text = b'{"type":"ping","id":"frag"}'
    writer.write(frame(0x1, text[:9], fin=False))
    writer.write(frame(0x9, b"mid"))  # a control frame may sit between fragments
    writer.write(frame(0x0, text[9:18], fin=False))
    writer.write(frame(0x0, text[18:]))
    await writer.drain()
    seen: list[tuple[int, bytes]] = []
    pong = await next_text(reader, seen)
    assert pong["type"] == "pong" and pong["request"] == "frag"
    writer.write(frame(0x8, (1000).to_bytes(2, "big") + b"bye"))
    await writer.drain()
    frames = seen + await read_frames(reader)
    assert (0xA, b"mid") in frames  # the ping got a control pong, not a binary frame
    assert frames[-1][0] == 0x8 and int.from_bytes(frames[-1][1][:2], "big") == 1000
    writer.close()


@pytest.mark.parametrize(
    "bad",
    [frame(0x3, b"reserved opcode"), frame(0x1, b'{"type":"ping"}', rsv=4)],
    ids=["reserved-opcode", "rsv1-without-extension"],
)
async def test_protocol_violation_closes_1002_and_server_serves_on(server: Any, bad: bytes) -> None:
    reader, writer = await upgrade(server.port)
    assert (await next_text(reader))["type"] == "session.ack"
    writer.write(bad)
    await writer.drain()
    frames = await read_frames(reader)
    assert frames and frames[-1][0] == 0x8
    assert int.from_bytes(frames[-1][1][:2], "big") == 1002
    writer.close()
    async with SpiderwebClient(server.url, session="after") as other:
        assert (await other.chat("still up", timeout=10))[-1]["type"] == "session.receive"
