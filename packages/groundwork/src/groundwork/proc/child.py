"""Spawned children: own process group, no stdin, piped output, tracked for cleanup.

Every child started by ``spawn`` or ``run`` goes into a registry until it is
reaped; ``kill_leftovers()`` kills the trees of whatever is still registered and
runs at interpreter exit, so a crashing or cancelled parent leaves no orphans.
Children get their own process group so a terminal Ctrl-C reaches only the
parent, which then decides (via ``CancelToken``) how to stop them.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Literal

import psutil

from groundwork.proc.cancel import CancelToken
from groundwork.proc.lines import LineSplitter
from groundwork.proc.tree import Termination, kill_tree

__all__ = [
    "Child",
    "OutputLine",
    "StrPath",
    "force_kill_children",
    "kill_leftovers",
    "live_children",
    "spawn",
]

StrPath = str | os.PathLike[str]
Stream = Literal["stdout", "stderr"]
_CHUNK = 65536
DEFAULT_LINE_CAP = 1_048_576


def check_argv(argv: Sequence[StrPath]) -> list[str]:
    """A non-empty argument list (never a shell string) as plain strings."""
    if isinstance(argv, str | bytes) or not argv:
        raise ValueError("argv must be a non-empty list of arguments (no shell strings)")
    return [os.fspath(a) for a in argv]


def launch(
    argv: Sequence[StrPath],
    *,
    cwd: StrPath | None,
    env: Mapping[str, str] | None,
    stdout: bool = True,
    stderr: bool = True,
) -> subprocess.Popen[bytes]:
    """Popen with the house rules: no shell, DEVNULL stdin, own process group."""
    return subprocess.Popen(
        check_argv(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stderr else subprocess.DEVNULL,
        process_group=0,
        close_fds=True,
    )


def exited(pid: int) -> bool:
    """Has our child ``pid`` exited? Leaves it unreaped (``waitid`` with ``WNOWAIT``)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True  # already reaped by someone
    return info is not None


def wait_exit_nowait(pid: int) -> None:
    """Block until child ``pid`` exits, without reaping it."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return
        except OSError as exc:  # pragma: no cover - EINTR is retried by Python
            if exc.errno != errno.EINTR:
                raise
            continue
        return


# -- registry ---------------------------------------------------------------------
_registry: set[Child] = set()
_registry_lock = threading.RLock()


def _register(child: Child) -> None:
    with _registry_lock:
        _registry.add(child)


def _unregister(child: Child) -> None:
    with _registry_lock:
        _registry.discard(child)


def live_children() -> list[Child]:
    """Children spawned here and not yet reaped."""
    with _registry_lock:
        return sorted(_registry, key=lambda c: c.pid)


def kill_leftovers(grace_s: float = 0.5) -> int:
    """Kill and reap every registered child's tree; returns how many there were."""
    children = live_children()
    for child in children:
        child.terminate_tree(grace_s)
    return len(children)


def force_kill_children(grace_s: float = 0.2) -> None:
    """Kill every registered child's tree without taking any lock or reaping.

    For the forced exit on a second Ctrl-C: another thread may be in the middle
    of ``terminate_tree`` holding a child's lock, and we are about to exit, so
    the zombies are left to init. ``list(set)`` copies under the GIL.
    """
    for child in list(_registry):
        if child.popen.returncode is not None:  # reaped: its pid may be reused
            continue
        with contextlib.suppress(Exception):
            kill_tree(child.pid, grace_s)


atexit.register(kill_leftovers)


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line of a child's output, newline (and a trailing CR) removed."""

    stream: Stream
    text: str


