"""LTM store (§5.3, §6) on real SQLite files: schema, M10 files, archive, prune, transcript."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from spiderweb.memory import store as store_mod
from spiderweb.memory.legacy import STATE_FILE_NAME
from spiderweb.memory.ram import Entry, Summary
from spiderweb.memory.schema import M10_TABLES, SCHEMA_VERSION
from spiderweb.memory.settings import LtmConfig
from spiderweb.memory.snapshot import Snapshot
from spiderweb.memory.store import LtmStore, NewMessage, StoreError, open_store, store_path

DAY = 86_400_000

M10_DDL = """
CREATE TABLE sessions (session_id TEXT PRIMARY KEY, created_at_ms INTEGER, updated_at_ms INTEGER,
  next_id INTEGER);
CREATE TABLE ram_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT REFERENCES sessions(session_id), timestamp_ms INTEGER, reason TEXT,
  next_id INTEGER, entry_count INTEGER, summary_count INTEGER);
CREATE TABLE summaries (id INTEGER PRIMARY KEY, snapshot_id INTEGER REFERENCES ram_snapshots(id),
  memory_id INTEGER, source_id INTEGER, text TEXT, created_at_ms INTEGER);
CREATE TABLE entries (id INTEGER PRIMARY KEY, snapshot_id INTEGER REFERENCES ram_snapshots(id),
  memory_id INTEGER, role TEXT, state TEXT, related_to INTEGER NULL, content TEXT,
  created_at_ms INTEGER);
CREATE TABLE ltm_events (id INTEGER PRIMARY KEY, session_id TEXT, event_type TEXT,
  memory_id INTEGER NULL, created_at_ms INTEGER, details TEXT);
