"""handle_signals in-process (real signals to ourselves) and a CLI-like subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from groundwork.proc import (
    EXIT_CANCELLED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Cancelled,
    CancelToken,
    handle_signals,
)

HELPERS = Path(__file__).parent / "helpers"


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _deliver(sig: int, token: CancelToken | None = None) -> None:
    os.kill(os.getpid(), sig)
    if token is not None:
        assert token.wait(10)


def test_exit_codes() -> None:
    assert (EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CANCELLED) == (0, 1, 2, 130)


def test_first_signal_cancels_and_picks_code() -> None:
    token = CancelToken()
    exits: list[int] = []
    before = signal.getsignal(signal.SIGTERM)
    with handle_signals(token, {signal.SIGTERM: 0, signal.SIGINT: 130}, exit=exits.append) as h:
        assert h.exit_code is None
        _deliver(signal.SIGTERM, token)
        assert token.reason == "signal SIGTERM"
        assert (h.signum, h.exit_code) == (signal.SIGTERM, 0)
        _deliver(signal.SIGINT)  # a first SIGINT after SIGTERM is not "second"
        assert h.exit_code == 0 and not h.forced
    assert exits == []
    assert signal.getsignal(signal.SIGTERM) == before


def test_second_sigint_within_window_forces_exit() -> None:
    token = CancelToken()
    exits: list[int] = []
    h = handle_signals(token, exit=exits.append)
    try:
        _deliver(signal.SIGINT, token)
        assert exits == []
        _deliver(signal.SIGINT)
        deadline = time.monotonic() + 10
        while not exits and time.monotonic() < deadline:
            time.sleep(0.01)
        assert exits == [130] and h.forced
    finally:
        h.restore()
        h.restore()


def test_second_sigint_after_window_only_cancels() -> None:
    token = CancelToken()
    exits: list[int] = []
    with handle_signals(token, exit=exits.append, force_window_s=0.0) as h:
        h.on_signal(signal.SIGINT)
        time.sleep(0.01)
        h.on_signal(signal.SIGINT)
    assert exits == [] and token.cancelled


def test_must_be_main_thread() -> None:
    import threading

    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            handle_signals(CancelToken())
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    assert errors


async def test_under_asyncio_loop_handler() -> None:
    token = CancelToken()
    loop = asyncio.get_running_loop()
    before = signal.getsignal(signal.SIGINT)
    h = handle_signals(token, exit=lambda code: None)
    try:
        assert h._loop is loop
        loop.call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        with pytest.raises(Cancelled, match="SIGINT"):
            await asyncio.wait_for(token, 10)
        assert h.exit_code == 130
    finally:
        h.restore()
    assert signal.getsignal(signal.SIGINT) == before


def _start_cli(mode: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int, int]:
    pidfile = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, str(HELPERS / "cli_sigint.py"), mode, str(pidfile)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    word, child_pid, gc_pid = proc.stdout.readline().split()
    assert word == "ready"
    return proc, int(child_pid), int(gc_pid)


@pytest.mark.parametrize("mode", ["wait", "async"])
def test_cli_exits_130_on_sigint(mode: str, tmp_path: Path) -> None:
    proc, child_pid, gc_pid = _start_cli(mode, tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert gone(child_pid) and gone(gc_pid)


def test_cli_sigterm_can_mean_clean_stop(tmp_path: Path) -> None:
    proc, child_pid, gc_pid = _start_cli("term0", tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert gone(child_pid) and gone(gc_pid)


def test_cli_second_sigint_kills_trees_and_exits(tmp_path: Path) -> None:
    """The parent ignores the cancel; Ctrl-C twice still ends it and its tree."""
    proc, child_pid, gc_pid = _start_cli("stubborn", tmp_path)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    deadline = time.monotonic() + 10
    while not (gone(child_pid) and gone(gc_pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(child_pid) and gone(gc_pid)
