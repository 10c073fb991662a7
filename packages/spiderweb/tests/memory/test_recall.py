"""Recall/query ordering, dedup, filters and caps (§4.1)."""

from __future__ import annotations

from spiderweb.memory.ram import Entry, Ram, RamLimits, Summary
from spiderweb.memory.recall import normalize_limit, query_items, recall_items
from spiderweb.memory.snapshot import Snapshot


def _ram() -> Ram:
    ram = Ram(RamLimits(max_context_messages=3))
    for c in ["alpha", "beta", "gamma", "delta"]:
        ram.update("user", c)  # 1..4, evicting 1 -> tombstone 5
    ram.summarize(2, "sum beta")  # summary 6, tombstone 7
    return ram


def _snaps() -> list[Snapshot]:
    old = Snapshot(1, "k", 100, "r", 3, (Entry(1, "user", "alpha"),), (Summary(9, 1, "old sum"),))
    new = Snapshot(
        2,
        "k",
        200,
        "r",
        8,
        (Entry(3, "user", "gamma"), Entry(4, "user", "delta")),
        (Summary(6, 2, "sum beta"), Summary(9, 1, "old sum")),
    )
    return [new, old]


def test_normalize_limit() -> None:
    assert normalize_limit(None) == 25
    assert normalize_limit(0) == 128
    assert normalize_limit(129) == 128
    assert normalize_limit(7) == 7


def test_recall_order_and_dedup() -> None:
    items = recall_items(_ram(), _snaps())
    assert [(i["kind"], i["source"], i["id"]) for i in items] == [
        ("summary", "ram", 6),
        ("entry", "ram", 4),
        ("entry", "ram", 3),
        ("summary", "ltm", 9),
    ]


def test_recall_full_and_not_archived() -> None:
    full = recall_items(_ram(), _snaps(), include_full=True)
    assert [(i["source"], i["id"]) for i in full][3:] == [
        ("ltm", 9),
        ("ltm", 4),
        ("ltm", 3),
        ("ltm", 1),
    ]
    assert all(i["source"] == "ram" for i in recall_items(_ram(), _snaps(), include_archived=False))


def test_recall_limit_caps_total() -> None:
    assert len(recall_items(_ram(), _snaps(), limit=2, include_full=True)) == 2


def test_query_includes_tombstones_and_filters() -> None:
    items = query_items(_ram(), _snaps(), include_archived=False)
    assert [i["id"] for i in items] == [6, 7, 5, 4, 3]
    only_entries = query_items(_ram(), _snaps(), kind="entry")
    assert all(i["kind"] == "entry" for i in only_entries)
    assert [i["source"] for i in only_entries].count("ltm") == 3
    topic = query_items(_ram(), _snaps(), topic="beta")
    assert [(i["kind"], i["id"]) for i in topic] == [("summary", 6), ("entry", 7)]
    assert query_items(_ram(), _snaps(), topic="BETA") == []
    by_id = query_items(_ram(), _snaps(), memory_ids=[4, 9])
    assert [(i["source"], i["id"]) for i in by_id] == [("ram", 4), ("ltm", 9), ("ltm", 4)]
