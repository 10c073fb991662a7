"""Legacy JSON snapshots, archive index import and the v2 state file (§5.3, §6)."""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from spiderweb.memory.legacy import (
    INDEX_NAME,
    STATE_FILE_NAME,
    Report,
    latest_legacy_snapshot,
    read_index,
    read_state_file,
    resolve_archive_path,
    write_legacy_snapshot,
    write_state_file,
)
from spiderweb.memory.ram import Entry
from spiderweb.memory.snapshot import Snapshot
from spiderweb.memory.store import LtmStore


def _legacy(
    ltm: Path, key: str, ts: int, name: str | None = None, *, path: str | None = None
) -> str:
    name = name or f"{key}-{ts}.json"
    body = {
        "version": 1,
        "timestamp_ms": ts,
        "session_id": key,
        "reason": "manual-reset",
        "next_id": 3,
        "entries": [
            {
                "id": 1,
                "role": "user",
                "state": "active",
                "content": f"{key}@{ts}",
                "related_to": None,
            }
        ],
        "summaries": [{"id": 2, "source_id": 0, "text": "sum", "created_at_ms": ts}],
    }
    (ltm / name).write_text(json.dumps(body))
    line = {
        "version": 1,
        "timestamp_ms": ts,
        "session_id": key,
        "reason": "manual-reset",
        "archive_path": path or f".spiderweb-ltm/{name}",
        "next_id": 3,
        "entry_count": 1,
        "summary_count": 1,
    }
    return json.dumps(line)


def test_import_legacy_once(store: LtmStore, data_dir: Path) -> None:
    ltm = data_dir / ".spiderweb-ltm"
    outside = data_dir / "outside.json"
    outside.write_text("{}")
    lines = [
        _legacy(ltm, "k", 100),
        _legacy(ltm, "k", 200, path="k-200.json"),  # relative to the LTM dir
        "not json",
        json.dumps({"session_id": "k"}),  # missing fields
        json.dumps(
            {"version": 1, "timestamp_ms": 5, "session_id": "e", "archive_path": "../outside.json"}
        ),
        json.dumps(
            {"version": 1, "timestamp_ms": 6, "session_id": "e", "archive_path": str(outside)}
        ),
        json.dumps(
            {"version": 1, "timestamp_ms": 7, "session_id": "m", "archive_path": "missing.json"}
        ),
    ]
    (ltm / INDEX_NAME).write_text("\n".join(lines) + "\n")
    first = store.import_legacy()
    assert (first.imported, first.skipped, first.bad) == (2, 0, 5)
    snap = store.load_latest("k")
    assert snap is not None and snap.timestamp_ms == 200
    assert snap.entries == (Entry(1, "user", "k@200"),)
    second = store.import_legacy()
    assert (second.imported, second.skipped) == (0, 2)
    assert len(store.snapshots("k")) == 2
    assert [e["event_type"] for e in store.events("k")] == ["legacy_import"] * 2


def test_symlink_escape_refused(data_dir: Path, tmp_path: Path) -> None:
    ltm = data_dir / ".spiderweb-ltm"
    ltm.mkdir(exist_ok=True)
    target = tmp_path / "secret.json"
    target.write_text("{}")
    (ltm / "link.json").symlink_to(target)
    import pytest

    with pytest.raises(ValueError):
        resolve_archive_path(data_dir, "link.json")
    assert resolve_archive_path(data_dir, ".spiderweb-ltm/x.json") == (ltm / "x.json").resolve()


def test_write_and_find_legacy_snapshot(data_dir: Path) -> None:
    snap = Snapshot(0, "a:b", 42, "runtime", 2, (Entry(1, "user", "x"),), ())
    path = write_legacy_snapshot(data_dir, snap)
    assert path.name == "a_b-42.json"
    found = latest_legacy_snapshot(data_dir, "a:b")
    assert found is not None and found.entries == snap.entries and found.timestamp_ms == 42
    assert latest_legacy_snapshot(data_dir, "other") is None


def test_state_file_versions(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE_NAME
    write_state_file(path, [{"session_id": "a", "next_id": 3}])
    assert json.loads(path.read_text()) == {
        "version": 2,
        "sessions": [{"session_id": "a", "next_id": 3}],
    }
    assert read_state_file(path) == [{"session_id": "a", "next_id": 3}]
    for version in (0, 3):
        path.write_text(json.dumps({"version": version, "sessions": [{"session_id": "a"}]}))
        report = Report()
        assert read_state_file(path, report) == []
        assert report.bad == 1 and "version" in report.warnings[0]
    path.write_text(json.dumps({"sessions": [{"session_id": "a"}, "x"]}))  # missing → 2
    report = Report()
    assert read_state_file(path, report) == [{"session_id": "a"}]
    assert report.bad == 1
    path.write_text("{broken")
    assert read_state_file(path) == []
    assert read_state_file(tmp_path / "absent.json") == []


@given(st.lists(st.binary(max_size=200), max_size=20))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_index_reader_never_raises(tmp_path: Path, lines: list[bytes]) -> None:
    """Arbitrary bytes in the index: every line is parsed or counted as bad, never raised."""
    ltm = tmp_path / "ltm"
    ltm.mkdir(exist_ok=True)
    (ltm / INDEX_NAME).write_bytes(b"\n".join(lines))
    report = Report()
    parsed = read_index(ltm, report)
    nonblank = sum(1 for chunk in b"\n".join(lines).split(b"\n") if chunk.strip(b" \t\r"))
    assert len(parsed) + report.bad == nonblank
