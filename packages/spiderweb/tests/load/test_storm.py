"""P4 smoke: a reconnect storm over protocol 2 with paused and cancelled sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from swbench import scenarios
from swbench.scenarios import Sizes

from .conftest import assert_correct

pytestmark = pytest.mark.slow


async def test_p4_storm_reattaches_every_session(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p4(tmp_path, smoke.scaled(generators=2))
    assert_correct(result)
    m = result["measured"]
    assert m["droppers"] == smoke.p4_sessions // 2
    assert m["reattached"] == m["droppers"] == m["right_status"]
    assert m["lost"] == 0 and m["duplicates"] == 0
