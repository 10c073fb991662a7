"""Who a process is: pid plus host plus creation time, so a reused pid is not mistaken.

A pid alone is ambiguous: after the owner dies, the kernel may hand the same
number to an unrelated process. psutil's creation time (seconds since the epoch,
derived from boot time and the process start tick) tells them apart.
"""

from __future__ import annotations

import os
import socket
from typing import TypedDict

import psutil

__all__ = ["Identity", "hostname", "process_alive", "self_identity"]

#: Creation times are compared with this slack (seconds); psutil derives them
#: from clock ticks, and two reads of the same process agree far closer than this.
CREATE_TIME_SLACK_S = 0.05


class Identity(TypedDict):
    """The ``{pid, host, createTime}`` triple stored in lock and heartbeat records."""

    pid: int
    host: str
    createTime: float


def hostname() -> str:
    """This machine's name as recorded in locks (``socket.gethostname``)."""
    return socket.gethostname()


def self_identity() -> Identity:
    """The calling process's identity."""
    pid = os.getpid()
    return {"pid": pid, "host": hostname(), "createTime": psutil.Process(pid).create_time()}


def process_alive(pid: int, create_time: float | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if given, was created at ``create_time``.

    False for a dead pid, a zombie awaiting its reaper, or a pid reused by a
    process created at another time. A process we may not inspect counts as alive.
    """
    if pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time is not None and abs(proc.create_time() - create_time) > CREATE_TIME_SLACK_S:
            return False
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # pragma: no cover - depends on the host's ptrace policy
        return True
    return True
