"""SIGINT/SIGTERM → ``CancelToken``; a second Ctrl-C within 2 s exits at once.

The first signal only cancels the token: work stops at its next check, partial
outputs are discarded, and the CLI exits with ``handling.exit_code`` (130 by
default, ``0`` for services that treat SIGTERM as a normal stop). A user who
presses Ctrl-C again within ``force_window_s`` does not want to wait: the trees
of all registered children are killed and the process exits immediately.

That forced exit is the single place where groundwork ends the process itself
(the spec asks for it); it uses ``os._exit`` after flushing stdout/stderr,
because ``sys.exit`` from a signal handler can be swallowed by the very code
that is not stopping. Pass ``exit=`` to replace it (a TUI restoring the terminal).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType, TracebackType
from typing import Any

from groundwork.proc.cancel import CancelToken
from groundwork.proc.child import force_kill_children
from groundwork.proc.codes import EXIT_CANCELLED

__all__ = ["DEFAULT_EXIT_CODES", "SignalHandling", "handle_signals"]

DEFAULT_EXIT_CODES: Mapping[int, int] = {
    signal.SIGINT: EXIT_CANCELLED,
    signal.SIGTERM: EXIT_CANCELLED,
}


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _hard_exit(code: int) -> None:
    # flush in a helper thread with a bound: a stdout blocked on a full pipe (or
    # whose lock the interrupted thread holds) must not stop the exit
    flusher = threading.Thread(target=_flush_stdio, daemon=True)
    flusher.start()
    flusher.join(0.5)
    os._exit(code)


class SignalHandling:
    """Installed handlers for one token; restore them with ``restore()`` or ``with``.

    ``signum`` is the first signal received and ``exit_code`` the code the caller
    should exit with (``None`` while no signal has arrived).
    """

    def __init__(
        self,
        token: CancelToken,
        exit_codes: Mapping[int, int],
        *,
        loop: asyncio.AbstractEventLoop | None,
        force_window_s: float,
        force_grace_s: float,
        exit: Callable[[int], Any],
    ) -> None:
        self.token = token
        self.exit_codes = dict(exit_codes)
        self.signum: int | None = None
        self.exit_code: int | None = None
        self.forced = False
        self._loop = loop
        self._force_window_s = force_window_s
        self._force_grace_s = force_grace_s
        self._exit = exit
        self._last_sigint: float | None = None
        self._previous: dict[int, Any] = {}
        self._installed = False
        self._pipe: tuple[int, int] | None = None
        self._dispatcher: threading.Thread | None = None

    def install(self) -> SignalHandling:
        """Install the handlers (main thread only, as Python requires)."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("handle_signals must be called from the main thread")
        if self._loop is None:
            self._start_dispatcher()
        for sig in self.exit_codes:
            self._previous[sig] = signal.getsignal(sig)
            if self._loop is not None:
                self._loop.add_signal_handler(sig, self.on_signal, sig)
            else:
                signal.signal(sig, self._handler)
        self._installed = True
        return self

    def _start_dispatcher(self) -> None:
        """A thread that runs ``on_signal`` for signals the handler writes to a pipe.

        A Python signal handler interrupts the main thread between any two
        bytecodes, possibly while it holds a non-reentrant lock (an ``Event``'s
        condition, a child's kill lock); doing real work there can deadlock. So
        the handler only writes the signal number to a pipe.
        """
        rfd, wfd = os.pipe2(os.O_CLOEXEC) if hasattr(os, "pipe2") else os.pipe()
        os.set_blocking(wfd, False)
        self._pipe = (rfd, wfd)
        self._dispatcher = threading.Thread(
            target=self._dispatch, args=(rfd,), name="groundwork-signals", daemon=True
        )
        self._dispatcher.start()

    def _dispatch(self, rfd: int) -> None:
        while True:
            try:
                data = os.read(rfd, 64)
            except OSError:  # pragma: no cover - closed under us
                return
            if not data:
                return
            for signum in data:
                self.on_signal(signum)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):  # a full pipe already holds a wake-up
                os.write(self._pipe[1], bytes([signum]))

    def on_signal(self, signum: int) -> None:
        """React to ``signum`` (public so loops and tests can feed signals in)."""
        now = time.monotonic()
        if signum == signal.SIGINT:
            last, self._last_sigint = self._last_sigint, now
            if last is not None and now - last <= self._force_window_s:
                self.forced = True
                code = self.exit_codes.get(signal.SIGINT, EXIT_CANCELLED)
                self.exit_code = code
                force_kill_children(self._force_grace_s)
                self._exit(code)
                return
        if self.signum is None:
            self.signum = signum
            self.exit_code = self.exit_codes.get(signum, EXIT_CANCELLED)
        self.token.cancel(f"signal {signal.Signals(signum).name}")

    def restore(self) -> None:
        """Put the previous handlers back. Idempotent."""
        if not self._installed:
            return
        for sig, previous in self._previous.items():
            if self._loop is not None:
                with contextlib.suppress(RuntimeError, ValueError):
                    self._loop.remove_signal_handler(sig)
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._installed = False
        if self._pipe is not None:
            rfd, wfd = self._pipe
            self._pipe = None
            os.close(wfd)  # EOF ends the dispatcher
            if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
                self._dispatcher.join(5)
            os.close(rfd)

    def __enter__(self) -> SignalHandling:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def handle_signals(
    token: CancelToken,
    exit_codes: Mapping[int, int] | None = None,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    force_window_s: float = 2.0,
    force_grace_s: float = 0.5,
    exit: Callable[[int], Any] = _hard_exit,
) -> SignalHandling:
    """Route ``exit_codes``' signals (default SIGINT and SIGTERM → 130) to ``token``.

    Under asyncio (a running loop in this thread, or ``loop=``) the handlers are
    installed with ``loop.add_signal_handler``, so they run inside the loop and
    tasks awaiting the token wake at once; otherwise with ``signal.signal`` and a
    dispatcher thread (the token's callbacks and ``exit`` then run in that thread).
    The first signal cancels; a second SIGINT within ``force_window_s`` kills the
    registered children's trees (grace ``force_grace_s``) and calls ``exit``
    (default: flush stdio and ``os._exit``), see the module docstring.
    """
    codes = dict(DEFAULT_EXIT_CODES if exit_codes is None else exit_codes)
    return SignalHandling(
        token,
        codes,
        loop=loop if loop is not None else _running_loop(),
        force_window_s=force_window_s,
        force_grace_s=force_grace_s,
        exit=exit,
    ).install()
