"""A CLI-shaped parent for signal tests: handle_signals + a child tree.

usage: cli_sigint.py MODE PIDFILE
MODE ``wait``: on the first signal, stop the child tree and exit with the
handler's code. ``stubborn``: ignore the cancel and keep running, so only a
second SIGINT (forced exit) ends it. ``async``: like ``wait`` under asyncio.
``term0``: SIGTERM maps to exit 0 (a service's clean stop).
Prints "ready <child_pid>" once the child tree is up.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from groundwork.proc import EXIT_OK, Cancelled, CancelToken, handle_signals, live_children, spawn

HELPERS = Path(__file__).parent


def start_tree(token: CancelToken, pidfile: str, extra: list[str]) -> int:
    child = spawn(
        [sys.executable, str(HELPERS / "tree_spawner.py"), pidfile, *extra],
        cancel=token,
        grace_s=0.3,
    )
    first = next(child.lines())
    print(f"ready {first}", flush=True)
    return child.pid


def sync_main(mode: str, pidfile: str) -> int:
    token = CancelToken()
    codes = {signal.SIGINT: 130, signal.SIGTERM: EXIT_OK if mode == "term0" else 130}
    handling = handle_signals(token, codes)
    start_tree(token, pidfile, ["--stubborn"] if mode == "stubborn" else [])
    if mode == "stubborn":
        while True:
            time.sleep(0.05)
    token.wait()
    for child in live_children():
        child.wait()
    assert handling.exit_code is not None
    return handling.exit_code


async def async_main(pidfile: str) -> int:
    token = CancelToken()
    handling = handle_signals(token)
    await asyncio.to_thread(start_tree, token, pidfile, [])
    try:
        await token
    except Cancelled:
        for child in live_children():
            await asyncio.to_thread(child.wait)
        assert handling.exit_code is not None
        return handling.exit_code
    return 1


def main() -> None:
    mode, pidfile = sys.argv[1], sys.argv[2]
    code = asyncio.run(async_main(pidfile)) if mode == "async" else sync_main(mode, pidfile)
    sys.exit(code)


if __name__ == "__main__":
    main()
