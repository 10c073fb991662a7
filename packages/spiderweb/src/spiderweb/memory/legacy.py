"""Legacy file formats (spec §5.3, §6): M10 JSON snapshots, their NDJSON index, state file v2.

Pure readers/writers of files under the data dir; the store decides what to
import. Readers never raise on bad content: they skip it and return a warning,
because a damaged legacy file must not stop a server from starting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundwork import jsonio
from groundwork.fsio import atomic_write, fsync_dir

from spiderweb.memory.ram import Entry, Summary
from spiderweb.memory.snapshot import Snapshot

LTM_DIRNAME = ".spiderweb-ltm"
INDEX_NAME = "archive-index.ndjson"
STATE_FILE_NAME = ".spiderweb-session-state.json"
STATE_VERSION = 2
MAX_LINE_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class IndexLine:
    """One ``archive-index.ndjson`` record."""

    version: int
    timestamp_ms: int
    session_id: str
    reason: str
    archive_path: str
    next_id: int
    entry_count: int
    summary_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "timestamp_ms": self.timestamp_ms,
            "session_id": self.session_id,
            "reason": self.reason,
            "archive_path": self.archive_path,
            "next_id": self.next_id,
            "entry_count": self.entry_count,
            "summary_count": self.summary_count,
        }


@dataclass(slots=True)
class Report:
    """What an import or read did: counts plus one warning line per skipped item."""

    imported: int = 0
    skipped: int = 0
    bad: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.bad += 1
        self.warnings.append(message)


def _int(raw: Mapping[str, Any], key: str, default: int | None = None) -> int:
    v = raw.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{key} must be an int")
    return v


def parse_index_line(raw: object) -> IndexLine:
    if not isinstance(raw, dict):
        raise ValueError("index line is not an object")
    session_id = raw.get("session_id")
    archive_path = raw.get("archive_path")
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("session_id must be a non-empty string")
    if not isinstance(archive_path, str) or not archive_path:
        raise ValueError("archive_path must be a non-empty string")
    reason = raw.get("reason", "")
    return IndexLine(
        version=_int(raw, "version", 1),
        timestamp_ms=_int(raw, "timestamp_ms"),
        session_id=session_id,
        reason=reason if isinstance(reason, str) else "",
        archive_path=archive_path,
        next_id=_int(raw, "next_id", 1),
        entry_count=_int(raw, "entry_count", 0),
        summary_count=_int(raw, "summary_count", 0),
    )


def read_index(ltm_dir: Path, report: Report | None = None) -> list[IndexLine]:
    """Every valid line of the archive index (missing file → none); bad lines are warned."""
    report = report if report is not None else Report()
    path = ltm_dir / INDEX_NAME
    if not path.is_file():
        return []
    out: list[IndexLine] = []
    for value in jsonio.iter_jsonl(path, MAX_LINE_BYTES):
        if isinstance(value, jsonio.BadLine):
            report.warn(f"{path}:{value.line_no}: bad index line skipped ({value.kind})")
            continue
        try:
            out.append(parse_index_line(value))
        except ValueError as exc:
            report.warn(f"{path}: bad index line skipped ({exc})")
    return out


def resolve_archive_path(data_dir: Path, archive_path: str) -> Path:
    """Where an index line's file is, refusing anything outside ``.spiderweb-ltm/``.

    M10 wrote paths relative to its working directory (the data dir), so
    ``.spiderweb-ltm/x.json`` is joined to the data dir; a bare name to the LTM
    dir; an absolute path is taken as is. All must resolve inside the LTM dir.
    """
    ltm_dir = data_dir / LTM_DIRNAME
    if "\x00" in archive_path:
        raise ValueError("archive path contains NUL")
    p = Path(archive_path)
    if p.is_absolute():
        candidate = p
    elif p.parts and p.parts[0] == LTM_DIRNAME:
        candidate = data_dir / p
    else:
        candidate = ltm_dir / p
    real_root = os.path.realpath(ltm_dir)
    real = os.path.realpath(candidate)
    if not real.startswith(real_root.rstrip("/") + "/"):
        raise ValueError(f"archive path {archive_path!r} is outside {LTM_DIRNAME}/")
    return Path(real)


def parse_snapshot(raw: object, *, fallback_session: str | None = None) -> Snapshot:
    """A legacy snapshot object as a ``Snapshot`` (id 0); raises ``ValueError`` if malformed."""
    if not isinstance(raw, dict):
        raise ValueError("snapshot is not an object")
    session_id = raw.get("session_id", fallback_session)
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("session_id must be a non-empty string")
    entries = raw.get("entries", [])
    summaries = raw.get("summaries", [])
    if not isinstance(entries, list) or not isinstance(summaries, list):
        raise ValueError("entries and summaries must be lists")
    parsed_entries = tuple(Entry.from_dict(_mapping(e)) for e in entries)
    parsed_summaries = tuple(Summary.from_dict(_mapping(s)) for s in summaries)
    reason = raw.get("reason", "")
    return Snapshot(
        id=0,
        session_id=session_id,
        timestamp_ms=_int(raw, "timestamp_ms"),
        reason=reason if isinstance(reason, str) else "",
        next_id=_int(raw, "next_id", 1),
        entries=parsed_entries,
        summaries=parsed_summaries,
    )


def read_snapshot_file(path: Path, *, max_bytes: int = 64 * 1_048_576) -> Snapshot:
    """Read one legacy JSON snapshot; raises ``ValueError`` (or ``OSError``) on a bad file."""
    if path.stat().st_size > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes} bytes")
    try:
        raw = jsonio.loads(path.read_bytes())
    except jsonio.JsonError as exc:
        raise ValueError(str(exc)) from exc
    return parse_snapshot(raw)


def snapshot_to_legacy(snap: Snapshot) -> dict[str, Any]:
    return {
        "version": 1,
        "timestamp_ms": snap.timestamp_ms,
        "session_id": snap.session_id,
        "reason": snap.reason,
        "next_id": snap.next_id,
        "entries": [e.to_dict() for e in snap.entries],
        "summaries": [s.to_dict() for s in snap.summaries],
    }


def _safe_name(session_id: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in session_id)[:128] or "session"


def write_legacy_snapshot(data_dir: Path, snap: Snapshot) -> Path:
    """Fallback archive when SQLite fails: ``<session>-<ms>.json`` plus an index line.

    The JSON file is written atomically before the index line is appended, so
    the index never names a half-written file; the next start imports it.
    """
    ltm_dir = data_dir / LTM_DIRNAME
    ltm_dir.mkdir(parents=True, exist_ok=True)
    name = f"{_safe_name(snap.session_id)}-{snap.timestamp_ms}.json"
    path = ltm_dir / name
    atomic_write(path, jsonio.dumps(snapshot_to_legacy(snap)))
    line = IndexLine(
        1,
        snap.timestamp_ms,
        snap.session_id,
        snap.reason,
        f"{LTM_DIRNAME}/{name}",
        snap.next_id,
        len(snap.entries),
        len(snap.summaries),
    )
    index = ltm_dir / INDEX_NAME
    with index.open("ab") as fh:
        fh.write(jsonio.dumps(line.to_dict()) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(ltm_dir)
    return path


def latest_legacy_snapshot(data_dir: Path, session_id: str) -> Snapshot | None:
    """The newest readable legacy snapshot of ``session_id`` (restore source 4)."""
    lines = [ln for ln in read_index(data_dir / LTM_DIRNAME) if ln.session_id == session_id]
    for ln in sorted(lines, key=lambda ln: ln.timestamp_ms, reverse=True):
        try:
            snap = read_snapshot_file(resolve_archive_path(data_dir, ln.archive_path))
        except (OSError, ValueError):
            continue
        if snap.session_id == session_id:
            return snap
    return None


# -- .spiderweb-session-state.json (state v2) ---------------------------------------------
def read_state_file(path: Path, report: Report | None = None) -> list[dict[str, Any]]:
    """Session objects of a state file; version 0 or > 2 → ignored; bad sessions skipped."""
    report = report if report is not None else Report()
    if not path.is_file():
        return []
    try:
        raw = jsonio.loads(path.read_bytes())
    except (OSError, jsonio.JsonError) as exc:
        report.warn(f"{path}: unreadable state file ignored ({exc})")
        return []
    if not isinstance(raw, dict):
        report.warn(f"{path}: state file is not an object; ignored")
        return []
    version = raw.get("version", STATE_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 2:
        report.warn(f"{path}: state file version {version!r} not supported; ignored")
        return []
    sessions = raw.get("sessions", [])
    if not isinstance(sessions, list):
        report.warn(f"{path}: sessions is not a list; ignored")
        return []
    out: list[dict[str, Any]] = []
    for i, s in enumerate(sessions):
        key = s.get("session_id") if isinstance(s, dict) else None
        if not isinstance(s, dict) or not isinstance(key, str) or not key:
            report.warn(f"{path}: session #{i} malformed; skipped")
            continue
        out.append(s)
    return out


def write_state_file(path: Path, sessions: Sequence[Mapping[str, Any]]) -> None:
    """Write ``{"version":2,"sessions":[…]}`` atomically (old or new content after a crash)."""
    atomic_write(path, jsonio.dumps({"version": STATE_VERSION, "sessions": list(sessions)}))


def _mapping(v: object) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ValueError("expected an object")
    return v
