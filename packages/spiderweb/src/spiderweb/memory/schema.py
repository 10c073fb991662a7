"""LTM schema (spec §5.3): M10's five tables unchanged, additions by ``PRAGMA user_version``.

Every statement is idempotent (``IF NOT EXISTS``), so an M10 database, which has
the five tables but none of ours, opens unchanged and gains only the new
tables. ``user_version`` records how far this code has migrated a file; a file
from a newer spiderweb (higher version) is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

M10_TABLES = ("sessions", "ram_snapshots", "summaries", "entries", "ltm_events")

_M10_DDL = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    next_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ram_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    timestamp_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    next_id INTEGER NOT NULL,
    entry_count INTEGER NOT NULL,
    summary_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS summaries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id INTEGER NOT NULL REFERENCES ram_snapshots(id),
    memory_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id INTEGER NOT NULL REFERENCES ram_snapshots(id),
    memory_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    related_to INTEGER NULL,
    content TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ltm_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    memory_id INTEGER NULL,
    created_at_ms INTEGER NOT NULL,
    details TEXT
);
CREATE INDEX IF NOT EXISTS idx_ram_snapshots_session_ts ON ram_snapshots(session_id, timestamp_ms);
CREATE INDEX IF NOT EXISTS idx_summaries_snapshot ON summaries(snapshot_id);
CREATE INDEX IF NOT EXISTS idx_entries_snapshot ON entries(snapshot_id);
"""

# user_version 1: session metadata, write-through state, durable transcript.
_V1_DDL = """
CREATE TABLE IF NOT EXISTS session_metadata (
    session_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    last_active_ms INTEGER NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_session_metadata_agent
    ON session_metadata(agent_id, last_active_ms);
CREATE TABLE IF NOT EXISTS session_state (
    session_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state_json TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    memory_id INTEGER,
    created_at_ms INTEGER NOT NULL,
    UNIQUE(session_id, request_id, role)
);
CREATE INDEX IF NOT EXISTS idx_messages_session_id ON messages(session_id, id);
CREATE INDEX IF NOT EXISTS idx_ltm_events_session ON ltm_events(session_id);
"""

MIGRATIONS: tuple[str, ...] = (_V1_DDL,)


class SchemaTooNew(Exception):
    """The file was migrated by a newer spiderweb."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn``'s database to ``SCHEMA_VERSION`` in one transaction; returns the old version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current > SCHEMA_VERSION:
        raise SchemaTooNew(f"schema version {current} is newer than supported {SCHEMA_VERSION}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in _statements(_M10_DDL):
            conn.execute(stmt)
        for ddl in MIGRATIONS:
            # Re-run earlier steps too: each is idempotent, which heals a file whose
            # user_version was set by someone else without our tables.
            for stmt in _statements(ddl):
                conn.execute(stmt)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return int(current)


def _statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]
