"""P9 smoke: one minute of closed-loop turns; RAM and snapshot caps hold, no errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from swbench import scenarios
from swbench.scenarios import Sizes

from .conftest import assert_correct

pytestmark = pytest.mark.slow


async def test_p9_soak_smoke_stays_within_caps(tmp_path: Path, smoke: Sizes) -> None:
    result = await scenarios.p9(tmp_path, smoke.scaled(generators=1))
    assert_correct(result)
    caps = result["measured"]["ram_caps"]
    assert caps["active"] <= 64 and caps["tombstone"] <= 64 and caps["summary"] <= 64
    assert result["measured"]["max_snapshots_per_session"] <= 24
