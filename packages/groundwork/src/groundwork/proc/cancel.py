"""Cooperative cancellation shared by threads, signal handlers and asyncio tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Generator
from typing import Any

from groundwork.errors import Cancelled

__all__ = ["CancelToken", "Cancelled"]

_log = logging.getLogger(__name__)


class CancelToken:
    """A one-shot cancellation flag: ``cancel()`` once, observe it anywhere.

    Thread-safe, and safe to ``cancel()`` from a signal handler (the internal
    lock is re-entrant, so a handler interrupting the main thread inside the
    token cannot deadlock). Work loops call ``raise_if_cancelled()`` per file or
    batch; blocking code uses ``wait()``; coroutines ``await token``, which
    returns only by raising ``Cancelled``, so it composes with ``asyncio.wait``
    or a ``TaskGroup`` as "the thing that fails when we are cancelled".
    """

    __slots__ = ("_callbacks", "_event", "_lock", "_next_id", "_reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.RLock()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_id = 0
        self._reason: str | None = None

    @property
    def cancelled(self) -> bool:
        """True once ``cancel()`` has been called."""
        return self._event.is_set()

    @property
    def reason(self) -> str | None:
        """What the first ``cancel()`` said (e.g. ``"signal SIGINT"``)."""
        return self._reason

    def cancel(self, reason: str = "cancelled") -> bool:
        """Fire the token; returns False if it had already fired. Runs callbacks once."""
        with self._lock:
            if self._event.is_set():
                return False
            self._reason = reason
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            self._run(callback)
        return True

    @staticmethod
    def _run(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a broken observer must not stop the others
            _log.exception("CancelToken callback %r failed", callback)

    def add_callback(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` on cancel (at once if already cancelled); returns a remover.

        Callbacks run in the cancelling thread, possibly inside a signal handler,
        so they must be quick and must not block (start a thread for slow work).
        """
        with self._lock:
            if not self._event.is_set():
                key = self._next_id
                self._next_id += 1
                self._callbacks[key] = callback

                def remove() -> None:
                    with self._lock:
                        self._callbacks.pop(key, None)

                return remove
        self._run(callback)
        return lambda: None

    def raise_if_cancelled(self) -> None:
        """Raise ``Cancelled(reason)`` if the token has fired."""
        if self._event.is_set():
            raise Cancelled(self._reason or "cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout``; True if cancelled."""
        return self._event.wait(timeout)

    async def wait_async(self) -> None:
        """Return (without raising) once the token fires; never blocks the loop."""
        if self._event.is_set():
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def done() -> None:
            if not fut.done():
                fut.set_result(None)

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(done)

        remove = self.add_callback(wake)
        try:
            await fut
        finally:
            remove()

    def __await__(self) -> Generator[Any, None, None]:
        """``await token`` waits for cancellation, then raises ``Cancelled``."""

        async def _wait_then_raise() -> None:
            await self.wait_async()
            raise Cancelled(self._reason or "cancelled")

        return _wait_then_raise().__await__()

    def __repr__(self) -> str:
        state = f"cancelled={self._reason!r}" if self.cancelled else "active"
        return f"<CancelToken {state}>"