CREATE INDEX m10_snap ON ram_snapshots(session_id, timestamp_ms);
CREATE INDEX m10_sum ON summaries(snapshot_id);
CREATE INDEX m10_ent ON entries(snapshot_id);
INSERT INTO sessions VALUES ('old', 1000, 2000, 4);
INSERT INTO ram_snapshots VALUES (1, 'old', 2000, 'manual-reset', 4, 2, 1);
INSERT INTO entries VALUES (1, 1, 1, 'user', 'active', NULL, 'hello from m10', 1500);
INSERT INTO entries VALUES (2, 1, 2, 'assistant', 'active', NULL, 'hi there', 1600);
INSERT INTO summaries VALUES (1, 1, 3, 0, 'older talk', 1700);
INSERT INTO ltm_events VALUES (1, 'old', 'snapshot', NULL, 2000, '{}');
"""


def _snap(key: str, ts: int, n: int = 2, reason: str = "test") -> Snapshot:
    entries = tuple(
        Entry(i, "user", f"{key} entry {i}", "active", None, ts) for i in range(1, n + 1)
    )
    return Snapshot(0, key, ts, reason, n + 1, entries, (Summary(n + 1, 1, "s", ts),))


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(f"PRAGMA table_info({table})")]


def test_open_creates_schema(store: LtmStore, data_dir: Path) -> None:
    path = store_path(data_dir)
    assert path == data_dir / ".spiderweb-ltm" / "memory.db"
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(M10_TABLES) | {"session_metadata", "session_state", "messages"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_m10_database_opens_unchanged(data_dir: Path) -> None:
    path = store_path(data_dir)
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.executescript(M10_DDL)
    before = {t: _columns(conn, t) for t in M10_TABLES}
    conn.close()

    with open_store(data_dir) as s:
        snap = s.load_latest("old")
        assert snap is not None
        assert [e.content for e in snap.entries] == ["hello from m10", "hi there"]
        assert snap.summaries == (Summary(3, 0, "older talk", 1700),)
        assert snap.reason == "manual-reset" and snap.next_id == 4
        new_id = s.archive(_snap("old", 3000)).result()
        assert new_id == 2

    conn = sqlite3.connect(path)
    assert {t: _columns(conn, t) for t in M10_TABLES} == before
    assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 4
    conn.close()
    with open_store(data_dir) as s:  # reopening a migrated file is a no-op
        assert len(s.snapshots("old")) == 2


def test_newer_schema_is_refused(data_dir: Path) -> None:
    path = store_path(data_dir)
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError) as info:
        open_store(data_dir)
    assert str(path) in str(info.value)


def test_unopenable_file_names_path(data_dir: Path) -> None:
    path = store_path(data_dir)
    path.parent.mkdir()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as info:
        open_store(data_dir)
    assert info.value.path == path


def test_archive_and_load_latest(store: LtmStore) -> None:
    assert store.archive(Snapshot(0, "k", 5, "r", 1, (), ())).result() is None
    a = store.archive(_snap("k", 100)).result()
    b = store.archive(_snap("k", 100, n=3)).result()  # same ms: higher id wins
    store.archive(_snap("k", 50)).result()
    latest = store.load_latest("k")
    assert latest is not None and latest.id == b and a is not None and b is not None and b > a
    assert [s.timestamp_ms for s in store.snapshots("k")] == [100, 100, 50]
    assert latest.entries[0] == Entry(1, "user", "k entry 1", "active", None, 100)
    events = store.events("k")
    assert [e["event_type"] for e in events] == ["snapshot"] * 3
    assert store.load_latest("nobody") is None
    infos = store.snapshot_list("k")
    assert (infos[0].entry_count, infos[0].summary_count) == (3, 1)


def test_tombstones_roundtrip(store: LtmStore) -> None:
    entries = (Entry(1, "user", "x", "active"), Entry(2, "system", "[evicted:0] t", "tombstone", 0))
    store.archive(Snapshot(0, "t", 1, "r", 3, entries, ())).result()
    snap = store.load_latest("t")
    assert snap is not None and snap.entries == entries


def _count(store: LtmStore, table: str) -> int:
    conn = sqlite3.connect(store.path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_prune_keeps_newest_24(data_dir: Path) -> None:
    now = 1_000 * DAY
    with open_store(data_dir) as s:
        for i in range(30):
            s.archive(_snap("k", now - i * 1000), prune=False).result()
        res = s.prune(now_ms=now).result()
        assert res.snapshots == 6 and res.entries == 12 and res.summaries == 6
        assert len(s.snapshots("k")) == 24
        assert _count(s, "entries") == 48 and _count(s, "summaries") == 24


def test_prune_by_age_and_orphans(data_dir: Path) -> None:
    now = 1_000 * DAY
    with open_store(data_dir) as s:
        s.archive(_snap("old", now - 31 * DAY), prune=False).result()
        s.archive(_snap("new", now - 29 * DAY), prune=False).result()
        res = s.prune(now_ms=now).result()
        assert res.snapshots == 1 and res.sessions == 1
        assert s.session_ids() == ["new"]
        assert _count(s, "entries") == 2
        assert s.events("old") == []


def test_prune_zero_disables(data_dir: Path) -> None:
    now = 1_000 * DAY
    with open_store(data_dir, LtmConfig(keep_snapshots=0, keep_days=0)) as s:
        for i in range(30):
            s.archive(_snap("k", now - 400 * DAY + i)).result()
        assert s.prune(now_ms=now).result().snapshots == 0
        assert len(s.snapshots("k")) == 30


def test_prune_spares_sessions_with_state(data_dir: Path) -> None:
    now = 1_000 * DAY
    with open_store(data_dir) as s:
        s.archive(_snap("k", now - 40 * DAY), prune=False).result()
        s.commit_session("k", state={"session_id": "k"}, now_ms=now).result()
        assert s.prune(now_ms=now).result().sessions == 0
        assert "k" in s.session_ids()


def test_archive_prunes_its_session(data_dir: Path) -> None:
    with open_store(data_dir, LtmConfig(keep_snapshots=2)) as s:
        for i in range(4):
            s.archive(_snap("k", 10 + i)).result()
        s.archive(_snap("other", 1), prune=False).result()
        assert [x.timestamp_ms for x in s.snapshots("k")] == [13, 12]


def test_commit_session_idempotent_and_history(store: LtmStore) -> None:
    state = {"session_id": "k", "agentId": "a", "next_id": 3}
    msgs = [
        NewMessage("r1", "user", "hi", 1, 10),
        NewMessage("r1", "assistant", "hello", 2, 11),
    ]
    first = store.commit_session(
        "k", state=state, messages=msgs, is_active=True, now_ms=11
    ).result()
    again = store.commit_session("k", state=state, messages=msgs, now_ms=12).result()
    assert (first.inserted, first.message_count) == (2, 2)
    assert (again.inserted, again.message_count) == (0, 2)
    assert store.get_state("k") == state
    row = store.find_message("k", "r1", "assistant")
    assert row is not None and row.memory_id == 2 and row.content == "hello"
    assert [m.role for m in store.find_request("k", "r1")] == ["user", "assistant"]
    assert [m.role for m in store.find_request_now("k", "r1") or []] == ["user", "assistant"]
    assert store.find_message("k", "r2", "user") is None
    meta = store.session_meta("k")
    assert meta is not None and meta.agent_id == "a" and meta.is_active
    assert meta.last_active_ms == 12

    for i in range(2, 8):
        store.commit_session(
            "k", messages=[NewMessage(f"r{i}", "user", f"m{i}", None, 20 + i)], now_ms=30
        ).result()
    page, more = store.history("k", limit=3)
    assert [m.content for m in page] == ["m5", "m6", "m7"] and more
    older, more2 = store.history("k", limit=10, before_id=page[0].id)
    assert [m.content for m in older] == ["hi", "hello", "m2", "m3", "m4"] and not more2
    assert page[0].to_item().keys() == {
        "id",
        "role",
        "content",
        "memoryId",
        "request",
        "createdAtMs",
    }


def test_agents_and_sessions(store: LtmStore) -> None:
    for key, agent, t in [("s1", "a", 5), ("s2", "a", 9), ("s3", "b", 7)]:
        store.commit_session(key, state={"session_id": key, "agentId": agent}, now_ms=t).result()
    assert [(x.agent_id, x.session_count, x.last_active) for x in store.agents()] == [
        ("a", 2, 9),
        ("b", 1, 7),
    ]
    assert [m.session_id for m in store.list_sessions("a")] == ["s2", "s1"]
    assert len(store.all_states()) == 3
    assert store.mark_all_inactive().result() == 0


def test_delete_session(store: LtmStore) -> None:
    store.archive(_snap("k", 1)).result()
    store.commit_session(
        "k",
        state={"session_id": "k", "agentId": "a"},
        messages=[NewMessage("r", "user", "x", 1, 1)],
        now_ms=1,
    ).result()
    assert store.delete_session("k").result() is True
    assert store.session_ids() == []
    assert _count(store, "entries") == 0
    assert store.delete_session("k").result() is False


def test_failing_write_fails_alone(store: LtmStore) -> None:
    def bad(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO sessions(session_id, created_at_ms, updated_at_ms, next_id)"
            " VALUES ('x', 1, 1, 1)"
        )
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    good = store.commit_session("g", state={"session_id": "g"}, now_ms=1)
    failed = store.submit(bad)
    with pytest.raises(sqlite3.OperationalError):
        failed.result()
    assert good.result().inserted == 0
    assert store.get_state("g") == {"session_id": "g"}
    assert "x" not in store.session_ids()


async def test_async_awaiting(store: LtmStore) -> None:
    futs = [
        asyncio.wrap_future(
            store.commit_session("k", messages=[NewMessage(f"r{i}", "user", "x", i, i)], now_ms=i)
        )
        for i in range(50)
    ]
    results = await asyncio.wait_for(asyncio.gather(*futs), 10)
    assert sum(r.inserted for r in results) == 50
    page, _ = await store.read(store.history, "k", limit=500)
    assert len(page) == 50


async def test_archive_falls_back_to_legacy_json(
    store: LtmStore, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    def broken(conn: sqlite3.Connection, snap: Snapshot) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_mod, "_insert_snapshot", broken)
    res = await store.archive_or_fallback(_snap("k", 77))
    assert res.snapshot_id is None and res.legacy_path is not None
    assert res.legacy_path.parent == data_dir / ".spiderweb-ltm"
    monkeypatch.undo()
    report = store.import_legacy()
    assert report.imported == 1
    snap = store.load_latest("k")
    assert snap is not None and snap.timestamp_ms == 77


def test_state_file_import(store: LtmStore, data_dir: Path) -> None:
    (data_dir / STATE_FILE_NAME).write_text(
        '{"version":2,"sessions":[{"session_id":"a","agentId":"x","lastActiveMs":5},'
        '{"session_id":"b"}, 7, {"nokey":1}]}'
    )
    store.commit_session("b", state={"session_id": "b", "kept": True}, now_ms=1).result()
    report = store.import_state_file(now_ms=9)
    assert (report.imported, report.skipped, report.bad) == (1, 1, 2)
    assert store.get_state("b") == {"session_id": "b", "kept": True}
    assert store.get_state("a") == {"session_id": "a", "agentId": "x", "lastActiveMs": 5}
    meta = store.session_meta("a")
    assert meta is not None and meta.last_active_ms == 5


def test_prune_overrides(data_dir: Path) -> None:
    now = 1_000 * DAY
    with open_store(data_dir) as s:
        for i in range(5):
            s.archive(_snap("k", now - i), prune=False).result()
        assert s.prune(now_ms=now, keep=2, days=0).result().snapshots == 3
        assert [x.timestamp_ms for x in s.snapshots("k")] == [now, now - 1]


def test_export_import_roundtrip(tmp_path: Path) -> None:
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    with open_store(src_dir) as src:
        src.archive(_snap("k", 10)).result()
        src.commit_session(
            "k",
            state={"session_id": "k", "agentId": "a", "next_id": 4},
            messages=[
                NewMessage("r1", "user", "hi", 1, 5),
                NewMessage("r1", "assistant", "yo", 2, 6),
            ],
            now_ms=6,
        ).result()
        exported = src.export_sessions()
    assert [s["session_id"] for s in exported["sessions"]] == ["k"]
    with open_store(dst_dir) as dst:
        first = dst.import_sessions(exported, now_ms=100)
        again = dst.import_sessions(exported, now_ms=101)
        assert (first.imported, first.skipped, again.imported, again.skipped) == (1, 0, 0, 1)
        assert dst.get_state("k") == {"session_id": "k", "agentId": "a", "next_id": 4}
        assert [m.content for m in dst.history("k")[0]] == ["hi", "yo"]
        meta = dst.session_meta("k")
        assert meta is not None and meta.message_count == 2 and meta.agent_id == "a"
        snap = dst.load_latest("k")
        assert snap is not None and snap.timestamp_ms == 10 and len(snap.entries) == 2
        assert (
            dst.export_sessions()["sessions"][0]["messages"] == exported["sessions"][0]["messages"]
        )
        bad = dst.import_sessions({"kind": "other"}, now_ms=1)
        assert bad.bad == 1
        partial = dst.import_sessions(
            {"kind": "spiderweb.sessions", "version": 1, "sessions": [{"nope": 1}]}, now_ms=1
        )
        assert (partial.imported, partial.bad) == (0, 1)


def test_lone_surrogates_never_break_writes(store: LtmStore) -> None:
    bad = "hi \ud800 there"
    state = {"session_id": "k", "goal": {"text": bad}, "entries": [bad]}
    store.commit_session(
        "k", state=state, messages=[NewMessage("r", "user", bad, 1, 1)], now_ms=1
    ).result()
    stored = store.get_state("k")
    assert stored is not None and stored["goal"]["text"] == "hi \ufffd there"
    row = store.find_message("k", "r", "user")
    assert row is not None and row.content == "hi \ufffd there"


def test_request_lookup_uses_the_unique_index(store: LtmStore) -> None:
    """Not the (session_id, id) index: that walked every message of the session per turn."""
    conn = sqlite3.connect(store.path)
    try:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN " + store_mod.REQUEST_ROWS_SQL, ("k", "r1")
        ).fetchall()
    finally:
        conn.close()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "session_id=? AND request_id=?" in detail, detail
