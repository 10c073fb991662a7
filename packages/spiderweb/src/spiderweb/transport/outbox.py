"""Per-connection outbox (spec §3): the only path to a socket, drained by one writer task.

Session actors and the reader put encoded frames here and never await the
network, so a slow client cannot stall a session (M10 defects D9, D10). When
the bounded queue is full, queued heartbeat telemetry is dropped first; if
nothing is droppable the connection is closed 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Protocol

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_SUPERSEDED = 4001

#: A send that makes no progress for this long means the peer is gone.
SEND_TIMEOUT_S = 30.0


class Socket(Protocol):
    """What the writer needs from a websockets connection."""

    async def send(self, message: str) -> None: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class Outbox:
    """A bounded FIFO of encoded frames plus the writer task that drains it."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._queue: deque[tuple[str, bool]] = deque()
        self._wake = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0
        self.sent = 0

    @property
    def closed(self) -> bool:
        return self._closing is not None

    @property
    def close_code(self) -> int | None:
        return self._closing[0] if self._closing else None

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, text: str, *, droppable: bool = False) -> bool:
        """Queue one frame; ``False`` if it was dropped or the outbox is closing."""
        if self._closing is not None:
            return False
        if len(self._queue) >= self.capacity:
            for i, (_, can_drop) in enumerate(self._queue):
                if can_drop:
                    del self._queue[i]
                    self.dropped += 1
                    break
            else:
                if droppable:
                    self.dropped += 1
                    return False
                self.close(CLOSE_TRY_AGAIN_LATER, "outbox overflow: client reads too slowly")
                return False
        self._queue.append((text, droppable))
        self._wake.set()
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask the writer to close the socket with ``code``; a stuck send is abandoned."""
        if self._closing is not None:
            return
        self._closing = (code, reason)
        self._queue.clear()
        self._wake.set()

    def start(self, socket: Socket) -> asyncio.Task[None]:
        """Start the writer task (once per connection)."""
        self._writer = asyncio.create_task(self._run(socket), name="spiderweb-outbox")
        return self._writer

    async def _run(self, socket: Socket) -> None:
        try:
            while True:
                await self._wake.wait()
                while self._queue and self._closing is None:
                    text, _ = self._queue.popleft()
                    if not await self._send(socket, text):
                        return
                if self._closing is not None:
                    code, reason = self._closing
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(socket.close(code, reason), SEND_TIMEOUT_S)
                    return
                self._wake.clear()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket died under us; the reader will see it too
            log.debug("outbox writer stopped", exc_info=True)

    async def _send(self, socket: Socket, text: str) -> bool:
        send = asyncio.ensure_future(socket.send(text))
        closing = asyncio.ensure_future(self._wait_closing())
        try:
            done, _ = await asyncio.wait(
                {send, closing}, timeout=SEND_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            closing.cancel()
        if send in done:
            send.result()
            self.sent += 1
            return True
        send.cancel()
        with contextlib.suppress(BaseException):
            await send
        if self._closing is None:
            self._closing = (CLOSE_TRY_AGAIN_LATER, "send timed out")
        code, reason = self._closing
        with contextlib.suppress(Exception):
            await asyncio.wait_for(socket.close(code, reason), SEND_TIMEOUT_S)
        return False

    async def _wait_closing(self) -> None:
        while self._closing is None:
            self._wake.clear()
            await self._wake.wait()

    async def aclose(self) -> None:
        """Stop the writer (after the connection ended)."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(BaseException):
                await self._writer
