"""Run one subprocess and measure it: wall time, exit code, output, peak RSS.

Peak RSS is taken two ways: ``os.wait4``'s ``ru_maxrss`` (the largest single process among
the child and the descendants it waited for) and a sampler summing the RSS of the whole
process tree every few milliseconds (a build's worker pool counts in full).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.02


@dataclass(frozen=True, slots=True)
class ProcResult:
    """What one measured run produced."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    stdout: str
    stderr: str
    maxrss_mb: float
    tree_peak_mb: float


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    sample_tree: bool = False,
) -> ProcResult:
    """Run ``argv`` to completion; stdout/stderr go through temp files (no pipe deadlock)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd
        )
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            try:
                handle = psutil.Process(proc.pid)
            except psutil.Error:
                return
            while not stop.is_set():
                peak = max(peak, _tree_rss(handle))
                stop.wait(SAMPLE_S)

        sampler = threading.Thread(target=sample, daemon=True) if sample_tree else None
        if sampler is not None:
            sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        if sampler is not None:
            sampler.join()
        out.seek(0)
        err.seek(0)
        return ProcResult(
            argv=tuple(argv),
            returncode=proc.returncode,
            wall_s=wall,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            maxrss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            tree_peak_mb=peak / (1024 * 1024),
        )


def check(result: ProcResult) -> ProcResult:
    """Raise with the command's stderr tail when it failed."""
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise RuntimeError(
            f"{' '.join(result.argv[:4])}… exited {result.returncode}: {' | '.join(tail)}"
        )
    return result
