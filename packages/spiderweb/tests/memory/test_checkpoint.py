"""Background WAL checkpoints: commits reach the main database file without the writer's help."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from spiderweb.memory.checkpoint import Checkpointer
from spiderweb.memory.store import open_store
from spiderweb.memory.writer import WriterThread


def _writer_conn(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE IF NOT EXISTS t (v TEXT)")
    return conn


def _rows_in_main_file(path: Path) -> int:
    """Rows visible in the database file alone (``immutable`` ignores the WAL).

    ``immutable`` also skips locking, so a read that overlaps a background checkpoint
    copying pages can see a torn file ("malformed"): such a read is retried (bounded)."""
    for _ in range(100):
        conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the WAL
            return 0
        except sqlite3.DatabaseError as exc:
            if "malformed" not in str(exc) and "not a database" not in str(exc):
                raise
            time.sleep(0.01)
        finally:
            conn.close()
    raise AssertionError(f"{path} stayed malformed for a second")


def _insert(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO t VALUES (?)", ("x" * 2000,))


def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cp = Checkpointer(lambda: sqlite3.connect(db, isolation_level=None), every_commits=4)
    writer = WriterThread(lambda: _writer_conn(db), on_commit=cp.committed)
    try:
        for _ in range(40):
            writer.submit(_insert).result(5)
        deadline = time.monotonic() + 5
        while _rows_in_main_file(db) < 36 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cp.checkpoints >= 1
        assert _rows_in_main_file(db) >= 36  # the last few commits may not be copied yet
    finally:
        cp.close()
        writer.close()


def test_without_commits_nothing_is_checkpointed(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cp = Checkpointer(lambda: sqlite3.connect(db, isolation_level=None), every_commits=4)
    writer = WriterThread(lambda: _writer_conn(db), on_commit=cp.committed)
    try:
        for _ in range(3):  # below every_commits: the writer alone never copies the WAL
            writer.submit(_insert).result(5)
        time.sleep(0.2)
        assert cp.checkpoints == 0
        assert _rows_in_main_file(db) == 0
    finally:
        cp.close()
        writer.close()


def test_store_writer_leaves_checkpoints_to_the_thread(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        mode = store.submit(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        assert mode.result(5) == 0
    finally:
        store.close()


def test_a_writer_that_never_pauses_still_gets_the_wal_restarted(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cp = Checkpointer(
        lambda: sqlite3.connect(db, isolation_level=None),
        every_commits=4,
        min_interval_s=0,
        restart_frames=16,
    )
    writer = WriterThread(lambda: _writer_conn(db), on_commit=cp.committed)
    try:
        deadline = time.monotonic() + 10
        while cp.restarts == 0 and time.monotonic() < deadline:
            futures = [writer.submit(_insert) for _ in range(8)]
            for fut in futures:
                fut.result(5)
        assert cp.restarts >= 1
    finally:
        cp.close()
        writer.close()


def test_a_large_wal_is_checkpointed_before_the_commit_count(tmp_path: Path) -> None:
    """Big group commits must not wait for ``every_commits``: the WAL size makes it due."""
    db = tmp_path / "c.db"
    cp = Checkpointer(
        lambda: sqlite3.connect(db, isolation_level=None),
        every_commits=10_000,
        wal_path=Path(f"{db}-wal"),
        wal_bytes=64 * 1024,
        stat_every=2,
    )
    writer = WriterThread(lambda: _writer_conn(db), on_commit=cp.committed)
    try:
        for _ in range(60):  # ~2 KB rows: the WAL passes 64 KiB long before 10,000 commits
            writer.submit(_insert).result(5)
        deadline = time.monotonic() + 5
        while cp.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cp.checkpoints >= 1
        assert _rows_in_main_file(db) >= 1
    finally:
        cp.close()
        writer.close()