class _Pump:
    """Reader threads turning the child's pipes into a bounded queue of lines.

    The queue gives backpressure (a child outpacing its reader blocks on its
    pipe) while ``discard`` (set while no consumer iterates) keeps the pipes
    drained into the tails, so the child never hangs on a full pipe. End of
    output is known from ``finished``, not from queue markers that a discarding
    pump may have dropped, so a later consumer never waits forever.
    """

    def __init__(self, pipes: dict[Stream, IO[bytes]], max_line_bytes: int, tail: int) -> None:
        self.queue: queue.Queue[tuple[Stream, bytes | None]] = queue.Queue(maxsize=1024)
        self.discard = threading.Event()
        self.max_line_bytes = max_line_bytes
        self.tails: dict[Stream, deque[bytes]] = {s: deque() for s in pipes}
        self._tail_cap = tail
        self._tail_size: dict[Stream, int] = dict.fromkeys(pipes, 0)
        self._tail_lock = threading.Lock()
        self.finished: dict[Stream, bool] = dict.fromkeys(pipes, False)
        self.threads = [
            threading.Thread(target=self._read, args=(name, pipe), daemon=True)
            for name, pipe in pipes.items()
        ]
        for thread in self.threads:
            thread.start()

    def keep_tail(self, stream: Stream, line: bytes) -> None:
        with self._tail_lock:
            tail = self.tails[stream]
            tail.append(line)
            self._tail_size[stream] += len(line) + 1  # the newline joining it
            while self._tail_size[stream] > self._tail_cap and len(tail) > 1:
                self._tail_size[stream] -= len(tail.popleft()) + 1

    def all_finished(self) -> bool:
        return all(self.finished.values())

    def _put(self, item: tuple[Stream, bytes | None]) -> None:
        while not self.discard.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        if item[1] is not None:
            self.keep_tail(item[0], item[1])

    def _read(self, name: Stream, pipe: IO[bytes]) -> None:
        fd = pipe.fileno()
        splitter = LineSplitter(self.max_line_bytes)
        try:
            while chunk := os.read(fd, _CHUNK):
                for line in splitter.feed(chunk):
                    self._put((name, line))
        except OSError:  # pragma: no cover - pipe closed under us
            pass
        for line in splitter.flush():
            self._put((name, line))
        self.finished[name] = True
        with contextlib.suppress(queue.Full):  # only a wake-up for the consumer
            self.queue.put_nowait((name, None))


