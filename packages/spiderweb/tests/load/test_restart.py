"""P5 and P6 smokes: SIGKILL and SIGTERM of a real ``spiderweb serve`` under load."""

from __future__ import annotations

from pathlib import Path

import pytest
from swbench import scenarios
from swbench.scenarios import Sizes

from .conftest import assert_correct

pytestmark = pytest.mark.slow


async def test_p5_sigkill_loses_no_acknowledged_message(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p5(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    m = result["measured"]
    assert m["acked_messages"] > 0 and m["lost"] == 0


async def test_p6_sigterm_exits_0_and_restores_counters(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p6(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    m = result["measured"]
    assert m["exit_code"] == 0
    assert m["counters_restored"] == smoke.p6_goal_sessions
