"""self_identity / process_alive against real live, dead and reused pids."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil
from groundwork.proc import process_alive, self_identity


def test_self_identity() -> None:
    ident = self_identity()
    assert ident == {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "createTime": psutil.Process().create_time(),
    }


def test_process_alive_cases() -> None:
    me = self_identity()
    assert process_alive(me["pid"])
    assert process_alive(me["pid"], me["createTime"])
    assert not process_alive(me["pid"], me["createTime"] - 10)  # reused pid
    assert not process_alive(0)
    assert not process_alive(-1)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not process_alive(proc.pid)


def test_zombie_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not process_alive(proc.pid)
    finally:
        proc.wait()
