"""Run a command to completion with bounded capture, a timeout and cancellation."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from groundwork.proc.cancel import CancelToken
from groundwork.proc.child import (
    Child,
    StrPath,
    check_argv,
    exited,
    launch,
    wait_exit_nowait,
)
from groundwork.proc.tree import Termination, kill_tree

__all__ = ["Completed", "run"]

_CHUNK = 65536
#: After the leader exits, how long pipes may stay open (held by a leftover
#: grandchild) before the rest of its process group is killed.
_PIPE_LINGER_S = 0.5


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of ``run``. ``returncode`` is negative when a signal ended it."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    cancelled: bool
    termination: Termination | None
    duration_s: float

    @property
    def ok(self) -> bool:
        """Exit 0, neither timed out nor cancelled."""
        return self.returncode == 0 and not self.timed_out and not self.cancelled

    @property
    def signal(self) -> str | None:
        """The name of the signal that ended the process (``SIGKILL``), for ``job:end``."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:  # pragma: no cover - a real-time signal without a name
            return f"SIG{-self.returncode}"

    @property
    def stdout_text(self) -> str:
        """stdout decoded as UTF-8 (invalid bytes replaced)."""
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        """stderr decoded as UTF-8 (invalid bytes replaced)."""
        return self.stderr.decode("utf-8", errors="replace")


class _Capture(threading.Thread):
    """Reads one pipe to EOF, keeping the first ``limit`` bytes (never more)."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True)
        self.pipe = pipe
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self.start()

    def run(self) -> None:
        fd = self.pipe.fileno()
        try:
            while chunk := os.read(fd, _CHUNK):
                room = self.limit - len(self.data)
                if len(chunk) > room:
                    self.truncated = True
                    chunk = chunk[: max(room, 0)]
                self.data += chunk
        except OSError:  # pragma: no cover - pipe closed under us
            pass


def run(
    argv: Sequence[StrPath],
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    capture_limit: int = 1_048_576,
    grace_s: float = 2.0,
    cancel: CancelToken | None = None,
) -> Completed:
    """Run ``argv`` (no shell, stdin DEVNULL, own process group) and wait for it.

    Each of stdout/stderr keeps at most ``capture_limit`` bytes (the rest is
    read and dropped, flagged ``*_truncated``). On ``timeout_s`` or ``cancel`` the
    whole tree is killed (SIGTERM, ``grace_s``, SIGKILL) and ``termination`` says
    how. A leftover grandchild still holding the pipes after the leader exits is
    killed with the rest of the group. ``OSError`` from a missing program is
    raised as is (e.g. ``FileNotFoundError``).
    """
    args = check_argv(argv)
    if cancel is not None:
        cancel.raise_if_cancelled()
    started = time.monotonic()
    popen: subprocess.Popen[bytes] = launch(args, cwd=cwd, env=env)
    child = Child(popen, args, grace_s=grace_s, cancel=None, owns_pipes=False)
    assert popen.stdout is not None and popen.stderr is not None
    out = _Capture(popen.stdout, capture_limit)
    err = _Capture(popen.stderr, capture_limit)

    wake = threading.Event()

    def watch_exit() -> None:
        wait_exit_nowait(popen.pid)
        wake.set()

    threading.Thread(target=watch_exit, daemon=True).start()
    remove = cancel.add_callback(wake.set) if cancel is not None else (lambda: None)
    timed_out = cancelled = False
    termination: Termination | None = None
    try:
        deadline = None if timeout_s is None else started + timeout_s
        while not wake.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wake.wait(remaining)
        if not exited(popen.pid):
            cancelled = cancel is not None and cancel.cancelled
            timed_out = not cancelled
            termination = kill_tree(popen.pid, grace_s)
        # the leader is gone but still unreaped, so its group id is safe to use
        out.join(_PIPE_LINGER_S)
        err.join(_PIPE_LINGER_S)
        if out.is_alive() or err.is_alive():
            leftovers = kill_tree(popen.pid, grace_s)
            termination = termination or (leftovers if leftovers.terminated else None)
    finally:
        remove()
        if not exited(popen.pid):  # interrupted by an exception: leave nothing behind
            kill_tree(popen.pid, grace_s)
        child.wait()
    out.join(1.0)
    err.join(1.0)
    assert popen.returncode is not None
    return Completed(
        argv=tuple(args),
        returncode=popen.returncode,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        timed_out=timed_out,
        cancelled=cancelled,
        termination=termination,
        duration_s=time.monotonic() - started,
    )
