"""The WebSocket gateway (spec §3): the only code that awaits ``websockets``.

``process_request`` answers ``/healthz``, 404, 400, 426, 401, 403 and 503
before any upgrade; the handler runs one reader loop per connection (parse,
rate-limit, post to the session actor) and one outbox writer task. No
inbound frame closes a connection except the library's own cases (1009
oversize frame, 1007 bad UTF-8, 1002 protocol violations) and sustained
rate-limit abuse (1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from spiderweb.clock import Clock
from spiderweb.config import SpiderwebConfig
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode, FrameError
from spiderweb.protocol.inbound import parse_frame, peek_request_id
from spiderweb.protocol.outbound import encode
from spiderweb.session.actor import SessionActor
from spiderweb.session.commands import Emit, Inbound
from spiderweb.session.registry import Registry
from spiderweb.transport.auth import AuthPolicy, check_upgrade
from spiderweb.transport.outbox import CLOSE_POLICY, Outbox
from spiderweb.transport.ratelimit import TokenBucket
from spiderweb.transport.routing import Healthz, Reject, Stream, route
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 5.0


class ConnectionLink:
    """The actor's view of one connection: deliver text to the outbox, or close it."""

    __slots__ = ("_proto", "outbox")

    def __init__(self, outbox: Outbox, proto: int) -> None:
        self.outbox = outbox
        self._proto = proto

    @property
    def proto(self) -> int:
        return self._proto

    def deliver(self, text: str, *, droppable: bool = False) -> bool:
        return self.outbox.put(text, droppable=droppable)

    def close(self, code: int, reason: str) -> None:
        self.outbox.close(code, reason)


@dataclass(slots=True)
class GatewayStats:
    connections: int = 0


class Gateway:
    """Routes upgrades and runs connections against a :class:`Registry`."""

    def __init__(
        self,
        config: SpiderwebConfig,
        registry: Registry,
        policy: AuthPolicy,
        clock: Clock,
    ) -> None:
        self.config = config
        self.registry = registry
        self.policy = policy
        self.clock = clock
        self.stats = GatewayStats()
        self._server: Server | None = None
        self.on_connection: Callable[[], None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen and return the bound port (``port=0`` picks one)."""
        limits = self.config.limits
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            max_size=limits.max_frame_bytes,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            close_timeout=CLOSE_TIMEOUT_S,
            compression=None,
            max_queue=64,
        )
        sock = next(iter(self._server.sockets))
        bound: int = sock.getsockname()[1]
        return bound

    def stop_accepting(self) -> None:
        """Close the listening sockets; open connections stay until the registry closes them."""
        if self._server is not None:
            self._server.close(close_connections=False)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), CLOSE_TIMEOUT_S + 2)

    # -- HTTP stage --------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        target = route(request.path)
        if isinstance(target, Healthz):
            body = orjson.dumps(
                {
                    "ok": True,
                    "sessions": len(self.registry),
                    "connections": self.stats.connections,
                }
            )
            headers = Headers([("Content-Type", "application/json")])
            headers["Content-Length"] = str(len(body))
            return Response(200, "OK", headers, body)
        if isinstance(target, Reject):
            return connection.respond(target.status, target.reason + "\n")
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return connection.respond(426, "upgrade required: connect with a WebSocket client\n")
        denied = check_upgrade(
            self.policy,
            request.headers.get("Authorization"),
            request.headers.get("Origin"),
            target.access_token,
        )
        if denied is not None:
            return connection.respond(denied.status, denied.reason + "\n")
        if self.registry.closing:
            return connection.respond(503, "server shutting down: retry shortly\n")
        if self.stats.connections >= self.config.server.max_connections:
            return connection.respond(503, "too many connections: retry later\n")
        return None

    # -- WebSocket stage ---------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        target = route(ws.request.path)
        if not isinstance(target, Stream):  # pragma: no cover - process_request filtered it
            await ws.close(1008, "bad route")
            return
        self.stats.connections += 1
        limits = self.config.limits
        outbox = Outbox(limits.outbox_frames)
        link = ConnectionLink(outbox, target.proto)
        writer = outbox.start(ws)
        try:
            await self.registry.attach(
                target.agent_id, target.session_key, link, resume_from=target.resume_from
            )
            await self._read_loop(ws, link)
        except ConnectionClosed:
            pass
        finally:
            self.stats.connections -= 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.registry.detach(link), 10)
            if not writer.done() and not outbox.closed:
                outbox.close(1000, "")
            await outbox.wait_closed(CLOSE_TIMEOUT_S)
            await outbox.aclose()

    async def _read_loop(self, ws: ServerConnection, link: ConnectionLink) -> None:
        limits = self.config.limits
        bucket = TokenBucket(limits.rate_per_s, limits.rate_burst, self.clock)
        async for message in ws:
            if link.outbox.closed:
                break
            retry_ms = bucket.take()
            if retry_ms is not None:
                if bucket.exhausted:
                    link.close(CLOSE_POLICY, "rate limit ignored")
                    break
                self._reply_error(
                    link,
                    out.error(
                        ErrorCode.RATE_LIMITED,
                        f"rate limit exceeded: at most {limits.rate_per_s:g} frames/s",
                        peek_request_id(message, max_message_bytes=limits.max_message_bytes),
                        retry_after_ms=retry_ms,
                    ),
                )
                continue
            if not isinstance(message, str):
                self._reply_error(
                    link,
                    out.error(
                        ErrorCode.UNSUPPORTED_FRAME,
                        "binary frames are not supported: send JSON text frames",
                    ),
                )
                continue
            try:
                request = parse_frame(
                    message,
                    max_message_bytes=limits.max_message_bytes,
                    max_content_bytes=limits.max_content_bytes,
                )
            except FrameError as exc:
                self._reply_error(link, out.error(exc.code, exc.message, exc.request))
                continue
            actor = self.registry.actor_for(link)
            if actor is None or not actor.post(Inbound(link, request)):
                self._direct(
                    link,
                    out.error(
                        ErrorCode.BUSY,
                        "session busy: too many frames in flight, retry shortly",
                        request.request_id,
                    ),
                )

    def _reply_error(self, link: ConnectionLink, frame: out.OutFrame) -> None:
        """Errors go through the actor so protocol 2 stamps them; if it is full, directly."""
        actor: SessionActor | None = self.registry.actor_for(link)
        if actor is None or not actor.post(Emit(link, frame)):
            self._direct(link, frame)

    def _direct(self, link: ConnectionLink, frame: out.OutFrame) -> None:
        ts = self.clock.now_ms() if link.proto == 2 else None
        link.deliver(encode(frame, ts=ts))
