"""FakeClock wakes sleepers by fake deadlines; SystemClock is monotonic."""

from __future__ import annotations

import asyncio

from spiderweb.clock import FakeClock, SystemClock


async def test_fake_clock_wakes_in_deadline_order() -> None:
    clock = FakeClock(start_ms=1000)
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(nap("late", 5)), asyncio.create_task(nap("early", 1))]
    while clock.sleepers < 2:
        await asyncio.sleep(0)
    clock.advance(1)
    await asyncio.wait_for(tasks[1], 1)
    assert woke == ["early"] and clock.now_ms() == 2000 and clock.monotonic() == 1
    clock.advance(4)
    await asyncio.wait_for(tasks[0], 1)
    assert woke == ["early", "late"]


async def test_system_clock() -> None:
    clock = SystemClock()
    first = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= first
    assert clock.now_ms() > 1_600_000_000_000
