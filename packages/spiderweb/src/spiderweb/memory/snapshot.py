"""An archived copy of a session's RAM (one ``ram_snapshots`` row with its children)."""

from __future__ import annotations

from dataclasses import dataclass

from spiderweb.memory.ram import Entry, Summary


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A full RAM copy, tombstones included; ``id`` is the row id (0 before it is stored)."""

    id: int
    session_id: str
    timestamp_ms: int
    reason: str
    next_id: int
    entries: tuple[Entry, ...]
    summaries: tuple[Summary, ...]
