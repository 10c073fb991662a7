"""The generator's side of a connection: raw ``websockets``, one JSON object per message.

The same code drives spiderweb and the echo baseline, so the echo figures
measure exactly the client work spiderweb's figures include. Every wait has
a timeout; ``abort`` drops the TCP connection without a close handshake (a
client that vanishes mid-turn).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]

__all__ = ["Conn", "ConnectionClosed", "Frame", "close_code", "stream_url"]


def stream_url(
    base: str,
    key: str,
    *,
    agent: str = "bench",
    proto: int = 1,
    resume_from: int | None = None,
) -> str:
    """``ws://host:port`` → the spiderweb stream URL for session ``key``."""
    query: dict[str, str] = {"session": key}
    if proto != 1:
        query["proto"] = str(proto)
    if resume_from is not None:
        query["resume_from"] = str(resume_from)
    return f"{base.rstrip('/')}/v1/agents/{agent}/stream?{urlencode(query)}"


def close_code(exc: ConnectionClosed) -> int:
    """The close code the server sent (1006 when the socket just died)."""
    return exc.rcvd.code if exc.rcvd is not None else 1006


class Conn:
    """One client connection; ``seqs`` records every protocol-2 ``seq`` received."""

    def __init__(self, ws: ClientConnection, key: str) -> None:
        self.ws = ws
        self.key = key
        self.seqs: list[int] = []

    @classmethod
    async def open(
        cls,
        url: str,
        key: str = "",
        *,
        timeout: float = 10.0,
        rcvbuf: int | None = None,
        max_queue: int = 16,
    ) -> Conn:
        """Connect; ``rcvbuf`` shrinks the socket's receive buffer (a slow consumer)."""
        extra: dict[str, Any] = {}
        if rcvbuf is not None:
            parts = urlsplit(url)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await asyncio.wait_for(
                loop.sock_connect(sock, (parts.hostname or "127.0.0.1", parts.port or 80)),
                timeout,
            )
            extra["sock"] = sock
        ws = await connect(
            url,
            open_timeout=timeout,
            max_size=None,
            compression=None,
            ping_interval=None,
            max_queue=max_queue,
            close_timeout=5.0,
            **extra,
        )
        return cls(ws, key)

    async def send(self, frame: Frame) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def recv_text(self, timeout: float) -> str:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return raw if isinstance(raw, str) else raw.decode()

    async def recv(self, timeout: float) -> Frame:
        frame: Frame = orjson.loads(await self.recv_text(timeout))
        seq = frame.get("seq")
        if isinstance(seq, int):
            self.seqs.append(seq)
        return frame

    async def until(self, done: Callable[[Frame], bool], timeout: float) -> list[Frame]:
        """Frames up to and including the first ``done`` one (``TimeoutError`` after)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        frames: list[Frame] = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout:g} s")
            frame = await self.recv(remaining)
            frames.append(frame)
            if done(frame):
                return frames

    async def request(self, frame: Frame, reply: str, timeout: float) -> Frame:
        """Send ``frame`` (which has an ``id``) and return its ``reply`` (or its ``error``)."""
        rid = frame["id"]
        await self.send(frame)
        frames = await self.until(
            lambda f: f.get("request") == rid and f.get("type") in (reply, "error"), timeout
        )
        return frames[-1]

    @property
    def open_(self) -> bool:
        return self.ws.state.name == "OPEN"

    def abort(self) -> None:
        """Drop the TCP connection with no close frame."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 6.0)
