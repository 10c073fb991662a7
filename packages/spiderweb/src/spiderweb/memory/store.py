"""The LTM store (spec §5.3, §6): one SQLite file at ``<data_dir>/.spiderweb-ltm/memory.db``.

All SQL of spiderweb lives here. Writes go through one ``WriterThread`` (group
commit) and return ``concurrent.futures.Future``s that resolve only after the
commit, so S1's actor can ``await asyncio.wait_for(asyncio.wrap_future(f), t)``
and send the frames reporting a change only once it is durable. Reads are
plain synchronous methods on pooled read connections: call them through
``asyncio.to_thread`` (or ``LtmStore.read``) from the event loop.
Every statement uses bound parameters (M10 defect D20).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from groundwork import jsonio
from groundwork.errors import GroundworkError

from spiderweb.memory.checkpoint import Checkpointer
from spiderweb.memory.legacy import (
    LTM_DIRNAME,
    STATE_FILE_NAME,
    STATE_VERSION,
    Report,
    parse_snapshot,
    read_index,
    read_snapshot_file,
    read_state_file,
    resolve_archive_path,
    snapshot_to_legacy,
    write_legacy_snapshot,
)
from spiderweb.memory.ram import Entry, EntryState, Role, Summary, clean_text
from spiderweb.memory.schema import migrate
from spiderweb.memory.settings import LtmConfig
from spiderweb.memory.snapshot import Snapshot
from spiderweb.memory.writer import WriterThread

log = logging.getLogger("spiderweb.memory.store")

DB_NAME = "memory.db"
DAY_MS = 86_400_000
BUSY_TIMEOUT_MS = 5000
_CHUNK = 500
EXPORT_KIND = "spiderweb.sessions"
EXPORT_VERSION = 1
#: Idempotency lookup (every ``chat.send`` with an ``id``); see :func:`_request_rows`.
REQUEST_ROWS_SQL = (
    "SELECT id, session_id, request_id, role, content, memory_id, created_at_ms"
    " FROM messages WHERE session_id = ? AND request_id = ?"
)
_SESSION_TABLES = ("session_state", "messages", "session_metadata", "ltm_events", "sessions")

P = ParamSpec("P")
T = TypeVar("T")


class StoreError(GroundworkError):
    """The LTM store cannot be opened or migrated; ``path`` names the file."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"LTM store {path}: {detail}")
        self.path = path
        self.detail = detail


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A transcript message to store with a state commit (user or assistant)."""

    request_id: str
    role: Literal["user", "assistant"]
    content: str
    memory_id: int | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A stored transcript message; ``id`` orders the history."""

    id: int
    session_id: str
    request_id: str
    role: str
    content: str
    memory_id: int | None
    created_at_ms: int

    def to_item(self) -> dict[str, Any]:
        """A ``session.history`` item."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "memoryId": self.memory_id,
            "request": self.request_id,
            "createdAtMs": self.created_at_ms,
        }


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """A ``session_metadata`` row."""

    session_id: str
    agent_id: str
    created_at_ms: int
    last_active_ms: int
    message_count: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """One ``agent.list`` item."""

    agent_id: str
    session_count: int
    last_active: int


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot header without its children (``memory snapshots KEY``)."""

    id: int
    session_id: str
    timestamp_ms: int
    reason: str
    next_id: int
    entry_count: int
    summary_count: int


@dataclass(frozen=True, slots=True)
class CommitResult:
    """Which messages a state commit inserted (a re-sent request inserts none)."""

    inserted: int
    message_count: int | None


@dataclass(frozen=True, slots=True)
class PruneResult:
    snapshots: int
    entries: int
    summaries: int
    sessions: int


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    """Where an archive went: a snapshot row, the legacy JSON fallback, or nowhere (empty)."""

    snapshot_id: int | None
    legacy_path: Path | None = None


def store_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / LTM_DIRNAME / DB_NAME


def open_store(data_dir: Path | str, config: LtmConfig | None = None) -> LtmStore:
    """Open (creating and migrating) the store of ``data_dir``; raises ``StoreError``."""
    return LtmStore.open(data_dir, config)


