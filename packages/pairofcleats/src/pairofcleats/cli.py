"""Command line entry point of pairofcleats (§10): ``main`` and nothing heavy.

A plain ``search`` line (what agents run, cold, many times) is parsed by
``cli_search.parse`` and run without importing Typer; every other line, and any search line
that parser is not certain about (help, errors, unusual spellings), goes to the Typer app in
``pairofcleats.cli_app``, which also stays reachable here as ``cli.app``, ``cli.search_app``…
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Any

__all__ = ["main"]

# the Typer app's names (``from pairofcleats.cli import app``), loaded on first use
_APP_NAMES = ("app", "search_app", "service_app", "fail", "search_cmd", "run")


def __getattr__(name: str) -> Any:
    if name in _APP_NAMES:
        from pairofcleats import cli_app

        return getattr(cli_app, name)
    if name == "PROGRESS_CONTEXT_VARS":
        from pairofcleats.cli_search import PROGRESS_CONTEXT_VARS

        return PROGRESS_CONTEXT_VARS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _run(args: list[str]) -> int:
    """Run one command line; returns its exit code."""
    # click's shell completion reads this variable; leave such runs to Typer
    if args[:1] == ["search"] and "_PAIROFCLEATS_COMPLETE" not in os.environ:
        from pairofcleats import cli_search

        params = cli_search.parse(args[1:])
        if params is not None:
            try:
                return cli_search.run(params)
            except KeyboardInterrupt:
                sys.stderr.write("pairofcleats: cancelled\n")
                return 130
    from pairofcleats import cli_app

    return cli_app.run(args)


def _exit_now(code: int) -> None:
    """End a search process without the interpreter's teardown (finalising ~500 modules and
    their objects costs a cold search ~50 ms): atexit handlers run and both streams are
    flushed first. Returns (and the caller exits normally) if a flush fails or a non-daemon
    thread is still running, so those cases keep Python's own exit behaviour."""
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        os._exit(120)  # what CPython exits with when its final flush fails
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: exits 0 ok, 1 failure, 2 bad input/usage, 130 cancelled.

    Called without ``argv`` (the console script, ``python -m``) a search ends the process
    directly (:func:`_exit_now`); with ``argv`` it always raises ``SystemExit``.
    """
    args = sys.argv[1:] if argv is None else argv
    code = _run(args)
    if argv is None and args[:1] == ["search"]:
        _exit_now(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
