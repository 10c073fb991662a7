import asyncio

import pytest
from groundwork.llm.errors import LLMTimeout, RateLimited
from groundwork.llm.timing import CallClock, forever
from groundwork.llm.types import Timeouts


async def test_phases_follow_first_token() -> None:
    clock = CallClock(Timeouts(total_s=10, first_token_s=2, idle_s=1))
    assert clock.limit(streaming=False)[1] == "total"
    assert clock.limit(streaming=True)[1] == "first_token"
    clock.mark_first()
    assert clock.limit(streaming=True)[1] == "idle"


async def test_total_wins_when_it_is_sooner() -> None:
    clock = CallClock(Timeouts(total_s=1, first_token_s=5, idle_s=5))
    assert clock.limit(streaming=True)[1] == "total"
    with pytest.raises(LLMTimeout) as exc:
        await CallClock(Timeouts(total_s=0.05)).bounded(forever(), streaming=True)
    assert exc.value.phase == "total"
    assert exc.value.limit_s == 0.05
    assert "after 0.05 s" in str(exc.value)


async def test_bounded_passes_results_and_llm_errors() -> None:
    clock = CallClock(Timeouts())
    assert await clock.bounded(asyncio.sleep(0, "v"), streaming=False) == "v"

    async def boom() -> None:
        raise RateLimited("x")

    with pytest.raises(RateLimited):
        await clock.bounded(boom(), streaming=False)
    assert clock.elapsed_ms() >= 0
