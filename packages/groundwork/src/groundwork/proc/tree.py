"""Kill a whole process tree without ever signalling a recycled pid.

Order matters. First snapshot the tree (psutil descendants plus the members of
each process group we own), then SIGTERM every group and every process, wait up
to the grace, re-snapshot (children forked during the grace are caught), and
SIGKILL the survivors. Nothing here reaps: a leader we spawned stays a zombie
until its owner calls ``wait``, which keeps its pid and process-group id
reserved, so a late ``killpg`` cannot reach a stranger. psutil's ``send_signal``
also checks the creation time before signalling. Waiting is a poll loop that
ends as soon as everything is gone, so no timer outlives the call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

import psutil

__all__ = ["Termination", "kill_tree"]

_SIGKILL_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class Termination:
    """How a tree ended: ``terminated`` if we signalled anything alive, ``forced``
    if something survived SIGTERM for the whole grace and got SIGKILL."""

    terminated: bool
    forced: bool

    def as_dict(self) -> dict[str, bool]:
        """The ``termination`` object of a ``job:end`` event."""
        return {"terminated": self.terminated, "forced": self.forced}


def _gone(proc: psutil.Process) -> bool:
    """Dead, reused, or a zombie awaiting its reaper (which counts as gone)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:  # pragma: no cover - foreign processes only
        return False


def _send(proc: psutil.Process, sig: int) -> bool:
    try:
        if _gone(proc):
            return False
        proc.send_signal(sig)  # psutil refuses if the pid was reused
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return True


def _killpg(leader: psutil.Process, sig: int) -> bool:
    """Signal ``leader``'s group, only while the leader (maybe a zombie) still exists."""
    try:
        if not leader.is_running():
            return False
        os.killpg(leader.pid, sig)
    except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
        return False
    return True


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return list(proc.children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _group_members(pgids: set[int]) -> list[psutil.Process]:
    """Live processes in the given groups (orphans reparented away from the tree)."""
    if not pgids:
        return []
    found: list[psutil.Process] = []
    for proc in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, PermissionError, psutil.Error):
            if os.getpgid(proc.pid) in pgids:
                found.append(proc)
    return found


class _Tree:
    """The mutable snapshot of one kill: processes by (pid, createTime) and group leaders."""

    def __init__(self, root: psutil.Process, include_root: bool) -> None:
        self.root = root
        self.include_root = include_root
        self.own_pgid = os.getpgrp()
        self.procs: dict[tuple[int, float], psutil.Process] = {}
        self.leaders: dict[int, psutil.Process] = {}
        self.refresh()

    def _add(self, proc: psutil.Process) -> None:
        if proc.pid == os.getpid():
            return
        try:
            key = (proc.pid, proc.create_time())
        except psutil.NoSuchProcess:
            return
        self.procs.setdefault(key, proc)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(proc.pid) == proc.pid and proc.pid != self.own_pgid:
                self.leaders.setdefault(proc.pid, proc)

    def refresh(self) -> None:
        """Add the root (if included), every descendant, and members of our groups."""
        if self.include_root:
            self._add(self.root)
        for proc in [self.root, *self.procs.values()]:
            for child in _descendants(proc):
                self._add(child)
        for member in _group_members(set(self.leaders)):
            self._add(member)

    def alive(self) -> list[psutil.Process]:
        return [p for p in self.procs.values() if not _gone(p)]

    def signal_all(self, sig: int) -> bool:
        """Signal every group, then every process; True if anything was alive.

        Liveness is taken before signalling: a ``killpg`` alone proves nothing
        (it also succeeds on a group holding only its zombie leader), and a
        process it kills may be gone before its own ``send_signal``.
        """
        alive = self.alive()
        for leader in self.leaders.values():
            _killpg(leader, sig)
        for proc in alive:
            _send(proc, sig)
        return bool(alive)


def _wait_gone(tree: _Tree, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while tree.alive():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def kill_tree(pid: int, grace_s: float = 2.0, include_root: bool = True) -> Termination:
    """SIGTERM ``pid``'s tree, SIGKILL what survives ``grace_s``; never reaps.

    ``include_root=False`` spares ``pid`` itself (and never signals its group):
    that is how a process kills its own worker pool. Returns at once with
    ``Termination(False, False)`` when nothing was alive.
    """
    if include_root and pid == os.getpid():
        raise ValueError("kill_tree(own pid) needs include_root=False")
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return Termination(terminated=False, forced=False)
    tree = _Tree(root, include_root)
    if not tree.signal_all(signal.SIGTERM):
        return Termination(terminated=False, forced=False)
    if _wait_gone(tree, grace_s):
        return Termination(terminated=True, forced=False)
    tree.refresh()  # catch children forked during the grace
    survivors = tree.alive()
    if not survivors:  # pragma: no cover - the last one died between two polls
        return Termination(terminated=True, forced=False)
    for leader in tree.leaders.values():
        _killpg(leader, signal.SIGKILL)
    for proc in survivors:
        _send(proc, signal.SIGKILL)
    _wait_gone(tree, _SIGKILL_WAIT_S)
    return Termination(terminated=True, forced=True)
