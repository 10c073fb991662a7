"""WAL checkpoints off the commit path (spec §16 P2; docs/adr/0005-wal-checkpoints.md).

SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses
``wal_autocheckpoint`` (1,000 pages): that commit, and every frame waiting for
it, paid two fsyncs and a 4 MB copy, about one turn in 73 under P2 (the p99).
The writer connection turns it off; this thread runs ``PASSIVE`` checkpoints
on its own connection instead, which never block the writer or readers.

The writer restarts the WAL from the top only if it begins a transaction when
every frame is already copied; a writer that never pauses never sees that, and
the WAL would grow without bound (measured: 1.3 GB in 6 s of back-to-back group
commits). So once the WAL holds ``restart_frames``, the passive checkpoint is
followed by a ``RESTART`` one: little is left to copy, and it holds writers off
only until the next one starts at the top.

Checkpoints are due every ``every_commits`` commits, or sooner once the WAL file
passes ``wal_bytes`` (checked by one ``stat`` every ``stat_every`` commits). Each
checkpoint's copy and two fsyncs compete with the turn path for the disk and the
two cores, so fewer, larger ones keep P2's p99 down: every 32 commits put ~60 of
2,000 P2 turns above 1 ms; every 1,000 commits, two.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("spiderweb.memory.checkpoint")

#: Commits between checkpoint attempts: a checkpoint costs a copy and two fsyncs.
EVERY_COMMITS = 1000
#: WAL size that makes a checkpoint due before ``EVERY_COMMITS`` (large group commits).
WAL_BYTES = 64 * 1024 * 1024
#: Commits between two ``stat`` calls of the WAL file.
STAT_EVERY = 32
#: At least this long between checkpoints, however fast commits come.
MIN_INTERVAL_S = 0.1
#: WAL frames (pages) beyond which the WAL is restarted even if it blocks the writer.
RESTART_FRAMES = 8192


class Checkpointer:
    """Background ``PASSIVE`` checkpoints; the writer calls :meth:`committed` after each commit."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        every_commits: int = EVERY_COMMITS,
        min_interval_s: float = MIN_INTERVAL_S,
        restart_frames: int = RESTART_FRAMES,
        wal_path: Path | None = None,
        wal_bytes: int = WAL_BYTES,
        stat_every: int = STAT_EVERY,
        name: str = "spiderweb-checkpoint",
    ) -> None:
        self._connect = connect
        self._every = every_commits
        self._interval = min_interval_s
        self._restart_frames = restart_frames
        self._wal_path = wal_path
        self._wal_bytes = wal_bytes
        self._stat_every = max(1, stat_every)
        self._commits = 0
        self._due = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0
        self.restarts = 0
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Count one committed transaction (writer thread only; cheap)."""
        self._commits += 1
        if self._commits >= self._every or (
            self._wal_path is not None
            and self._commits % self._stat_every == 0
            and self._wal_size() >= self._wal_bytes
        ):
            self._commits = 0
            self._due.set()

    def _wal_size(self) -> int:
        assert self._wal_path is not None
        try:
            return os.stat(self._wal_path).st_size
        except OSError:
            return 0

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress finishes first)."""
        self._stop.set()
        self._due.set()
        self._thread.join()

    def _main(self) -> None:
        try:
            conn = self._connect()
        except Exception:
            log.exception("checkpoint connection failed; the WAL is checkpointed at close only")
            return
        try:
            while True:
                self._due.wait()
                if self._stop.is_set():
                    return
                self._due.clear()
                self._checkpoint(conn)
                if self._stop.wait(self._interval):
                    return
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if frames >= self._restart_frames:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                self.restarts += 1
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed (retried after the next commits): %s", exc)
