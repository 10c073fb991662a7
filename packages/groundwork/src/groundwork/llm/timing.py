"""Per-phase deadlines for one call, enforced around each await.

Deadlines wrap single awaits (send, next line), never a ``yield``: an
``asyncio.timeout`` held across a yield would cancel the consumer's code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from groundwork.llm.errors import LLMError, LLMTimeout
from groundwork.llm.types import Timeouts

T = TypeVar("T")


class CallClock:
    """Start time and phase of one call; ``mark_first()`` once the first text arrives."""

    __slots__ = ("_loop", "got_first", "start", "timeouts")

    def __init__(self, timeouts: Timeouts) -> None:
        self._loop = asyncio.get_running_loop()
        self.timeouts = timeouts
        self.start = self._loop.time()
        self.got_first = False

    def mark_first(self) -> None:
        self.got_first = True

    def elapsed_ms(self) -> float:
        return (self._loop.time() - self.start) * 1000.0

    def limit(self, *, streaming: bool) -> tuple[float, str]:
        """The next await's deadline (loop time) and the phase named if it expires."""
        total = self.start + self.timeouts.total_s
        if not streaming:
            return total, "total"
        if self.got_first:
            deadline, phase = self._loop.time() + self.timeouts.idle_s, "idle"
        else:
            deadline, phase = self.start + self.timeouts.first_token_s, "first_token"
        return (total, "total") if total <= deadline else (deadline, phase)

    async def bounded(self, aw: Awaitable[T], *, streaming: bool) -> T:
        """Await ``aw`` within the current phase's deadline, else raise ``LLMTimeout``."""
        deadline, phase = self.limit(streaming=streaming)
        try:
            async with asyncio.timeout_at(deadline):
                return await aw
        except LLMError:
            raise
        except TimeoutError:
            raise LLMTimeout(phase, self.limit_s(phase)) from None

    def limit_s(self, phase: str) -> float:
        t = self.timeouts
        return {"first_token": t.first_token_s, "idle": t.idle_s}.get(phase, t.total_s)


async def forever() -> None:
    """Wait until cancelled: a hang, bounded by the caller's deadline."""
    await asyncio.Event().wait()
