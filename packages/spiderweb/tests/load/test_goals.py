"""P8 smoke: 6-task goal bursts against two LLM slots get ``busy``, never timeouts."""

from __future__ import annotations

from pathlib import Path

import pytest
from swbench import scenarios
from swbench.scenarios import Sizes

from .conftest import assert_correct

pytestmark = pytest.mark.slow


async def test_p8_goal_bursts_busy_not_timeouts(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p8(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    m = result["measured"]
    assert m["busy"] > 0 and m["timeouts"] == 0
    assert m["prolonged_per_session"] == {"1": smoke.p8_sessions}
