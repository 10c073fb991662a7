"""A small protocol client for spiderweb (used by ``spiderweb chat``, tests and benches).

It speaks the wire protocol over a real ``websockets`` connection: connect,
read ``session.ack``, send frames with fresh request ids, and collect frames
until the reply to a request arrives. Every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

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
        except (OSError, TimeoutError, ValueError, WebSocketException) as exc:  # refused, bad URI
            raise ClientError(
                f"cannot connect to {self.url}: {exc or type(exc).__name__}"
            ) from None
        try:
            ack = await self.recv(self.open_timeout_s)
        except (TimeoutError, ConnectionClosed) as exc:
            await self.ws.close()
            why = "timed out" if isinstance(exc, TimeoutError) else f"closed ({exc})"
            raise ClientError(f"no session.ack from {self.url}: {why}") from None
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


# -- a client that comes back ----------------------------------------------------------------
#: Reconnect backoff (spec §12): 0.5 s, doubling, at most 8 s.
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0
#: Give up after this long without a connection (the terminal client then exits 1).
GIVE_UP_S = 300.0
#: Close codes after which reconnecting would be wrong: another client took the
#: session (4001) or the server refused our traffic (1008 policy violation).
NO_RECONNECT = {4001: "another client attached to this session", 1008: "policy violation"}
#: HTTP statuses that a retry cannot fix (bad request, auth, origin, unknown route).
PERMANENT_STATUS = frozenset({400, 401, 403, 404})
#: Answered request ids remembered to drop a second answer after a re-send.
DONE_MEMORY = 512


#: Phases of a goal's own ``agent.state`` after which it is not answered now: it was planned
#: while the workers were paused (it runs on ``resume``) or cancelled (it never runs).
HALTED_PHASES = frozenset({"workers.paused", "workers.cancelled"})
#: Controls whose reply means a pending goal will not be answered (soon, or ever).
HALTING_ACTIONS = frozenset({"pause", "cancel", "clear"})


def is_final(frame: Frame, want: frozenset[str]) -> bool:
    """Does ``frame`` end its request: a wanted type, an ``error``, or an interrupted turn?"""
    kind = frame.get("type")
    if kind in want or kind == "error":
        return True
    # A turn cut off by a server crash or shutdown is reported, not re-run (§6, §18).
    return kind == "agent.progress" and frame.get("status") == "interrupted"


def _is_goal(type_: str, fields: dict[str, Any]) -> bool:
    if type_ == "agent.control":
        return fields.get("action") in (None, "goal", "plan")
    content = fields.get("content", fields.get("text"))
    return type_ in ("chat.send", "session.send") and (
        content == "/goal" or (isinstance(content, str) and content.startswith("/goal "))
    )


def _halts_goals(type_: str, fields: dict[str, Any]) -> bool:
    if type_ == "agent.control":
        return fields.get("action") in HALTING_ACTIONS
    if type_ in ("session.new", "session.reset"):
        return True
    return type_ in ("chat.send", "session.send") and (
        fields.get("content", fields.get("text")) == "/new"
    )


class ReconnectingClient:
    """A connection that comes back after drops and server restarts (``spiderweb chat``).

    On a dropped connection it reconnects with backoff (0.5 → 8 s) to the same
    session key (protocol 2 with ``resume_from`` = the last seq seen, so missed
    frames are replayed), then re-sends, in order and with their original ids,
    every request still waiting for its answer. The server answers a duplicate
    id from what it stored (§6) and starts nothing new, so a message sent before
    or during an outage is neither lost nor run twice; a second answer to a
    request already answered is dropped here. A message typed while the server
    is down is kept and sent on reconnect.
    """

    def __init__(
        self,
        url: str,
        *,
        agent: str = "default",
        session: str | None = None,
        proto: int = 1,
        token: str | None = None,
        give_up_s: float = GIVE_UP_S,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = url
        self.agent = agent
        self.proto = proto
        self.token = token
        self.give_up_s = give_up_s
        self.notice = notice or (lambda _text: None)
        self.client = SpiderwebClient(url, agent=agent, session=session, proto=proto, token=token)
        #: Requests sent and not yet answered: id → (frame text, final reply types).
        self.pending: dict[str, tuple[str, frozenset[str]]] = {}
        #: Pending goals (answered by the goal's ``session.receive``) and pending requests
        #: whose reply halts them (pause, cancel, clear, a reset).
        self._goals: set[str] = set()
        self._halting: set[str] = set()
        self._done: dict[str, frozenset[str]] = {}
        self._up = asyncio.Event()
        self.reconnects = 0

    @property
    def session_key(self) -> str | None:
        return self.client.session_key

    async def connect(self) -> Frame:
        """First connection; a failure raises ``ClientError`` (nothing to come back to)."""
        ack = await self.client.connect()
        self._up.set()
        return ack

    async def close(self) -> None:
        self._up.clear()
        await self.client.close()

    async def send(
        self, type_: str, want: frozenset[str], *, request_id: str | None = None, **fields: Any
    ) -> str:
        """Send a request and remember it until its answer; never raises for a dropped socket."""
        rid = request_id or secrets.token_hex(8)
        text = orjson.dumps({"type": type_, "id": rid, **fields}).decode()
        self.pending[rid] = (text, want)
        if _is_goal(type_, fields):
            self._goals.add(rid)
        elif _halts_goals(type_, fields):
            self._halting.add(rid)
        if self._up.is_set():
            with contextlib.suppress(ConnectionClosed):
                await self.client.send_raw(text)  # else re-sent after the reconnect
        return rid

    async def recv(self) -> Frame:
        """The next new frame, reconnecting as needed; ``ClientError`` when it cannot."""
        while True:
            try:
                frame = await self.client.recv(3600)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                await self._reconnect(exc)
                continue
            rid = frame.get("request")
            if not isinstance(rid, str):
                return frame
            entry = self.pending.get(rid)
            if (
                entry is not None
                and rid in self._goals
                and frame.get("type") == "agent.state"
                and frame.get("phase") in HALTED_PHASES
            ):
                # Planned while paused/cancelled: that state is its answer for now. Not
                # remembered as done, so the goal's answer after a ``resume`` still shows.
                self._forget(rid)
            elif entry is not None and is_final(frame, entry[1]):
                halting = rid in self._halting
                self._forget(rid)
                self._done[rid] = entry[1]
                while len(self._done) > DONE_MEMORY:
                    del self._done[next(iter(self._done))]
                if halting:
                    # Pending goals will not answer now (paused) or ever (cancelled,
                    # cleared, reset): stop waiting for them, keep showing their frames.
                    for goal in list(self._goals):
                        self._forget(goal)
            elif entry is None and rid in self._done and is_final(frame, self._done[rid]):
                continue  # answered already: a re-send got the stored answer again
            return frame

    def _forget(self, rid: str) -> None:
        self.pending.pop(rid, None)
        self._goals.discard(rid)
        self._halting.discard(rid)

    async def wait_for(self, rid: str, timeout: float) -> Frame:
        """Frames (reconnecting as needed) until the answer to ``rid``; returns that answer."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv()
                if frame.get("request") == rid and rid not in self.pending:
                    return frame

    async def _reconnect(self, exc: ConnectionClosed) -> None:
        self._up.clear()
        rcvd = exc.rcvd
        if rcvd is not None and rcvd.code in NO_RECONNECT:
            raise ClientError(f"connection closed {rcvd.code}: {NO_RECONNECT[rcvd.code]}")
        old = self.client
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up_s
        backoff = BACKOFF_START_S
        while True:
            self.notice(f"connection lost; reconnecting in {backoff:g} s")
            await asyncio.sleep(backoff)
            fresh = SpiderwebClient(
                self.base_url,
                agent=self.agent,
                session=old.session_key,
                proto=self.proto,
                token=self.token,
                resume_from=old.last_seq if self.proto == 2 else None,
            )
            fresh.last_seq = old.last_seq
            try:
                await fresh.connect()
                for text, _want in list(self.pending.values()):
                    await fresh.send_raw(text)
                break
            except (
                ClientError,
                ConnectionClosed,
                TimeoutError,
                OSError,
                WebSocketException,
            ) as err:
                with contextlib.suppress(Exception):
                    await fresh.close()
                if isinstance(err, ClientError) and err.status in PERMANENT_STATUS:
                    raise
                if loop.time() + backoff > deadline:
                    why = str(err) or type(err).__name__
                    raise ClientError(
                        f"gave up reconnecting after {self.give_up_s:g} s: {why}"
                    ) from None
                backoff = min(backoff * 2, BACKOFF_MAX_S)
        self.client = fresh
        self.reconnects += 1
        self._up.set()
        self.notice("reconnected")
