"""Debug hook: periodic tracemalloc snapshots of a running server (off by default).

``spiderweb serve`` starts a :class:`MemTrace` only when ``SPIDERWEB_TRACEMALLOC_DIR``
names a directory (``SPIDERWEB_TRACEMALLOC_EVERY_S`` sets the period, default 60 s).
It exists to find unbounded growth in soak runs (P9, spec §16): compare two dumps
with :func:`top_growth`, e.g. the one at warm-up end against the last. A daemon
thread takes the snapshots so a busy event loop cannot delay them; tracing costs
CPU and memory, so never enable it for a measured run.
"""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path

FRAMES = 6  # enough to tell which caller owns a growing allocation site


class MemTrace:
    """Writes ``snap-NNNN.tracemalloc`` into ``out`` every ``every_s`` seconds."""

    def __init__(self, out: Path, every_s: float = 60.0) -> None:
        if not 0 < every_s < 1e6:
            raise ValueError("every_s must be > 0 seconds")
        self.out = out
        self.every_s = every_s
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memtrace", daemon=True)

    def start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
        self._thread.start()

    def dump(self) -> Path:
        """Take one snapshot now (also called once more by :meth:`stop`)."""
        path = self.out / f"snap-{self.count:04d}.tracemalloc"
        tracemalloc.take_snapshot().dump(str(path))
        self.count += 1
        return path

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.dump()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.dump()
        tracemalloc.stop()


def top_growth(before: Path, after: Path, limit: int = 25) -> list[str]:
    """The ``limit`` allocation tracebacks that grew most from ``before`` to ``after``."""
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    stats = new.compare_to(old, "traceback")
    lines: list[str] = []
    for stat in stats[:limit]:
        lines.append(f"{stat.size_diff / 1024:+.1f} KiB {stat.count_diff:+d} blocks")
        lines.extend(f"    {line}" for line in stat.traceback.format())
    return lines


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        print("usage: python -m spiderweb.memtrace BEFORE AFTER", file=sys.stderr)
        sys.exit(2)
    print("\n".join(top_growth(Path(sys.argv[1]), Path(sys.argv[2]))))
