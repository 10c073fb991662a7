"""P1, P3, P7 smokes: idle + active sessions, closed-loop turns, one slow consumer."""

from __future__ import annotations

from pathlib import Path

import pytest
from swbench import scenarios
from swbench.scenarios import Sizes

from .conftest import assert_correct

pytestmark = pytest.mark.slow


async def test_p1_idle_and_active_sessions_all_served(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p1(tmp_path, smoke.scaled(generators=2))
    assert_correct(result)
    m = result["measured"]
    assert m["connected"] == smoke.p1_idle + smoke.p1_active
    assert m["turns"] > 0 and not m["errors"] and not m["closes"]


async def test_p3_closed_loop_has_no_errors(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p3(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    m = result["measured"]
    assert m["turns"] >= smoke.p3_clients  # every client completed turns
    assert m["echo_msgs_per_s"] > 0  # the baseline ran in the same scenario


async def test_p7_slow_consumer_closed_1013_others_answered(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p7(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    assert result["measured"]["slow"]["close_code"] == 1013
