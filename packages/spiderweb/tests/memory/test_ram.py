"""RAM (§5.1): unit rules plus a hypothesis state machine over the invariants (§17.5)."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import orjson
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from spiderweb.memory.ram import (
    SUMMARY_CONTEXT_BYTES,
    Entry,
    Ram,
    RamLimits,
    Summary,
    truncate_entry,
    truncate_utf8,
    utf8_len,
)


def test_ids_start_at_one_and_increase() -> None:
    ram = Ram()
    a = ram.update("user", "hi").entry
    b = ram.update("assistant", "hello").entry
    assert (a.id, b.id) == (1, 2)
    assert ram.next_id == 3


def test_reset_keeps_ids_monotonic() -> None:
    ram = Ram()
    ram.update("user", "x")
    ram.reset()
    assert ram.is_empty()
    assert ram.update("user", "y").entry.id == 2


def test_65th_entry_does_not_wipe_context() -> None:
    """D1: the hard limit counts active entries only."""
    ram = Ram()
    for i in range(200):
        res = ram.update("user", f"m{i}")
        assert ram.active_count <= 64
    assert ram.active_count == 64
    assert ram.tombstone_count == 64
    assert res.entry.state == "active"
    assert ram.load()[-1].content == "m199"


def test_evict_writes_tombstone_text() -> None:
    ram = Ram(RamLimits(max_context_messages=2))
    ram.update("user", "a")
    ram.update("user", "b")
    res = ram.update("user", "c")
    assert res.evicted == (1,)
    tomb = ram.entries[-1]
    assert tomb == Entry(4, "system", "[evicted:1] [evicted context entry]", "tombstone", 1, 0)


def test_big_reply_is_truncated_not_self_evicted() -> None:
    """D2: a reply over 16 KiB is kept as a truncated copy."""
    ram = Ram()
    ram.update("user", "question")
    res = ram.update("assistant", "é" * 20000)
    assert res.entry.state == "active"
    assert utf8_len(res.entry.content) <= 8192
    assert res.entry.content.endswith(f" …[truncated {res.truncated_bytes} bytes]")
    kept = res.entry.content.split(" …[truncated")[0]
    assert kept == "é" * (len(kept))
    assert utf8_len(kept) + res.truncated_bytes == 40000
    assert ram.load()[0].content == "question"


def test_single_entry_never_evicts_itself() -> None:
    ram = Ram(RamLimits(max_context_bytes=100, max_entry_bytes=500))
    res = ram.update("user", "x" * 400)
    assert res.evicted == ()
    assert ram.active_count == 1


def test_truncate_utf8_char_boundary() -> None:
    assert truncate_utf8("aé", 2) == "a"
    assert truncate_utf8("🙂🙂", 5) == "🙂"
    assert truncate_utf8("abc", 10) == "abc"


def test_truncate_entry_fits_exactly() -> None:
    for n in range(64, 300, 7):
        text, dropped = truncate_entry("x" * 1000, n)
        assert utf8_len(text) == n
        assert dropped == 1000 - text.index(" …")


def test_summarize_replaces_entry() -> None:
    ram = Ram()
    ram.update("user", "first")
    ram.update("user", "second")
    s = ram.summarize(1, "sum of first", now_ms=7)
    assert s == Summary(3, 1, "sum of first", 7)
    assert [e.id for e in ram.load()] == [2]
    assert ram.entries[-1] == Entry(4, "system", "[summarized:1] sum of first", "tombstone", 1, 7)
    assert ram.summarize(1, "again") is None
    assert ram.next_id == 5


def test_summary_and_tombstone_caps() -> None:
    ram = Ram(RamLimits(max_tombstones=3, max_summaries=2))
    for i in range(10):
        ram.update("user", f"e{i}")
    for i in range(1, 6):
        ram.summarize(i, f"s{i}")
    assert [s.source_id for s in ram.summaries] == [4, 5]
    assert ram.tombstone_count == 3


def test_model_context_order() -> None:
    ram = Ram()
    ram.update("user", "a")
    ram.update("assistant", "b")
    ram.update("tool_result", "[task 1 research complete] ok")
    ram.summarize(1, "user said a")
    ctx = ram.model_context("You are X.")
    assert [(m.role, m.content) for m in ctx] == [
        ("system", "You are X."),
        ("system", "Earlier conversation (summaries):\n- user said a"),
        ("assistant", "b"),
        ("system", "[task 1 research complete] ok"),
    ]
    assert len(Ram().model_context("I")) == 1


def test_summary_block_budget_keeps_newest() -> None:
    ram = Ram(RamLimits(max_context_messages=1000, max_context_bytes=10**6))
    for i in range(100):
        ram.update("user", f"e{i}")
    for i in range(1, 100):
        ram.summarize(i, f"summary number {i:03d} " + "z" * 60)
    block = ram.summary_block()
    assert block is not None
    assert utf8_len(block) <= SUMMARY_CONTEXT_BYTES
    assert block.endswith("summary number 099 " + "z" * 60)
    assert "summary number 001" not in block


def test_state_roundtrip() -> None:
    ram = Ram()
    for i in range(70):
        ram.update("user" if i % 2 else "assistant", f"m{i}", now_ms=i)
    ram.summarize(ram.load()[0].id, "s")
    state = ram.to_state()
    back = Ram.from_state(state)
    assert back.to_state() == state
    assert back.next_id == ram.next_id


def test_from_state_accepts_m10_entries_without_created_at() -> None:
    state: dict[str, Any] = {
        "next_id": 2,
        "entries": [
            {"id": 5, "role": "user", "state": "active", "content": "x", "related_to": None}
        ],
        "summaries": [],
    }
    ram = Ram.from_state(state)
    assert ram.next_id == 6  # raised above every stored id
    assert ram.load()[0].created_at_ms == 0


def test_from_state_rejects_malformed() -> None:
    import pytest

    for bad in (
        {"entries": [{"id": "1", "role": "user", "content": "x"}]},
        {"entries": [{"id": 1, "role": "robot", "content": "x"}]},
        {"entries": "nope"},
        {"entries": [{"id": 1, "role": "user", "content": "x"}] * 2},
        {"next_id": "3"},
    ):
        with pytest.raises(ValueError):
            Ram.from_state(bad)


def test_from_snapshot_takes_newest_actives_within_limits() -> None:
    entries = [Entry(i, "user", "x" * 1000) for i in range(1, 40)]
    entries.append(Entry(40, "system", "[evicted:0] t", "tombstone", 0))
    ram = Ram.from_snapshot(entries, [Summary(41, 0, "s")], next_id=42)
    ids = [e.id for e in ram.load()]
    assert ids == list(range(24, 40))  # 16 × 1000 bytes fit in 16384
    assert ram.tombstone_count == 0
    assert ram.summary_count == 1
    assert ram.next_id == 42


def test_items_newest_first() -> None:
    ram = Ram(RamLimits(max_context_messages=2))
    for c in "abc":
        ram.update("user", c)
    assert [i["id"] for i in ram.entry_items(include_tombstones=False)] == [3, 2]
    assert [i["id"] for i in ram.entry_items(include_tombstones=True)] == [4, 3, 2]
    item = ram.entry_items(include_tombstones=True)[0]
    assert item == {
        "kind": "entry",
        "source": "ram",
        "id": 4,
        "role": "system",
        "state": "tombstone",
        "related_to": 1,
        "content": "[evicted:1] [evicted context entry]",
    }


_text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=600
)


class RamMachine(RuleBasedStateMachine):
    """Any mix of appends, evictions, summaries and resets keeps §5.1's invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.ram = Ram(RamLimits(max_entry_bytes=2000))
        self.last_id = 0
        self.last_appended: int | None = None
        self.appends = 0

    @rule(
        role=st.sampled_from(["user", "assistant", "system", "tool_result"]),
        content=_text,
        big=st.booleans(),
    )
    def append(self, role: Any, content: str, big: bool) -> None:
        res = self.ram.update(role, content * 8 if big else content)
        assert res.entry.id > self.last_id
        self.last_appended = res.entry.id
        self.last_id = self.ram.next_id - 1

    @rule(n=st.integers(min_value=1, max_value=20), size=st.integers(min_value=0, max_value=3000))
    def append_burst(self, n: int, size: int) -> None:
        """Many appends per run (the spec asks for 200+), some near the byte limits."""
        for i in range(n):
            res = self.ram.update("assistant", "é" * (size // 2) + str(i))
            assert res.entry.id > self.last_id
            self.last_appended = res.entry.id
            self.last_id = self.ram.next_id - 1
            self.appends += 1

    @rule()
    def evict(self) -> None:
        if self.ram.evict() is not None:
            self.last_id = self.ram.next_id - 1
            if self.ram.get(self.last_appended or -1) is None:
                self.last_appended = None

    @rule(pick=st.integers(min_value=0, max_value=3), text=_text)
    def summarize(self, pick: int, text: str) -> None:
        actives = self.ram.load()
        if actives:
            target = actives[min(pick, len(actives) - 1)]
            assert self.ram.summarize(target.id, text[:200]) is not None
            self.last_id = self.ram.next_id - 1
            if target.id == self.last_appended:
                self.last_appended = None

    @rule()
    def reset(self) -> None:
        self.ram.reset()
        self.last_appended = None

    @invariant()
    def limits_hold(self) -> None:
        actives = self.ram.load()
        assert len(actives) <= 64
        assert sum(utf8_len(e.content) for e in actives) <= 16384
        assert self.ram.active_count == len(actives)
        assert self.ram.tombstone_count <= 64
        assert self.ram.summary_count <= 64

    @invariant()
    def ids_increase(self) -> None:
        ids = [e.id for e in self.ram.entries]
        assert ids == sorted(set(ids))
        assert all(i < self.ram.next_id for i in ids)
        assert all(s.id < self.ram.next_id for s in self.ram.summaries)

    @invariant()
    def tombstones_reference_inactive(self) -> None:
        active_ids = {e.id for e in self.ram.load()}
        for e in self.ram.entries:
            if e.state == "tombstone":
                assert e.related_to not in active_ids

    @invariant()
    def newest_append_active(self) -> None:
        if self.last_appended is not None:
            entry = self.ram.get(self.last_appended)
            assert entry is not None and entry.state == "active"

    @rule()
    def state_roundtrips(self) -> None:
        assert Ram.from_state(self.ram.to_state()).to_state() == self.ram.to_state()

    @rule()
    def encoded_state_matches(self) -> None:
        """The incrementally kept JSON equals encoding the lists from scratch (write-through)."""
        entries, summaries = self.ram.state_json_parts()
        state = self.ram.to_state()
        assert orjson.loads(entries) == state["entries"]
        assert orjson.loads(summaries) == state["summaries"]
        restored = Ram.from_state(state, self.ram.limits)
        assert orjson.loads(restored.state_json_parts()[0]) == restored.to_state()["entries"]

    @rule()
    def model_context_matches(self) -> None:
        ctx = [(m.role, m.content) for m in self.ram.model_context("I am.")]
        block = self.ram.summary_block()
        expected = [("system", "I am.")] + ([("system", block)] if block is not None else [])
        expected += [
            (e.role if e.role in ("user", "assistant") else "system", e.content)
            for e in self.ram.load()
        ]
        assert ctx == expected


TestRamMachine = RamMachine.TestCase
TestRamMachine.settings = settings(max_examples=40, stateful_step_count=120, deadline=None)


def test_lone_surrogates_are_replaced() -> None:
    ram = Ram()
    entry = ram.update("user", "a\udc80b").entry
    assert entry.content == "a\ufffdb"
    assert ram.summarize(entry.id, "s\ud800") is not None
    assert ram.summaries[0].text == "s\ufffd"


def test_model_context_cache_follows_every_change() -> None:
    """The cached messages always equal a context built from scratch."""

    def fresh(ram: Ram, identity: str) -> list[tuple[str, str]]:
        out = [("system", identity)]
        block = ram.summary_block()
        if block is not None:
            out.append(("system", block))
        for e in ram.load():
            out.append((e.role if e.role in ("user", "assistant") else "system", e.content))
        return out

    ram = Ram(RamLimits(max_context_messages=8, max_context_bytes=400, max_summaries=3))
    for i in range(60):
        identity = "You are X." if i < 30 else "You are Y."
        ram.update("user" if i % 3 else "tool_result", f"message {i} " + "z" * (i % 7) * 9)
        if i % 4 == 0:
            oldest = ram.oldest_active(1)
            if oldest:
                ram.summarize(oldest[0].id, f"summary of {oldest[0].id}")
        if i == 40:
            ram.reset()
        ctx = ram.model_context(identity)
        assert [(m.role, m.content) for m in ctx] == fresh(ram, identity)
        assert ram.model_context(identity) is not ctx  # a new list each call