class Child:
    """A running child process (see ``spawn``). Use as a context manager so that
    leaving the block early terminates the tree and reaps the leader."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        argv: list[str],
        *,
        grace_s: float,
        cancel: CancelToken | None,
        max_line_bytes: int = DEFAULT_LINE_CAP,
        owns_pipes: bool = True,
    ) -> None:
        self.popen = popen
        self._owns_pipes = owns_pipes
        self.argv = argv
        self.pid = popen.pid
        self.grace_s = grace_s
        self.termination: Termination | None = None
        self._max_line_bytes = max_line_bytes
        self._pump: _Pump | None = None
        self._pump_lock = threading.Lock()
        self._kill_lock = threading.Lock()
        self._cancelling = False
        try:
            self.create_time: float | None = psutil.Process(self.pid).create_time()
        except psutil.NoSuchProcess:  # pragma: no cover - exited before we looked
            self.create_time = None
        _register(self)
        self._remove_cancel = (
            cancel.add_callback(self._on_cancel) if cancel is not None else (lambda: None)
        )

    # -- state -------------------------------------------------------------------
    @property
    def returncode(self) -> int | None:
        """Exit status once reaped (negative: killed by that signal), else None."""
        return self.popen.returncode

    @property
    def stdout(self) -> IO[bytes] | None:
        """The raw stdout pipe, for callers that decode it themselves."""
        return self.popen.stdout

    @property
    def stderr(self) -> IO[bytes] | None:
        """The raw stderr pipe."""
        return self.popen.stderr

    def running(self) -> bool:
        """True until the process exits (it may still need ``wait`` to be reaped)."""
        return self.popen.returncode is None and not exited(self.pid)

    # -- output --------------------------------------------------------------------
    def _get_pump(self) -> _Pump:
        if not self._owns_pipes:
            raise RuntimeError("this child's pipes are read by someone else")
        with self._pump_lock:
            if self._pump is None:
                pipes: dict[Stream, IO[bytes]] = {}
                if self.popen.stdout is not None:
                    pipes["stdout"] = self.popen.stdout
                if self.popen.stderr is not None:
                    pipes["stderr"] = self.popen.stderr
                self._pump = _Pump(pipes, self._max_line_bytes, self._max_line_bytes)
            return self._pump

    def output(self) -> Iterator[OutputLine]:
        """Lines from stdout and stderr as they arrive, until both pipes close.

        Stopping early is fine: the pipes keep being drained (into a bounded tail,
        see ``tail()``) so the child never blocks on a full pipe; a later call
        resumes with the lines that arrive from the moment it is made (the
        setup is eager, not deferred to the first ``next``).
        """
        pump = self._get_pump()
        pump.discard.clear()
        return self._iter_output(pump)

    def _iter_output(self, pump: _Pump) -> Iterator[OutputLine]:
        try:
            while True:
                try:
                    stream, line = pump.queue.get(timeout=0.05)
                except queue.Empty:
                    if pump.all_finished() and pump.queue.empty():
                        return
                    continue
                if line is not None:
                    yield OutputLine(stream, line.decode("utf-8", errors="replace"))
        finally:
            pump.discard.set()
            self._drain(pump)

    def lines(self, stream: Stream = "stdout") -> Iterator[str]:
        """Decoded lines of one stream; the other stream's lines go to ``tail()``."""
        return self._iter_lines(self.output(), stream)

    def _iter_lines(self, items: Iterator[OutputLine], stream: Stream) -> Iterator[str]:
        pump = self._get_pump()
        try:
            for item in items:
                if item.stream == stream:
                    yield item.text
                else:
                    pump.keep_tail(item.stream, item.text.encode("utf-8"))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _drain(pump: _Pump) -> None:
        while True:
            try:
                stream, line = pump.queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                pump.keep_tail(stream, line)

    def tail(self, stream: Stream = "stderr") -> str:
        """The last lines (about ``max_line_bytes`` of them) not handed to a consumer."""
        pump = self._pump
        if pump is None or stream not in pump.tails:
            return ""
        with pump._tail_lock:
            data = b"\n".join(pump.tails[stream])
        return data.decode("utf-8", errors="replace")

    # -- lifecycle -------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> int:
        """Reap the child (``subprocess.TimeoutExpired`` after ``timeout``).

        If nobody consumes the output yet, it is drained into ``tail()`` meanwhile,
        so a chatty child cannot block on a full pipe while we wait for it. After
        a cancel, the tree kill finishes before the leader is reaped, so waiting
        never races the kill into signalling a recycled pid.
        """
        with self._pump_lock:
            fresh = self._pump is None
        has_pipes = self.popen.stdout is not None or self.popen.stderr is not None
        if fresh and self._owns_pipes and has_pipes:
            self._get_pump().discard.set()
        if self.popen.returncode is None:
            self._wait_exit(timeout)
        if self._cancelling:
            self.terminate_tree()
        with self._kill_lock:
            code = self.popen.wait()
        self._finish()
        return code

    def _wait_exit(self, timeout: float | None) -> None:
        """Block until the leader exits, leaving it unreaped."""
        if timeout is None:
            wait_exit_nowait(self.pid)
            return
        deadline = time.monotonic() + timeout
        delay = 0.002
        while not exited(self.pid):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(self.argv, timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def _finish(self) -> None:
        self._remove_cancel()
        _unregister(self)
        pump = self._pump
        if pump is not None:
            for thread in pump.threads:
                thread.join(timeout=1.0)

    def terminate_tree(self, grace_s: float | None = None) -> Termination:
        """Kill the child's tree (SIGTERM, grace, SIGKILL), then reap the leader."""
        with self._kill_lock:
            if self.popen.returncode is not None:
                self._finish()
                return self.termination or Termination(terminated=False, forced=False)
            result = kill_tree(self.pid, self.grace_s if grace_s is None else grace_s)
            self.termination = result
            self.popen.wait()
            self._finish()
            return result

    def _on_cancel(self) -> None:
        # may run inside a signal handler: never block here
        self._cancelling = True
        threading.Thread(target=self.terminate_tree, name=f"cancel-{self.pid}", daemon=True).start()

    def close(self) -> None:
        """Terminate if still running, reap, and close our pipe ends."""
        self.terminate_tree()
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Child pid={self.pid} argv={self.argv[:3]!r} returncode={self.returncode}>"


def spawn(
    argv: Sequence[StrPath],
    *,
    cwd: StrPath | None = None,
    env: Mapping[str, str] | None = None,
    cancel: CancelToken | None = None,
    grace_s: float = 2.0,
    stdout: bool = True,
    stderr: bool = True,
    max_line_bytes: int = DEFAULT_LINE_CAP,
) -> Child:
    """Start ``argv`` in its own process group with DEVNULL stdin and piped output.

    ``env=None`` inherits the parent's environment (groundwork itself never reads
    it). Cancelling ``cancel`` terminates the child's tree in a helper thread.
    ``stdout=False``/``stderr=False`` send that stream to DEVNULL instead.
    """
    popen = launch(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    return Child(
        popen, check_argv(argv), grace_s=grace_s, cancel=cancel, max_line_bytes=max_line_bytes
    )
