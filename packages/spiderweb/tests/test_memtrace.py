"""The env-guarded tracemalloc hook used to hunt soak growth (spiderweb.memtrace)."""

from __future__ import annotations

import tracemalloc
from itertools import takewhile
from pathlib import Path

import pytest
import typer
from spiderweb.memtrace import MemTrace, top_growth


def test_snapshots_show_what_grew(tmp_path: Path) -> None:
    trace = MemTrace(tmp_path / "snaps", every_s=3600)  # only explicit dumps here
    trace.start()
    try:
        first = trace.dump()
        grown = [bytes(1000) + bytes([i % 256]) for i in range(2000)]
        second = trace.dump()
    finally:
        trace.stop()
    assert not tracemalloc.is_tracing()
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir())[-1] == "snap-0002.tracemalloc"
    report = top_growth(first, second, limit=3)
    assert len(grown) == 2000
    assert report[0].startswith("+") and "KiB" in report[0]
    biggest = takewhile(lambda line: line.startswith("    "), report[1:])  # its traceback
    assert any("test_memtrace.py" in line for line in biggest)


@pytest.mark.parametrize("every", [0, -1, float("nan"), float("inf")])
def test_bad_period_is_refused(tmp_path: Path, every: float) -> None:
    with pytest.raises(ValueError):
        MemTrace(tmp_path, every_s=every)


def test_serve_hook_is_off_by_default_and_refuses_a_bad_period(tmp_path: Path) -> None:
    from spiderweb import cli

    assert cli._memtrace({}) is None
    env = {"SPIDERWEB_TRACEMALLOC_DIR": str(tmp_path), "SPIDERWEB_TRACEMALLOC_EVERY_S": "soon"}
    with pytest.raises(typer.Exit) as exc:
        cli._memtrace(env)
    assert exc.value.exit_code == 2
    assert not tracemalloc.is_tracing()
