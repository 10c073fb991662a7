"""kill_tree on real process trees: a grandchild ignoring SIGTERM, pools, no-ops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from groundwork.proc import Termination, kill_tree, spawn

HELPERS = Path(__file__).parent / "helpers"


def gone(pid: int) -> bool:
    """Dead, or a zombie waiting for its reaper (which counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _tree(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], int, int]:
    pidfile = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, str(HELPERS / "tree_spawner.py"), str(pidfile), *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        process_group=0,
    )
    assert proc.stdout is not None
    child_pid, gc_pid = map(int, proc.stdout.readline().split())
    assert child_pid == proc.pid
    return proc, child_pid, gc_pid


def test_kill_tree_leaves_no_grandchild(tmp_path: Path) -> None:
    proc, child_pid, gc_pid = _tree(tmp_path)
    try:
        result = kill_tree(child_pid, grace_s=0.3)
        assert result == Termination(terminated=True, forced=True)
        assert gone(child_pid)
        assert gone(gc_pid)
        # the leader stays unreaped until its owner waits for it
        assert psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE
    finally:
        proc.wait()
    assert proc.returncode == -15
    assert not psutil.pid_exists(child_pid) or gone(child_pid)


def test_kill_tree_stubborn_child_is_forced(tmp_path: Path) -> None:
    proc, child_pid, gc_pid = _tree(tmp_path, "--stubborn")
    try:
        result = kill_tree(child_pid, grace_s=0.2)
        assert result.forced and result.terminated
        assert gone(child_pid) and gone(gc_pid)
    finally:
        proc.wait()
    assert proc.returncode == -9


def test_kill_tree_polite_tree_not_forced() -> None:
    child = spawn([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"])
    assert next(child.lines()) == "up"
    result = kill_tree(child.pid, grace_s=5)
    assert result == Termination(terminated=True, forced=False)
    assert result.as_dict() == {"terminated": True, "forced": False}
    assert child.wait() == -15


def test_kill_tree_reaches_orphans_in_the_group(tmp_path: Path) -> None:
    """The child exits first; its grandchild (reparented) is found through the group."""
    proc, child_pid, gc_pid = _tree(tmp_path, "--exit")
    deadline = time.monotonic() + 10
    while not gone(child_pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert psutil.Process(gc_pid).ppid() != child_pid
    try:
        result = kill_tree(child_pid, grace_s=0.2)
        assert result.terminated and result.forced
        assert gone(gc_pid)
    finally:
        proc.wait()


def test_kill_tree_nothing_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert kill_tree(proc.pid) == Termination(terminated=False, forced=False)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"], process_group=0)
    deadline = time.monotonic() + 10
    while not gone(zombie.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kill_tree(zombie.pid) == Termination(terminated=False, forced=False)
    zombie.wait()


def test_kill_tree_own_pid_needs_include_root_false() -> None:
    with pytest.raises(ValueError):
        kill_tree(os.getpid())


def test_kill_tree_include_root_false_kills_own_pool() -> None:
    out = subprocess.run(
        [sys.executable, str(HELPERS / "pool_owner.py")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report == {"terminated": True, "forced": True, "workers_gone": True, "me_alive": True}


FORK_ON_TERM = """
import os, signal, subprocess, sys, time
pidfile = sys.argv[1]
def on_term(signum, frame):
    gc = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"])
    with open(pidfile + ".tmp", "w") as fh:
        fh.write(str(gc.pid))
    os.replace(pidfile + ".tmp", pidfile)
signal.signal(signal.SIGTERM, on_term)
print("up", flush=True)
while True:
    time.sleep(0.05)
"""


def test_kill_tree_catches_children_forked_during_the_grace(tmp_path: Path) -> None:
    pidfile = tmp_path / "late"
    child = spawn([sys.executable, "-c", FORK_ON_TERM, str(pidfile)])
    assert next(child.lines()) == "up"
    result = kill_tree(child.pid, grace_s=1.0)
    assert result.forced
    late = int(pidfile.read_text())
    assert gone(child.pid) and gone(late)
    assert child.wait() == -9
