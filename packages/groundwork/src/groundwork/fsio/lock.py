"""Advisory file locks that survive crashes: a whole JSON record plus stale takeover.

The lock file holds one record ``{pid, host, createTime, token, command,
startedAt, heartbeatAt, ...metadata}``, always replaced whole with
``atomic_write`` so a reader never sees half of it. Every check-and-write runs
under an ``fcntl.flock`` on a sibling ``<name>.guard`` file, which makes the
decision atomic between racing processes on one host: exactly one racer wins,
the others see its fresh record.

A holder is *stale* when it ran on this host and its pid is dead or reused (a
different ``createTime``): taken over at once. Otherwise (another host, or a
live pid) it is stale only when ``heartbeatAt`` (the file's mtime when the
record is unreadable) is older than ``stale_after_s``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import psutil

from groundwork.errors import LockHeld, LockLost
from groundwork.fsio.atomic import atomic_write
from groundwork.proc.identity import hostname, process_alive, self_identity

__all__ = ["FileLock", "LockHeld", "LockLost", "LockStatus", "read_lock", "stale_reason"]

_CORE_KEYS = frozenset(
    {"pid", "host", "createTime", "token", "startedAt", "heartbeatAt"},
)
_POLL_S = 0.05
_log = logging.getLogger(__name__)


def _utc_iso(ts: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the repository's one timestamp format)."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_iso(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _default_command() -> str:
    try:
        return " ".join(psutil.Process().cmdline())
    except psutil.Error:  # pragma: no cover - our own cmdline is always readable
        return ""


def _read_record(path: Path) -> tuple[dict[str, Any] | None, float | None]:
    """(record or None if unreadable, file mtime or None if there is no file)."""
    try:
        raw = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None, None
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, mtime
    return (record if isinstance(record, dict) else None), mtime


def stale_reason(
    record: dict[str, Any] | None,
    mtime: float,
    stale_after_s: float,
    *,
    now: float | None = None,
    host: str | None = None,
) -> str | None:
    """Why a holder is stale (``dead``, ``reused``, ``heartbeat``) or None if it is live.

    Pure apart from the ``process_alive`` probe, so it is tested directly.
    """
    now = time.time() if now is None else now
    host = hostname() if host is None else host
    if record is not None and record.get("host") == host:
        pid = record.get("pid")
        if isinstance(pid, int) and not isinstance(pid, bool):
            if not process_alive(pid):
                return "dead"
            created = record.get("createTime")
            if isinstance(created, int | float) and not process_alive(pid, float(created)):
                return "reused"
    beat = _parse_iso(record.get("heartbeatAt")) if record is not None else None
    if beat is None:
        beat = mtime
    if now - beat > stale_after_s:
        return "heartbeat"
    return None


@dataclass(frozen=True, slots=True)
class LockStatus:
    """What ``read_lock`` saw: the holder record (if any) and whether it is live."""

    path: Path
    holder: dict[str, Any] | None
    exists: bool
    stale: str | None

    @property
    def held(self) -> bool:
        """A live holder exists: a writer must not proceed."""
        return self.exists and self.stale is None


def read_lock(path: str | os.PathLike[str], stale_after_s: float = 1800) -> LockStatus:
    """Check a lock without acquiring it (e.g. to refuse an import while a server runs)."""
    lock_path = Path(path)
    record, mtime = _read_record(lock_path)
    if mtime is None:
        return LockStatus(lock_path, None, False, None)
    return LockStatus(lock_path, record, True, stale_reason(record, mtime, stale_after_s))


class FileLock:
    """An exclusive, crash-tolerant lock on ``path`` (see the module docstring).

    ``heartbeat_s`` starts a daemon thread that calls ``refresh()`` that often;
    pass ``None`` to drive ``refresh()`` from your own timer. When the heartbeat
    finds the lock lost it stops, stores the error in ``lost`` and calls
    ``on_lost``; the next ``refresh()`` raises it again. ``took_over_from`` holds
    the stale record replaced by ``acquire`` (for the caller's log) and
    ``took_over_reason`` why it was stale.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        heartbeat_s: float | None = 30,
        stale_after_s: float = 1800,
        *,
        on_lost: Callable[[LockLost], None] | None = None,
    ) -> None:
        extra = dict(metadata or {})
        reserved = sorted(_CORE_KEYS & extra.keys())
        if reserved:
            raise ValueError(f"lock metadata may not set reserved keys: {', '.join(reserved)}")
        if heartbeat_s is not None and heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be positive or None")
        self.path = Path(path)
        self.metadata = extra
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.on_lost = on_lost
        self.token: str | None = None
        self.record: dict[str, Any] | None = None
        self.took_over_from: dict[str, Any] | None = None
        self.took_over_reason: str | None = None
        self.lost: LockLost | None = None
        self._guard_path = self.path.with_name(self.path.name + ".guard")
        self._mutex = threading.RLock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- guard -----------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise check-and-write across processes (and threads, via the mutex)."""
        with self._mutex:
            fd = os.open(self._guard_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing drops the flock

    def _write(self, record: dict[str, Any]) -> None:
        data = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        atomic_write(self.path, data.encode("utf-8") + b"\n")

    def _new_record(self) -> dict[str, Any]:
        ident = self_identity()
        now = _utc_iso(time.time())
        record: dict[str, Any] = {"command": _default_command()}
        record.update(self.metadata)
        record.update(
            pid=ident["pid"],
            host=ident["host"],
            createTime=ident["createTime"],
            token=uuid.uuid4().hex,
            startedAt=now,
            heartbeatAt=now,
        )
        return record

    # -- public API ------------------------------------------------------------
    @property
    def held(self) -> bool:
        """True between a successful ``acquire`` and ``release`` (or a loss)."""
        return self.token is not None and self.lost is None

    def acquire(self, wait_s: float = 0) -> FileLock:
        """Take the lock, waiting up to ``wait_s`` for a live holder; else ``LockHeld``.

        Returns ``self`` so ``with FileLock(p).acquire(wait_s=5):`` reads well.
        Acquiring a lock this object already holds is a no-op.
        """
        if self.held:
            return self
        deadline = time.monotonic() + max(0.0, wait_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            with self._guard():
                record, mtime = _read_record(self.path)
                reason = None
                if mtime is not None:
                    reason = stale_reason(record, mtime, self.stale_after_s)
                if mtime is None or reason is not None:
                    mine = self._new_record()
                    self._write(mine)
                    self.took_over_from = record if mtime is not None else None
                    self.took_over_reason = reason
                    self.record = mine
                    self.token = mine["token"]
                    self.lost = None
                    if reason is not None:
                        holder = record or {}
                        _log.warning(
                            "took over stale lock %s (%s) from pid %s on %s",
                            self.path,
                            reason,
                            holder.get("pid", "?"),
                            holder.get("host", "?"),
                        )
                    break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockHeld(str(self.path), record or {})
            time.sleep(min(_POLL_S, remaining))
        self._start_heartbeat()
        return self

    def refresh(self) -> None:
        """Rewrite ``heartbeatAt``; raise ``LockLost`` if the file is gone or not ours."""
        if self.lost is not None:
            raise self.lost
        if self.token is None:
            raise LockLost(str(self.path), "never acquired or already released")
        with self._guard():
            record, mtime = _read_record(self.path)
            if mtime is None:
                self._lose("lock file removed")
            if record is None or record.get("token") != self.token or self.record is None:
                holder = record or {}
                pid, host = holder.get("pid", "?"), holder.get("host", "?")
                self._lose(f"now held by pid {pid} on {host}")
            self.record = {**self.record, "heartbeatAt": _utc_iso(time.time())}
            self._write(self.record)

    def _lose(self, detail: str) -> NoReturn:
        self.lost = LockLost(str(self.path), detail)
        self._stop.set()
        raise self.lost

    def release(self) -> None:
        """Stop the heartbeat and remove the file if it is still ours. Idempotent."""
        self._stop_heartbeat()
        if self.token is None:
            return
        with self._guard():
            record, _ = _read_record(self.path)
            if record is not None and record.get("token") == self.token:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        self.token = None
        self.record = None

    # -- heartbeat thread --------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self.heartbeat_s is None:
            return
        self._stop = threading.Event()
        self._beat = threading.Thread(
            target=self._beat_loop,
            args=(self._stop, self.heartbeat_s),
            name=f"FileLock-heartbeat:{self.path.name}",
            daemon=True,
        )
        self._beat.start()

    def _beat_loop(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.refresh()
            except LockLost as exc:
                if self.on_lost is not None:
                    self.on_lost(exc)
                return
            except OSError:  # transient I/O trouble; the next beat tries again
                continue

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        beat, self._beat = self._beat, None
        if beat is not None and beat is not threading.current_thread():
            beat.join()

    # -- context manager ---------------------------------------------------------
    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self.held})"
