"""``memory.recall`` / ``memory.query`` item lists (spec §4.1): pure merging of RAM and LTM.

The caller builds the RAM part from its ``Ram`` (inside the session actor) and
reads the LTM snapshots (newest first) from the store; this module only orders,
deduplicates, filters and caps, so it can be tested without either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from spiderweb.memory.ram import Ram, entry_item, summary_item
from spiderweb.memory.snapshot import Snapshot

Kind = Literal["summary", "entry", "all"]
DEFAULT_LIMIT = 25
MAX_LIMIT = 128


def normalize_limit(limit: int | None, default: int = DEFAULT_LIMIT) -> int:
    """Absent → ``default``; 0, negative or over 128 → 128 (M10 semantics)."""
    if limit is None:
        return default
    if limit <= 0 or limit > MAX_LIMIT:
        return MAX_LIMIT
    return limit


def recall_items(
    ram: Ram,
    snapshots: Iterable[Snapshot],
    *,
    limit: int | None = None,
    include_archived: bool = True,
    include_full: bool = False,
) -> list[dict[str, Any]]:
    """Recall: RAM summaries, RAM active entries, then LTM (entries only with ``include_full``)."""
    cap = normalize_limit(limit)
    return _collect(
        ram,
        snapshots if include_archived else (),
        cap=cap,
        ram_tombstones=False,
        ltm_entries=include_full,
        keep=lambda _item: True,
    )


def query_items(
    ram: Ram,
    snapshots: Iterable[Snapshot],
    *,
    limit: int | None = None,
    include_archived: bool = True,
    kind: Kind = "all",
    topic: str | None = None,
    memory_ids: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """Query: like recall with tombstones and LTM entries, filtered by kind, topic and ids.

    ``topic`` is a case-sensitive substring of the item's text/content; ids
    match the item's own MemoryID.
    """
    cap = normalize_limit(limit)
    wanted = set(memory_ids)

    def keep(item: dict[str, Any]) -> bool:
        if kind != "all" and item["kind"] != kind:
            return False
        if wanted and item["id"] not in wanted:
            return False
        if topic:
            body = item["text"] if item["kind"] == "summary" else item["content"]
            if topic not in body:
                return False
        return True

    return _collect(
        ram,
        snapshots if include_archived else (),
        cap=cap,
        ram_tombstones=True,
        ltm_entries=True,
        keep=keep,
    )


def _collect(
    ram: Ram,
    snapshots: Iterable[Snapshot],
    *,
    cap: int,
    ram_tombstones: bool,
    ltm_entries: bool,
    keep: Callable[[dict[str, Any]], bool],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen_summaries: set[int] = set()

    def add(item: dict[str, Any]) -> bool:
        if keep(item):
            out.append(item)
        return len(out) >= cap

    for item in ram.summary_items():
        seen_summaries.add(item["id"])
        if add(item):
            return out
    for item in ram.entry_items(include_tombstones=ram_tombstones):
        if add(item):
            return out
    for snap in snapshots:
        for s in sorted(snap.summaries, key=lambda s: s.id, reverse=True):
            if s.id in seen_summaries:
                continue
            seen_summaries.add(s.id)
            if add(summary_item(s, "ltm")):
                return out
        if ltm_entries:
            for e in sorted(snap.entries, key=lambda e: e.id, reverse=True):
                if add(entry_item(e, "ltm")):
                    return out
    return out
