"""Rewrite one file forever with atomic_write; the test kills it with SIGKILL.

usage: atomic_write_loop.py PATH SIZE
Prints ``ready`` once imported. Payload n is a 13-byte header
``f"{n:012d}\\n"`` followed by SIZE-13 copies of one letter chosen by n, so a
reader can tell a whole payload from a mix.
"""

from __future__ import annotations

import sys

from groundwork.fsio import atomic_write


def payload(n: int, size: int) -> bytes:
    return f"{n:012d}\n".encode() + bytes([65 + n % 26]) * (size - 13)


def main() -> None:
    path, size = sys.argv[1], int(sys.argv[2])
    n = 1
    print("ready", flush=True)
    while True:
        atomic_write(path, payload(n, size))
        n += 1


if __name__ == "__main__":
    main()
