"""The one SQLite writer thread (spec §2): it owns the only write connection.

Callers ``submit`` a function of the connection and get a
``concurrent.futures.Future``; the thread takes everything queued, runs it in
**one** ``BEGIN IMMEDIATE`` transaction (group commit) with a savepoint per
operation, commits, and only then resolves the futures. So a resolved future
means the write is committed: "acknowledged" survives ``kill -9``. One
failing operation rolls back to its savepoint and fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
WriteOp = Callable[[sqlite3.Connection], T]

log = logging.getLogger("spiderweb.memory.writer")

_STOP = object()
MAX_BATCH = 512


class WriterClosed(RuntimeError):
    """A write was submitted after ``close()``."""


class WriterThread:
    """Group-commit writer; ``connect`` opens its connection inside the thread."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        name: str = "spiderweb-ltm",
        *,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._connect = connect
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def submit(self, op: WriteOp[T]) -> Future[T]:
        """Queue ``op``; the future resolves after the transaction holding it commits."""
        fut: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosed("the LTM writer is closed")
            self._queue.put((op, fut))
        return fut

    async def run(self, op: WriteOp[T], timeout_s: float | None = None) -> T:
        """``submit`` and await the commit (``asyncio.TimeoutError`` after ``timeout_s``).

        A timeout does not cancel the write; it only stops waiting for it.
        """
        fut = asyncio.wrap_future(self.submit(op))
        return await asyncio.wait_for(asyncio.shield(fut), timeout_s)

    def close(self, final: WriteOp[Any] | None = None) -> None:
        """Drain queued writes, run ``final`` outside a transaction, close the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put((_STOP, final))
        self._thread.join()

    # -- thread side -----------------------------------------------------------------------
    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = next((item for item in batch if item[0] is _STOP), None)
                work = [item for item in batch if item[0] is not _STOP]
                if work and self._commit(conn, work) and self._on_commit is not None:
                    self._on_commit()
                if stop is not None:
                    if stop[1] is not None:
                        try:
                            stop[1](conn)
                        except Exception:
                            log.exception("final LTM operation failed")
                    return
        finally:
            conn.close()

    @staticmethod
    def _commit(conn: sqlite3.Connection, work: list[tuple[WriteOp[Any], Future[Any]]]) -> bool:
        """Run ``work`` in one transaction; ``True`` if it committed.

        A lone operation (every commit of a single session's turn, P2) needs no
        savepoint: if it fails, rolling the whole transaction back is the same.
        That saves two statements on the reply path.
        """
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for _, fut in work:
                fut.set_exception(exc)
            return False
        if len(work) == 1:
            return WriterThread._commit_one(conn, *work[0])
        for idx, (op, fut) in enumerate(work):
            if not fut.set_running_or_notify_cancel():
                continue
            conn.execute("SAVEPOINT op")
            try:
                result = op(conn)
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                except sqlite3.Error:
                    # The error ended the whole transaction: nothing in it committed.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    fut.set_exception(exc)
                    for f, _, _ in outcomes:
                        f.set_exception(exc)
                    for _, rest in work[idx + 1 :]:
                        if rest.set_running_or_notify_cancel():
                            rest.set_exception(exc)
                    return False
                outcomes.append((fut, None, exc))
            else:
                conn.execute("RELEASE op")
                outcomes.append((fut, result, None))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            for fut, _, _ in outcomes:
                fut.set_exception(exc)
            return False
        for fut, result, error in outcomes:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
        return True

    @staticmethod
    def _commit_one(conn: sqlite3.Connection, op: WriteOp[Any], fut: Future[Any]) -> bool:
        """The transaction ``_commit`` opened holds only ``op``: commit it or roll it all back."""
        if not fut.set_running_or_notify_cancel():
            conn.execute("ROLLBACK")
            return False
        try:
            result = op(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            fut.set_exception(exc)
            return False
        fut.set_result(result)
        return True
