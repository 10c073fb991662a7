"""A child that starts a grandchild ignoring SIGTERM, for kill-tree tests.

usage: tree_spawner.py PIDFILE [--stubborn] [--exit]
Writes "<child_pid> <grandchild_pid>" to PIDFILE (atomically) and prints it once
the grandchild ignores SIGTERM. ``--stubborn``: the child ignores SIGTERM too.
``--exit``: the child exits 0 at once, leaving the grandchild holding the pipes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRANDCHILD = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "sys.stdout.write('gc-ready\\n'); sys.stdout.flush()\n"
    "time.sleep(120)\n"
)


def main() -> None:
    pidfile = sys.argv[1]
    if "--stubborn" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc = subprocess.Popen([sys.executable, "-c", GRANDCHILD], stdout=subprocess.PIPE)
    assert gc.stdout is not None
    assert gc.stdout.readline() == b"gc-ready\n"
    line = f"{os.getpid()} {gc.pid}"
    tmp = pidfile + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(line)
    os.replace(tmp, pidfile)
    print(line, flush=True)
    if "--exit" in sys.argv:
        return
    time.sleep(120)


if __name__ == "__main__":
    main()
