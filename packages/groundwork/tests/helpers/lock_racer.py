"""One contender in a FileLock race.

usage: lock_racer.py LOCK GO_FILE DONE_FILE
Prints ``ready``, spins until GO_FILE exists, tries ``acquire(wait_s=0)`` and
prints ``won`` or ``held <pid> <host>``. A winner keeps the lock until DONE_FILE
exists, so a loser cannot sneak in after an early release.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from groundwork.errors import LockHeld
from groundwork.fsio import FileLock


def main() -> None:
    lock_path, go, done = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    lock = FileLock(lock_path, {"command": "racer"}, heartbeat_s=None)
    try:
        lock.acquire()
    except LockHeld as exc:
        print(f"held {exc.holder.get('pid')} {exc.holder.get('host')}", flush=True)
        return
    print("won", flush=True)
    while not done.exists():
        time.sleep(0.01)
    lock.release()


if __name__ == "__main__":
    main()
