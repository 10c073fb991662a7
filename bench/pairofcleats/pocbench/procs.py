"""Run one subprocess and measure it: wall time, exit code, output, peak RSS.

Peak RSS is taken two ways: ``ru_maxrss`` (the largest single process among the child and
the descendants it waited for) and a sampler summing the RSS of the whole process tree every
few milliseconds (a build's worker pool counts in full).

The command runs under a tiny launcher process that reports the command's own ``wait4``
usage. Spawned straight from this (large, warm) process, the child's ``ru_maxrss`` starts at
*our* high-water mark: Linux carries the old address space's peak across ``exec`` (and
``vfork`` shares it), so every child looked as big as the bench itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.02
#: ``python -S -c LAUNCHER <usage-file> argv…``: runs argv, writes its ru_maxrss (KiB), exits
#: with its code (a signal death is re-raised on the launcher).
LAUNCHER = """
import os, signal, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.waitstatus_to_exitcode(status))
"""


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
    """RSS of ``proc``'s descendants (``proc`` is the launcher, not the measured command)."""
    total = 0
    try:
        members = proc.children(recursive=True)
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
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        usage_file = Path(scratch) / "maxrss"
        launcher = [sys.executable, "-S", "-c", LAUNCHER, str(usage_file), *argv]
        started = time.perf_counter()
        proc = subprocess.Popen(
            launcher, stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd
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
        _pid, status, _usage = os.wait4(proc.pid, 0)
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
            maxrss_mb=_child_maxrss_kib(usage_file) / 1024,  # KiB on Linux
            tree_peak_mb=peak / (1024 * 1024),
        )


def _child_maxrss_kib(path: Path) -> float:
    try:
        return float(path.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return 0.0  # the launcher died before reporting


def check(result: ProcResult) -> ProcResult:
    """Raise with the command's stderr tail when it failed."""
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise RuntimeError(
            f"{' '.join(result.argv[:4])}… exited {result.returncode}: {' | '.join(tail)}"
        )
    return result
