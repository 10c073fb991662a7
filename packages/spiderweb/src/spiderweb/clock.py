"""Injectable time (spec §1): every timer in spiderweb asks a :class:`Clock`.

Production uses :class:`SystemClock`; tests drive :class:`FakeClock` by hand so
heartbeat and saturation rules are checked without waiting or timing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time in ms for stored stamps, monotonic seconds for intervals, and sleep."""

    def now_ms(self) -> int: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when :meth:`advance` is called.

    Sleepers wake once the fake time reaches their deadline, in deadline order,
    so a test can step a sweep loop exactly one interval at a time.
    """

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._ms = start_ms
        self._mono = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._ms

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._mono + max(seconds, 0.0), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock (lets tests wait for a loop to park)."""
        return sum(1 for _, fut in self._sleepers if not fut.done())

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._mono += seconds
        self._ms += round(seconds * 1000)
        due = sorted((item for item in self._sleepers if item[0] <= self._mono), key=lambda i: i[0])
        self._sleepers = [item for item in self._sleepers if item[0] > self._mono]
        for _, future in due:
            if not future.done():
                future.set_result(None)
