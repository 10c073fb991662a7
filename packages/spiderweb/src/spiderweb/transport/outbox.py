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
        self._closer: asyncio.Task[None] | None = None
        self._socket: Socket | None = None
        self._sending = False
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
        """Close the socket with ``code`` after the frame being sent; queued frames are dropped.

        A send stuck on a client that stopped reading is abandoned (the writer
        is cancelled), so the close never waits for that client.
        """
        if self._closing is not None:
            return
        self._closing = (code, reason)
        self._queue.clear()
        self._wake.set()
        writer = self._writer
        if self._sending and writer is not None and not writer.done():
            writer.cancel()
            self._closer = asyncio.ensure_future(self._close_socket())

    def start(self, socket: Socket) -> asyncio.Task[None]:
        """Start the writer task (once per connection)."""
        self._socket = socket
        self._writer = asyncio.create_task(self._run(socket), name="spiderweb-outbox")
        return self._writer

    async def _run(self, socket: Socket) -> None:
        try:
            while True:
                await self._wake.wait()
                while self._queue and self._closing is None:
                    text, _ = self._queue.popleft()
                    self._sending = True
                    try:
                        async with asyncio.timeout(SEND_TIMEOUT_S):
                            await socket.send(text)
                    except TimeoutError:
                        self._closing = (CLOSE_TRY_AGAIN_LATER, "send timed out")
                    finally:
                        self._sending = False
                    self.sent += 1
                if self._closing is not None:
                    await self._close_socket()
                    return
                self._wake.clear()
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket died under us; the reader will see it too
            log.debug("outbox writer stopped", exc_info=True)

    async def _close_socket(self) -> None:
        if self._socket is None or self._closing is None:
            return
        code, reason = self._closing
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._socket.close(code, reason), SEND_TIMEOUT_S)

    async def wait_closed(self, timeout: float) -> None:
        """Wait (bounded) for the writer and any closer to finish; never raises."""
        tasks = {t for t in (self._writer, self._closer) if t is not None and not t.done()}
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def aclose(self) -> None:
        """Stop the writer (after the connection ended)."""
        for task in (self._writer, self._closer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
