"""§2 "every await on network, LLM, DB or tools has a timeout": the bounds that are not
already shown elsewhere (hanging provider, tool, planner, summarizer have their own tests)."""

from __future__ import annotations

import asyncio

import pytest
from spiderweb import api
from spiderweb.api import ServeError


async def test_a_wedged_startup_store_step_fails_the_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "STORE_STEP_TIMEOUT_S", 0.05)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(ServeError) as info:
        await api._bounded("pruning LTM", never)
    assert info.value.exit_code == 1 and info.value.message.startswith("pruning LTM timed out")


async def test_a_finished_step_passes_its_value_through() -> None:
    async def value() -> int:
        return 7

    assert await api._bounded("opening the LTM store", value()) == 7
