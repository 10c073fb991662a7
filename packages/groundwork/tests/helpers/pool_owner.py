"""Kill our own worker pool with kill_tree(os.getpid(), include_root=False).

Prints a JSON line {terminated, forced, workers_gone, me_alive}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
from groundwork.proc import kill_tree

WORKER = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('up', flush=True)\n"
    "time.sleep(120)\n"
)


def main() -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE) for _ in range(2)
    ]
    for w in workers:
        assert w.stdout is not None
        w.stdout.readline()
    result = kill_tree(os.getpid(), grace_s=0.3, include_root=False)
    gone = []
    for w in workers:
        proc = psutil.Process(w.pid)
        gone.append(not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE)
        w.wait()
    print(json.dumps({**result.as_dict(), "workers_gone": all(gone), "me_alive": True}))


if __name__ == "__main__":
    main()