class LtmStore:
    """SQLite LTM store: one writer thread, pooled readers. Use ``open_store``."""

    def __init__(self, data_dir: Path, config: LtmConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self.path = store_path(data_dir)
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all_readers: list[sqlite3.Connection] = []
        self._inline: sqlite3.Connection | None = None
        self._closed = False
        self._checkpointer = Checkpointer(
            self._connect_checkpointer, wal_path=Path(f"{self.path}-wal")
        )
        self._writer = WriterThread(self._connect_writer, on_commit=self._checkpointer.committed)

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path | str, config: LtmConfig | None = None) -> LtmStore:
        data = Path(data_dir)
        path = store_path(data)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                _pragmas(conn)
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL required")
                migrate(conn)
            finally:
                conn.close()
            return cls(data, config or LtmConfig())
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(path, f"cannot open or migrate: {exc}") from exc

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        _pragmas(conn)
        conn.execute(f"PRAGMA synchronous={self.config.synchronous}")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer thread does it
        return conn

    def _connect_checkpointer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        _pragmas(conn)
        conn.execute(f"PRAGMA synchronous={self.config.synchronous}")
        return conn

    def close(self) -> None:
        """Flush queued writes, checkpoint the WAL and close every connection."""
        if self._closed:
            return
        self._closed = True
        self._checkpointer.close()
        self._writer.close(final=_checkpoint)
        for conn in self._all_readers:
            conn.close()
        self._all_readers.clear()
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    def __enter__(self) -> LtmStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _pragmas(conn)
            conn.execute("PRAGMA query_only=ON")
            self._all_readers.append(conn)
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._readers.put(conn)

    def submit(self, op: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue a raw write operation (runs in the writer's group transaction)."""
        return self._writer.submit(op)

    async def read(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a read method in a thread (the caller wraps it in ``asyncio.wait_for``)."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- writes ----------------------------------------------------------------------------
    def archive(
        self, snap: Snapshot, *, prune: bool = True, now_ms: int | None = None
    ) -> Future[int | None]:
        """Archive a RAM copy: upsert ``sessions``, snapshot + children, ``snapshot`` event.

        Empty RAM (no entries, no summaries) is skipped and resolves to ``None``.
        With ``prune`` the session is pruned in the same transaction.
        """
        now = snap.timestamp_ms if now_ms is None else now_ms
        keep, days = self.config.keep_snapshots, self.config.keep_days

        def op(conn: sqlite3.Connection) -> int | None:
            if not snap.entries and not snap.summaries:
                return None
            snap_id = _insert_snapshot(conn, snap)
            _insert_event(
                conn,
                snap.session_id,
                "snapshot",
                None,
                snap.timestamp_ms,
                {
                    "snapshot_id": snap_id,
                    "reason": snap.reason,
                    "entry_count": len(snap.entries),
                    "summary_count": len(snap.summaries),
                },
            )
            if prune:
                _prune(conn, now, keep, days, snap.session_id)
            return snap_id

        return self._writer.submit(op)

    async def archive_or_fallback(
        self, snap: Snapshot, *, timeout_s: float = 10.0, now_ms: int | None = None
    ) -> ArchiveResult:
        """Archive; on a SQLite failure write the snapshot as legacy JSON (imported next start)."""
        try:
            fut = asyncio.wrap_future(self.archive(snap, now_ms=now_ms))
            snap_id = await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except sqlite3.Error as exc:
            log.warning("archive of %s failed (%s); writing legacy JSON", snap.session_id, exc)
            path = await asyncio.to_thread(write_legacy_snapshot, self.data_dir, snap)
            return ArchiveResult(None, path)
        return ArchiveResult(snap_id)

    def commit_session(
        self,
        session_id: str,
        *,
        state: Mapping[str, Any] | None = None,
        state_json: bytes | None = None,
        messages: Sequence[NewMessage] = (),
        agent_id: str | None = None,
        is_active: bool | None = None,
        now_ms: int,
    ) -> Future[CommitResult]:
        """Write-through (§6): upsert the v2 state, add transcript messages, touch metadata.

        All in one operation of the group transaction, so the state and the
        messages it reports commit together. Messages already stored under the
        same ``(session_id, request_id, role)`` are ignored (idempotency).
        ``agent_id`` defaults to ``state["agentId"]``. ``state_json`` is the
        state already encoded (the actor's cached per-turn form, UTF-8 JSON of
        an object); it takes the place of ``state``.
        """
        text: str | None = None
        if state_json is not None:
            text = state_json.decode("utf-8")
        elif state is not None:
            text = _state_json(state)
        if agent_id is None and state is not None and isinstance(state.get("agentId"), str):
            agent_id = state["agentId"]
        rows = [
            (session_id, m.request_id, m.role, clean_text(m.content), m.memory_id, m.created_at_ms)
            for m in messages
        ]

        def op(conn: sqlite3.Connection) -> CommitResult:
            if text is not None:
                conn.execute(
                    "INSERT INTO session_state(session_id, version, state_json, updated_at_ms)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET"
                    " version=excluded.version, state_json=excluded.state_json,"
                    " updated_at_ms=excluded.updated_at_ms",
                    (session_id, STATE_VERSION, text, now_ms),
                )
            inserted = 0
            for row in rows:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO messages(session_id, request_id, role, content,"
                    " memory_id, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                inserted += cur.rowcount
            count = _touch_metadata(conn, session_id, agent_id, now_ms, inserted, is_active)
            return CommitResult(inserted, count)

        return self._writer.submit(op)

    def record_event(
        self,
        session_id: str,
        event_type: str,
        *,
        now_ms: int,
        memory_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Future[int]:
        """Append an ``ltm_events`` row (e.g. ``reset`` on ``/new``)."""

        def op(conn: sqlite3.Connection) -> int:
            return _insert_event(conn, session_id, event_type, memory_id, now_ms, details)

        return self._writer.submit(op)

    def prune(
        self,
        *,
        now_ms: int,
        session_id: str | None = None,
        keep: int | None = None,
        days: int | None = None,
    ) -> Future[PruneResult]:
        """Keep the newest ``keep_snapshots`` per session, drop those older than ``keep_days``.

        ``keep``/``days`` override the config (``memory prune --keep --days``); 0
        disables a rule. Children go first, explicitly; then sessions left with
        no snapshot, state or transcript (and their metadata/events), so no
        orphan rows remain.
        """
        k = self.config.keep_snapshots if keep is None else keep
        d = self.config.keep_days if days is None else days
        return self._writer.submit(lambda conn: _prune(conn, now_ms, k, d, session_id))

    # -- export / import (``sessions export`` / ``sessions import``) -----------------------
    def export_sessions(self, session_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """Everything stored for the sessions (all by default) as one JSON-ready object."""
        keys = list(session_ids) if session_ids is not None else self.session_ids()
        out: list[dict[str, Any]] = []
        for key in keys:
            meta = self.session_meta(key)
            with self._reader() as conn:
                msgs = conn.execute(
                    "SELECT request_id, role, content, memory_id, created_at_ms FROM messages"
                    " WHERE session_id = ? ORDER BY id",
                    (key,),
                ).fetchall()
            out.append(
                {
                    "session_id": key,
                    "state": self.get_state(key),
                    "metadata": None
                    if meta is None
                    else {
                        "agent_id": meta.agent_id,
                        "created_at_ms": meta.created_at_ms,
                        "last_active_ms": meta.last_active_ms,
                        "message_count": meta.message_count,
                    },
                    "messages": [
                        {
                            "request_id": r,
                            "role": role,
                            "content": c,
                            "memory_id": m,
                            "created_at_ms": t,
                        }
                        for r, role, c, m, t in msgs
                    ],
                    "snapshots": [snapshot_to_legacy(s) for s in self.snapshots(key)],
                }
            )
        return {"version": EXPORT_VERSION, "kind": EXPORT_KIND, "sessions": out}

    def import_sessions(self, data: Any, *, now_ms: int) -> Report:
        """Merge an ``export_sessions`` object; idempotent (existing rows are kept).

        A session's state is imported only if it has none; messages by their
        unique key; snapshots unless one with the same timestamp exists.
        Malformed sessions are skipped with a warning.
        """
        report = Report()
        if not isinstance(data, dict) or data.get("kind") != EXPORT_KIND:
            report.warn("not a spiderweb sessions export")
            return report
        if data.get("version") != EXPORT_VERSION:
            report.warn(f"export version {data.get('version')!r} not supported")
            return report
        sessions = data.get("sessions")
        if not isinstance(sessions, list):
            report.warn("export has no sessions list")
            return report
        parsed: list[_Imported] = []
        for i, raw in enumerate(sessions):
            try:
                parsed.append(_parse_import(raw))
            except (ValueError, KeyError, TypeError) as exc:
                report.warn(f"session #{i} skipped ({exc})")

        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            imported = skipped = 0
            for item in parsed:
                changed = _import_one(conn, item, now_ms)
                imported += changed
                skipped += not changed
            return imported, skipped

        if parsed:
            report.imported, report.skipped = self._writer.submit(op).result()
        return report

    def delete_session(self, session_id: str) -> Future[bool]:
        """Remove every row of a session (``sessions delete KEY``); ``True`` if any existed."""

        def op(conn: sqlite3.Connection) -> bool:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM ram_snapshots WHERE session_id = ?", (session_id,)
                )
            ]
            _delete_snapshots(conn, ids)
            total = len(ids)
            for table in (
                "session_state",
                "messages",
                "session_metadata",
                "ltm_events",
                "sessions",
            ):
                total += conn.execute(
                    f"DELETE FROM {table} WHERE session_id = ?",  # table from a fixed list
                    (session_id,),
                ).rowcount
            return total > 0

        return self._writer.submit(op)

    def mark_all_inactive(self) -> Future[int]:
        """Startup: no session is attached yet."""
        return self._writer.submit(
            lambda conn: (
                conn.execute(
                    "UPDATE session_metadata SET is_active = 0 WHERE is_active != 0"
                ).rowcount
            )
        )

    # -- imports (startup) -----------------------------------------------------------------
    def import_legacy(self) -> Report:
        """Import every index line without a ``(session_id, timestamp_ms)`` snapshot.

        Idempotent; bad lines and files are skipped, warned and counted; paths
        outside ``.spiderweb-ltm/`` are refused. Blocks until committed.
        """
        report = Report()
        candidates: list[Snapshot] = []
        for line in read_index(self.data_dir / LTM_DIRNAME, report):
            try:
                path = resolve_archive_path(self.data_dir, line.archive_path)
                snap = read_snapshot_file(path)
            except (OSError, ValueError) as exc:
                report.warn(f"legacy snapshot {line.archive_path!r} skipped ({exc})")
                continue
            if snap.session_id != line.session_id:
                report.warn(f"legacy snapshot {line.archive_path!r} names another session")
                continue
            candidates.append(
                Snapshot(
                    0,
                    line.session_id,
                    line.timestamp_ms,
                    snap.reason or line.reason,
                    max(snap.next_id, line.next_id),
                    snap.entries,
                    snap.summaries,
                )
            )

        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            imported = skipped = 0
            for snap in candidates:
                exists = conn.execute(
                    "SELECT 1 FROM ram_snapshots WHERE session_id = ? AND timestamp_ms = ? LIMIT 1",
                    (snap.session_id, snap.timestamp_ms),
                ).fetchone()
                if exists:
                    skipped += 1
                    continue
                snap_id = _insert_snapshot(conn, snap)
                _insert_event(
                    conn,
                    snap.session_id,
                    "legacy_import",
                    None,
                    snap.timestamp_ms,
                    {"snapshot_id": snap_id, "reason": snap.reason},
                )
                imported += 1
            return imported, skipped

        if candidates:
            report.imported, report.skipped = self._writer.submit(op).result()
        for w in report.warnings:
            log.warning("%s", w)
        return report

    def import_state_file(self, path: Path | None = None, *, now_ms: int) -> Report:
        """Import ``.spiderweb-session-state.json`` sessions absent from ``session_state``."""
        report = Report()
        sessions = read_state_file(path or self.data_dir / STATE_FILE_NAME, report)

        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            imported = skipped = 0
            for s in sessions:
                key = s["session_id"]
                cur = conn.execute(
                    "INSERT OR IGNORE INTO session_state(session_id, version, state_json,"
                    " updated_at_ms) VALUES (?, ?, ?, ?)",
                    (key, STATE_VERSION, jsonio.dumps(s).decode("utf-8"), now_ms),
                )
                if cur.rowcount:
                    imported += 1
                    agent = s.get("agentId")
                    if isinstance(agent, str):
                        last = s.get("lastActiveMs")
                        created = s.get("createdAtMs")
                        last_ms = last if isinstance(last, int) else now_ms
                        conn.execute(
                            "INSERT OR IGNORE INTO session_metadata(session_id, agent_id,"
                            " created_at_ms, last_active_ms, message_count, is_active)"
                            " VALUES (?, ?, ?, ?, 0, 0)",
                            (key, agent, created if isinstance(created, int) else last_ms, last_ms),
                        )
                else:
                    skipped += 1
            return imported, skipped

        if sessions:
            report.imported, report.skipped = self._writer.submit(op).result()
        for w in report.warnings:
            log.warning("%s", w)
        return report

    # -- reads (synchronous; call via asyncio.to_thread) -----------------------------------
    def load_latest(self, session_id: str) -> Snapshot | None:
        """The newest snapshot (``ORDER BY timestamp_ms DESC, id DESC LIMIT 1``)."""
        snaps = self.snapshots(session_id, limit=1)
        return snaps[0] if snaps else None

    def snapshots(self, session_id: str, *, limit: int | None = None) -> list[Snapshot]:
        """Full snapshots of a session, newest first (recall/query LTM part)."""
        with self._reader() as conn:
            heads = conn.execute(
                "SELECT id, session_id, timestamp_ms, reason, next_id FROM ram_snapshots"
                " WHERE session_id = ? ORDER BY timestamp_ms DESC, id DESC LIMIT ?",
                (session_id, -1 if limit is None else limit),
            ).fetchall()
            out: list[Snapshot] = []
            for sid, key, ts, reason, next_id in heads:
                entries = tuple(
                    Entry(mid, _role(role), content, _state(state), rel, created)
                    for mid, role, state, rel, content, created in conn.execute(
                        "SELECT memory_id, role, state, related_to, content, created_at_ms"
                        " FROM entries WHERE snapshot_id = ? ORDER BY memory_id, id",
                        (sid,),
                    )
                )
                summaries = tuple(
                    Summary(mid, src, text, created)
                    for mid, src, text, created in conn.execute(
                        "SELECT memory_id, source_id, text, created_at_ms FROM summaries"
                        " WHERE snapshot_id = ? ORDER BY memory_id, id",
                        (sid,),
                    )
                )
                out.append(Snapshot(sid, key, ts, reason or "", next_id, entries, summaries))
            return out

    def snapshot_list(self, session_id: str) -> list[SnapshotInfo]:
        with self._reader() as conn:
            return [
                SnapshotInfo(*row)
                for row in conn.execute(
                    "SELECT id, session_id, timestamp_ms, reason, next_id, entry_count,"
                    " summary_count FROM ram_snapshots WHERE session_id = ?"
                    " ORDER BY timestamp_ms DESC, id DESC",
                    (session_id,),
                )
            ]

    def get_state(self, session_id: str) -> dict[str, Any] | None:
        """The stored v2 session object, or ``None`` (also for an unreadable row)."""
        with self._reader() as conn:
            row = conn.execute(
                "SELECT state_json FROM session_state WHERE session_id = ?", (session_id,)
            ).fetchone()
        return _parse_state(session_id, row[0]) if row else None

    def all_states(self) -> list[dict[str, Any]]:
        """Every stored v2 session object (shutdown file, startup recovery)."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT session_id, state_json FROM session_state ORDER BY session_id"
            ).fetchall()
        out = []
        for key, text in rows:
            state = _parse_state(key, text)
            if state is not None:
                out.append(state)
        return out

    def find_request(self, session_id: str, request_id: str) -> list[MessageRow]:
        """Stored messages of one request (idempotency: user and maybe assistant)."""
        with self._reader() as conn:
            return _request_rows(conn, session_id, request_id)

    def find_request_now(self, session_id: str, request_id: str) -> list[MessageRow] | None:
        """:meth:`find_request` on the caller's thread, or ``None`` if it would have to wait.

        Every ``chat.send`` with an ``id`` asks whether that request is already
        stored (idempotency); a thread hop for that indexed point read cost more
        than the read itself (P2). This connection never waits for a lock
        (``busy_timeout=0``; WAL readers rarely need one): on any SQLite error
        it answers ``None`` and the caller reads through a thread as before.
        Only the event loop thread calls it.
        """
        if self._closed:
            return None
        try:
            conn = self._inline
            if conn is None:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=0")
                conn.execute("PRAGMA query_only=ON")
                self._inline = conn
            return _request_rows(conn, session_id, request_id)
        except sqlite3.Error as exc:
            log.debug("inline request lookup of %s failed (%s); using a thread", session_id, exc)
            return None

    def find_message(self, session_id: str, request_id: str, role: str) -> MessageRow | None:
        """Lookup by the unique ``(session_id, request_id, role)``."""
        with self._reader() as conn:
            row = conn.execute(
                "SELECT id, session_id, request_id, role, content, memory_id, created_at_ms"
                " FROM messages WHERE session_id = ? AND request_id = ? AND role = ?",
                (session_id, request_id, role),
            ).fetchone()
        return MessageRow(*row) if row else None

    def history(
        self, session_id: str, *, limit: int = 50, before_id: int | None = None
    ) -> tuple[list[MessageRow], bool]:
        """Transcript page, oldest first, and whether older messages exist (``hasMore``)."""
        limit = max(1, min(limit, 500))
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT id, session_id, request_id, role, content, memory_id, created_at_ms"
                " FROM messages WHERE session_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (session_id, before_id if before_id is not None else 2**62, limit + 1),
            ).fetchall()
        has_more = len(rows) > limit
        page = [MessageRow(*r) for r in rows[:limit]]
        page.reverse()
        return page, has_more

    def session_meta(self, session_id: str) -> SessionMeta | None:
        with self._reader() as conn:
            row = conn.execute(
                "SELECT session_id, agent_id, created_at_ms, last_active_ms, message_count,"
                " is_active FROM session_metadata WHERE session_id = ?",
                (session_id,),
            ).fetchone()
        return _meta(row) if row else None

    def list_sessions(
        self, agent_id: str | None = None, *, limit: int | None = None
    ) -> list[SessionMeta]:
        """Sessions with metadata, most recently active first."""
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT session_id, agent_id, created_at_ms, last_active_ms, message_count,"
                " is_active FROM session_metadata WHERE (? IS NULL OR agent_id = ?)"
                " ORDER BY last_active_ms DESC, session_id LIMIT ?",
                (agent_id, agent_id, -1 if limit is None else limit),
            ).fetchall()
        return [_meta(r) for r in rows]

    def agents(self) -> list[AgentInfo]:
        """``agent.list``: agents with their session count and last activity."""
        with self._reader() as conn:
            return [
                AgentInfo(a, n, last)
                for a, n, last in conn.execute(
                    "SELECT agent_id, COUNT(*), MAX(last_active_ms) FROM session_metadata"
                    " GROUP BY agent_id ORDER BY agent_id"
                )
            ]

    def session_ids(self) -> list[str]:
        """Every session known to any table (snapshots, state, transcript, metadata)."""
        with self._reader() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT session_id FROM sessions UNION SELECT session_id FROM session_state"
                    " UNION SELECT session_id FROM messages"
                    " UNION SELECT session_id FROM session_metadata ORDER BY 1"
                )
            ]

    def events(self, session_id: str) -> list[dict[str, Any]]:
        with self._reader() as conn:
            rows = conn.execute(
                "SELECT id, event_type, memory_id, created_at_ms, details FROM ltm_events"
                " WHERE session_id = ? ORDER BY id",
                (session_id,),
            ).fetchall()
        return [
            {"id": i, "event_type": t, "memory_id": m, "created_at_ms": c, "details": d}
            for i, t, m, c, d in rows
        ]


# -- SQL helpers (run on the writer connection) ----------------------------------------------
def _request_rows(conn: sqlite3.Connection, session_id: str, request_id: str) -> list[MessageRow]:
    """The messages of one request, oldest first, through the ``UNIQUE`` index.

    ``ORDER BY id`` in SQL made SQLite pick ``idx_messages_session_id`` and walk
    every message of the session (160 us per turn after 2,000 turns, growing);
    there are at most one row per role, so sorting here is free.
    """
    rows = conn.execute(REQUEST_ROWS_SQL, (session_id, request_id)).fetchall()
    return [MessageRow(*r) for r in sorted(rows, key=lambda r: int(r[0]))]


def _pragmas(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
    conn.execute("PRAGMA foreign_keys=ON")


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _insert_snapshot(conn: sqlite3.Connection, snap: Snapshot) -> int:
    conn.execute(
        "INSERT INTO sessions(session_id, created_at_ms, updated_at_ms, next_id)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET"
        " updated_at_ms = MAX(updated_at_ms, excluded.updated_at_ms),"
        " next_id = MAX(next_id, excluded.next_id)",
        (snap.session_id, snap.timestamp_ms, snap.timestamp_ms, snap.next_id),
    )
    cur = conn.execute(
        "INSERT INTO ram_snapshots(session_id, timestamp_ms, reason, next_id, entry_count,"
        " summary_count) VALUES (?, ?, ?, ?, ?, ?)",
        (
            snap.session_id,
            snap.timestamp_ms,
            snap.reason,
            snap.next_id,
            len(snap.entries),
            len(snap.summaries),
        ),
    )
    snap_id = cur.lastrowid
    assert snap_id is not None
    conn.executemany(
        "INSERT INTO entries(snapshot_id, memory_id, role, state, related_to, content,"
        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (snap_id, e.id, e.role, e.state, e.related_to, e.content, e.created_at_ms)
            for e in snap.entries
        ],
    )
    conn.executemany(
        "INSERT INTO summaries(snapshot_id, memory_id, source_id, text, created_at_ms)"
        " VALUES (?, ?, ?, ?, ?)",
        [(snap_id, s.id, s.source_id, s.text, s.created_at_ms) for s in snap.summaries],
    )
    return snap_id


def _insert_event(
    conn: sqlite3.Connection,
    session_id: str,
    event_type: str,
    memory_id: int | None,
    now_ms: int,
    details: Mapping[str, Any] | None,
) -> int:
    cur = conn.execute(
        "INSERT INTO ltm_events(session_id, event_type, memory_id, created_at_ms, details)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            session_id,
            event_type,
            memory_id,
            now_ms,
            jsonio.dumps(dict(details)).decode("utf-8") if details is not None else None,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def _touch_metadata(
    conn: sqlite3.Connection,
    session_id: str,
    agent_id: str | None,
    now_ms: int,
    inserted: int,
    is_active: bool | None,
) -> int | None:
    if agent_id is not None:
        conn.execute(
            "INSERT INTO session_metadata(session_id, agent_id, created_at_ms, last_active_ms,"
            " message_count, is_active) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(session_id) DO UPDATE SET agent_id = excluded.agent_id,"
            " last_active_ms = MAX(last_active_ms, excluded.last_active_ms),"
            " message_count = message_count + excluded.message_count,"
            " is_active = CASE WHEN ? IS NULL THEN is_active ELSE excluded.is_active END",
            (
                session_id,
                agent_id,
                now_ms,
                now_ms,
                inserted,
                int(bool(is_active)),
                None if is_active is None else int(is_active),
            ),
        )
    else:
        conn.execute(
            "UPDATE session_metadata SET last_active_ms = MAX(last_active_ms, ?),"
            " message_count = message_count + ?,"
            " is_active = CASE WHEN ? IS NULL THEN is_active ELSE ? END WHERE session_id = ?",
            (
                now_ms,
                inserted,
                None if is_active is None else int(is_active),
                None if is_active is None else int(is_active),
                session_id,
            ),
        )
    row = conn.execute(
        "SELECT message_count FROM session_metadata WHERE session_id = ?", (session_id,)
    ).fetchone()
    return int(row[0]) if row else None


def _delete_snapshots(conn: sqlite3.Connection, ids: Sequence[int]) -> tuple[int, int, int]:
    entries = summaries = snaps = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i : i + _CHUNK])
        marks = ",".join("?" * len(chunk))  # placeholders only; values stay bound
        entries += conn.execute(
            f"DELETE FROM entries WHERE snapshot_id IN ({marks})", chunk
        ).rowcount
        summaries += conn.execute(
            f"DELETE FROM summaries WHERE snapshot_id IN ({marks})", chunk
        ).rowcount
        snaps += conn.execute(f"DELETE FROM ram_snapshots WHERE id IN ({marks})", chunk).rowcount
    return snaps, entries, summaries


def _prune(
    conn: sqlite3.Connection, now_ms: int, keep: int, days: int, session_id: str | None
) -> PruneResult:
    ids: list[int] = []
    if keep > 0 or days > 0:
        cutoff = now_ms - days * DAY_MS
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM (SELECT id, timestamp_ms, ROW_NUMBER() OVER ("
                " PARTITION BY session_id ORDER BY timestamp_ms DESC, id DESC) AS rn"
                " FROM ram_snapshots WHERE (? IS NULL OR session_id = ?))"
                " WHERE (? > 0 AND rn > ?) OR (? > 0 AND timestamp_ms < ?)",
                (session_id, session_id, keep, keep, days, cutoff),
            )
        ]
    snaps, entries, summaries = _delete_snapshots(conn, ids)
    if session_id is None:
        # Children whose snapshot vanished (e.g. an M10 file pruned by hand).
        entries += conn.execute(
            "DELETE FROM entries WHERE snapshot_id NOT IN (SELECT id FROM ram_snapshots)"
        ).rowcount
        summaries += conn.execute(
            "DELETE FROM summaries WHERE snapshot_id NOT IN (SELECT id FROM ram_snapshots)"
        ).rowcount
    live = (
        " AND session_id NOT IN (SELECT session_id FROM ram_snapshots)"
        " AND session_id NOT IN (SELECT session_id FROM session_state)"
        " AND session_id NOT IN (SELECT session_id FROM messages)"
    )
    scope = (session_id, session_id)
    sessions = conn.execute(
        "DELETE FROM sessions WHERE (? IS NULL OR session_id = ?)" + live, scope
    ).rowcount
    conn.execute("DELETE FROM session_metadata WHERE (? IS NULL OR session_id = ?)" + live, scope)
    conn.execute(
        "DELETE FROM ltm_events WHERE (? IS NULL OR session_id = ?)"
        + live
        + " AND session_id NOT IN (SELECT session_id FROM sessions)",
        scope,
    )
    return PruneResult(snaps, entries, summaries, sessions)


@dataclass(frozen=True, slots=True)
class _Imported:
    session_id: str
    state: dict[str, Any] | None
    agent_id: str | None
    created_at_ms: int
    last_active_ms: int
    messages: tuple[NewMessage, ...]
    snapshots: tuple[Snapshot, ...]


def _parse_import(raw: Any) -> _Imported:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    key = raw["session_id"]
    if not isinstance(key, str) or not key:
        raise ValueError("session_id must be a non-empty string")
    state = raw.get("state")
    if state is not None and not isinstance(state, dict):
        raise ValueError("state must be an object or null")
    meta = raw.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata must be an object or null")
    agent = meta.get("agent_id")
    msgs: list[NewMessage] = []
    for m in raw.get("messages", []):
        role = m["role"]
        if role not in ("user", "assistant") or not isinstance(m["content"], str):
            raise ValueError("bad message")
        mid = m.get("memory_id")
        msgs.append(
            NewMessage(
                str(m["request_id"]),
                role,
                m["content"],
                mid if isinstance(mid, int) else None,
                int(m.get("created_at_ms", 0)),
            )
        )
    snaps = tuple(parse_snapshot(s, fallback_session=key) for s in raw.get("snapshots", []))
    if any(s.session_id != key for s in snaps):
        raise ValueError("snapshot of another session")
    return _Imported(
        key,
        state,
        agent if isinstance(agent, str) else None,
        int(meta.get("created_at_ms", 0)),
        int(meta.get("last_active_ms", 0)),
        tuple(msgs),
        snaps,
    )


def _import_one(conn: sqlite3.Connection, item: _Imported, now_ms: int) -> bool:
    changed = False
    if item.state is not None:
        changed |= bool(
            conn.execute(
                "INSERT OR IGNORE INTO session_state(session_id, version, state_json,"
                " updated_at_ms) VALUES (?, ?, ?, ?)",
                (item.session_id, STATE_VERSION, jsonio.dumps(item.state).decode("utf-8"), now_ms),
            ).rowcount
        )
    inserted = 0
    for m in item.messages:
        inserted += conn.execute(
            "INSERT OR IGNORE INTO messages(session_id, request_id, role, content, memory_id,"
            " created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (item.session_id, m.request_id, m.role, m.content, m.memory_id, m.created_at_ms),
        ).rowcount
    changed |= inserted > 0
    if item.agent_id is not None:
        conn.execute(
            "INSERT OR IGNORE INTO session_metadata(session_id, agent_id, created_at_ms,"
            " last_active_ms, message_count, is_active) VALUES (?, ?, ?, ?, 0, 0)",
            (item.session_id, item.agent_id, item.created_at_ms, item.last_active_ms),
        )
    if inserted:
        conn.execute(
            "UPDATE session_metadata SET message_count = message_count + ? WHERE session_id = ?",
            (inserted, item.session_id),
        )
    for snap in item.snapshots:
        exists = conn.execute(
            "SELECT 1 FROM ram_snapshots WHERE session_id = ? AND timestamp_ms = ? LIMIT 1",
            (snap.session_id, snap.timestamp_ms),
        ).fetchone()
        if not exists:
            _insert_snapshot(conn, snap)
            changed = True
    return changed


def _state_json(state: Mapping[str, Any]) -> str:
    """Canonical JSON of a state object; strings with lone surrogates are cleaned first."""
    try:
        return jsonio.dumps(dict(state)).decode("utf-8")
    except jsonio.JsonError:
        return jsonio.dumps(_clean_value(dict(state))).decode("utf-8")


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_value(v) for v in value]
    return value


def _parse_state(session_id: str, text: str) -> dict[str, Any] | None:
    try:
        value = jsonio.loads(text)
    except jsonio.JsonError:
        log.warning("session_state of %s is not valid JSON; ignored", session_id)
        return None
    if not isinstance(value, dict):
        log.warning("session_state of %s is not an object; ignored", session_id)
        return None
    return value


def _meta(row: Sequence[Any]) -> SessionMeta:
    return SessionMeta(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


def _role(value: str) -> Role:
    if value in ("system", "user", "assistant", "tool", "tool_result"):
        return value  # type: ignore[return-value]
    return "system"


def _state(value: str) -> EntryState:
    return "tombstone" if value == "tombstone" else "active"
