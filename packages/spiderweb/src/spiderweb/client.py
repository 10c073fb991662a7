"""A small protocol client for spiderweb (used by ``spiderweb chat``, tests and benches).

It speaks the wire protocol over a real ``websockets`` connection: connect,
read ``session.ack``, send frames with fresh request ids, and collect frames
until the reply to a request arrives. Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Frame = dict[str, Any]
REPLY_TYPES = {
    "memory.recall": "memory.recall",
    "memory.query": "memory.query",
    "session.new": "session.new",
    "session.reset": "session.reset",
    "ping": "pong",
    "session.restore": "session.restore.response",
    "session.history": "session.history.response",
    "agent.list": "agent.list.response",
    "agent.get": "agent.info",
}


class ClientError(Exception):
    """Connecting failed (``status`` is the HTTP status of a refused upgrade, if any)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def stream_url(
    base: str,
    agent: str = "default",
    *,
    session: str | None = None,
    proto: int = 1,
    resume_from: int | None = None,
) -> str:
    """``ws://host:port`` → ``ws://host:port/v1/agents/<agent>/stream?...``."""
    query: dict[str, str] = {}
    if session is not None:
        query["session"] = session
    if proto != 1:
        query["proto"] = str(proto)
    if resume_from is not None:
        query["resume_from"] = str(resume_from)
    url = base.rstrip("/")
    if "/v1/agents/" not in url:
        url += f"/v1/agents/{agent}/stream"
    return url + (("?" + urlencode(query)) if query else "")


class SpiderwebClient:
    """One connection to a spiderweb stream."""

    def __init__(
        self,
        url: str,
        *,
        agent: str = "default",
        session: str | None = None,
        proto: int = 1,
        token: str | None = None,
        resume_from: int | None = None,
        open_timeout_s: float = 10.0,
    ) -> None:
        self.url = stream_url(url, agent, session=session, proto=proto, resume_from=resume_from)
        self.token = token
        self.open_timeout_s = open_timeout_s
        self.ws: ClientConnection | None = None
        self.ack: Frame | None = None
        self.session_key: str | None = session
        self.last_seq: int | None = None
        self.backlog: list[Frame] = []

    async def connect(self) -> Frame:
        """Open the socket and return the ``session.ack``."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            self.ws = await connect(
                self.url,
                additional_headers=headers,
                open_timeout=self.open_timeout_s,
                max_size=None,
                compression=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip()
            raise ClientError(f"server refused the connection: {status} {body}", status) from None
        except (OSError, TimeoutError) as exc:
            raise ClientError(f"cannot connect to {self.url}: {exc}") from None
        ack = await self.recv(self.open_timeout_s)
        if ack.get("type") != "session.ack":
            raise ClientError(f"expected session.ack, got {ack.get('type')}")
        self.ack = ack
        self.session_key = ack.get("sessionKey")
        return ack

    async def __aenter__(self) -> SpiderwebClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def send_raw(self, data: str | bytes) -> None:
        assert self.ws is not None, "connect() first"
        await self.ws.send(data)

    async def send(self, type_: str, *, request_id: str | None = None, **fields: Any) -> str:
        """Send one frame; returns its request id."""
        rid = request_id or secrets.token_hex(8)
        await self.send_raw(orjson.dumps({"type": type_, "id": rid, **fields}).decode())
        return rid

    async def recv(self, timeout: float = 30.0) -> Frame:
        """The next frame (``TimeoutError`` after ``timeout``; ``ConnectionClosed`` at the end)."""
        if self.backlog:
            return self.backlog.pop(0)
        assert self.ws is not None, "connect() first"
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame: Frame = orjson.loads(raw)
        seq = frame.get("seq")
        if isinstance(seq, int):
            self.last_seq = seq if self.last_seq is None else max(self.last_seq, seq)
        return frame

    async def collect(self, done: Callable[[Frame], bool], timeout: float = 30.0) -> list[Frame]:
        """Frames up to and including the first for which ``done`` is true."""
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

    async def request(
        self, type_: str, timeout: float = 30.0, *, reply: str | None = None, **fields: Any
    ) -> Frame:
        """Send a request and return its reply (or the ``error`` for it).

        The reply type comes from ``REPLY_TYPES`` unless ``reply`` names it;
        for other requests the first frame echoing the request id is returned.
        """
        rid = await self.send(type_, **fields)
        want = reply or REPLY_TYPES.get(type_)
        frames = await self.collect(
            lambda f: (
                f.get("request") == rid and (want is None or f.get("type") in (want, "error"))
            ),
            timeout,
        )
        return frames[-1]

    async def chat(self, text: str, timeout: float = 120.0, **fields: Any) -> list[Frame]:
        """Send ``chat.send``; frames until its ``session.receive`` or ``error``."""
        rid = await self.send("chat.send", content=text, **fields)
        return await self.collect(
            lambda f: f.get("request") == rid and f.get("type") in ("session.receive", "error"),
            timeout,
        )

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close; returns its close code and reason."""
        assert self.ws is not None
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code if rcvd else None), (rcvd.reason if rcvd else "")
