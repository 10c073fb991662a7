"""The group-commit writer thread on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from spiderweb.memory.writer import WriterClosed, WriterThread


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
    return conn


def test_queued_writes_share_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    gate = threading.Event()
    writer = WriterThread(lambda: _connect(db))

    running = threading.Event()

    def blocker(conn: sqlite3.Connection) -> None:
        running.set()
        gate.wait(5)

    def counts(conn: sqlite3.Connection) -> tuple[int, int]:
        conn.execute("INSERT INTO t VALUES (1)")
        outside = sqlite3.connect(db)  # sees only committed rows
        try:
            seen_outside = outside.execute("SELECT COUNT(*) FROM t").fetchone()[0]
        finally:
            outside.close()
        return conn.execute("SELECT COUNT(*) FROM t").fetchone()[0], seen_outside

    first = writer.submit(blocker)
    assert running.wait(5)  # the writer is inside batch 1: everything below queues for batch 2
    futs = [writer.submit(counts) for _ in range(50)]
    gate.set()
    first.result(5)
    results = [f.result(5) for f in futs]
    # One group transaction: the writer sees its own 50 rows, nobody else sees any yet.
    assert results[-1] == (50, 0)
    writer.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 50
    conn.close()


def test_resolves_only_after_commit(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    writer = WriterThread(lambda: _connect(db))
    writer.submit(lambda c: c.execute("INSERT INTO t VALUES (7)")).result(5)
    reader = sqlite3.connect(db)  # a separate connection sees the committed row at once
    assert reader.execute("SELECT v FROM t").fetchall() == [(7,)]
    reader.close()
    writer.close()


def test_closed_writer_refuses(tmp_path: Path) -> None:
    writer = WriterThread(lambda: _connect(tmp_path / "w.db"))
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(WriterClosed):
        writer.submit(lambda c: None)


def test_connect_failure_raises_at_start(tmp_path: Path) -> None:
    def bad() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    with pytest.raises(sqlite3.OperationalError):
        WriterThread(bad)


async def test_async_run_and_timeout_does_not_cancel(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    writer = WriterThread(lambda: _connect(db))
    gate = threading.Event()
    assert await writer.run(lambda c: c.execute("SELECT 41 + 1").fetchone()[0], 5) == 42
    writer.submit(lambda c: gate.wait(5))
    slow = asyncio.ensure_future(writer.run(lambda c: c.execute("INSERT INTO t VALUES (3)"), 0.05))
    with pytest.raises(TimeoutError):
        await slow
    gate.set()
    writer.close()  # drains: the timed-out write still commits
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT v FROM t").fetchall() == [(3,)]
    conn.close()


def test_a_lone_failing_write_leaves_nothing_and_the_next_commits(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    commits: list[int] = []
    writer = WriterThread(lambda: _connect(db), on_commit=lambda: commits.append(1))

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        writer.submit(half_then_fail).result(5)
    assert writer.submit(lambda c: c.execute("INSERT INTO t VALUES (2)").rowcount).result(5) == 1
    writer.close()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT v FROM t").fetchall() == [(2,)]
    conn.close()
    assert commits == [1]  # only the transaction that committed counts
