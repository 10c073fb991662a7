"""Recall/query ordering, dedup, filters and caps (§4.1)."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings
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


@given(
    n_entries=st.integers(min_value=0, max_value=80),
    n_summaries=st.integers(min_value=0, max_value=10),
    n_snaps=st.integers(min_value=0, max_value=4),
    limit=st.integers(min_value=-1, max_value=200),
    full=st.booleans(),
    kind=st.sampled_from(["summary", "entry", "all"]),
)
@settings(max_examples=80, deadline=None)
def test_recall_query_properties(
    n_entries: int, n_summaries: int, n_snaps: int, limit: int, full: bool, kind: str
) -> None:
    ram = Ram()
    for i in range(n_entries):
        ram.update("user", f"e{i}")
    for e in ram.oldest_active(min(n_summaries, max(0, ram.active_count - 1))):
        ram.summarize(e.id, f"s{e.id}")
    snaps = [
        Snapshot(j + 1, "k", 100 - j, "r", ram.next_id, ram.entries, ram.summaries)
        for j in range(n_snaps)
    ]
    cap = normalize_limit(limit)
    items = recall_items(ram, snaps, limit=limit, include_full=full)
    assert len(items) <= cap
    sources = [i["source"] for i in items]
    assert sources == sorted(sources, key=lambda s: s != "ram")  # RAM first, then LTM
    summary_ids = [i["id"] for i in items if i["kind"] == "summary"]
    assert len(summary_ids) == len(set(summary_ids))  # deduplicated by id
    assert all(
        i["state"] == "active" for i in items if i["kind"] == "entry" and i["source"] == "ram"
    )
    if not full:
        assert all(i["kind"] == "summary" for i in items if i["source"] == "ltm")
    q = query_items(ram, snaps, limit=limit, kind=kind)  # type: ignore[arg-type]
    assert len(q) <= cap
    assert kind == "all" or all(i["kind"] == kind for i in q)
