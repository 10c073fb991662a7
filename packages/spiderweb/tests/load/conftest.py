"""Load smokes (spec §16, acceptance 20): the bench's P1-P9 harness at CI size.

The scenarios live in ``bench/spiderweb/swbench`` (shared with ``make bench``),
so this conftest puts ``bench/spiderweb`` on ``sys.path``. Every test here is
marked ``slow`` (``make test-all`` only) and asserts correctness properties,
never a wall time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[4] / "bench" / "spiderweb"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from swbench.scenarios import CORRECTNESS, Sizes  # noqa: E402

#: Smaller than the bench's quick sizes: each smoke stays well under a minute (P9: ~1 min).
SMOKE = Sizes.quick().scaled(
    p1_idle=60,
    p1_active=10,
    p1_seconds=3.0,
    p3_clients=10,
    p3_seconds=3.0,
    p4_sessions=30,
    p5_stored=40,
    p5_clients=10,
    p5_kill_after_s=1.5,
    p6_clients=10,
    p6_goal_sessions=3,
    p6_run_s=1.5,
    p7_clients=10,
    p7_seconds=3.0,
    p8_sessions=16,
    p8_max_waiting=4,
    p9_clients=10,
    p9_seconds=60.0,
    p9_warmup_s=20.0,
    p9_sample_s=2.0,
)


@pytest.fixture
def smoke() -> Sizes:
    return SMOKE


def assert_correct(result: dict[str, Any]) -> None:
    """Every correctness check of the scenario holds (timing targets are the bench's)."""
    assert result.get("status") != "not-run", result.get("reason")
    checks = result["checks"]
    judged = {name: ok for name, ok in checks.items() if name in CORRECTNESS}
    assert judged, f"{result['id']} has no correctness checks: {sorted(checks)}"
    failed = sorted(name for name, ok in judged.items() if not ok)
    assert not failed, f"{result['id']} failed {failed}; measured: {result['measured']}"
