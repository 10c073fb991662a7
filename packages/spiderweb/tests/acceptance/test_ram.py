"""Acceptance 5: 200+ appends (with summaries and /new resets) under the default limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from spiderweb.memory.ram import Ram, RamLimits

op = st.one_of(
    st.tuples(st.just("append"), st.text(max_size=40), st.integers(0, 9000)),
    st.tuples(st.just("summarize"), st.text(max_size=80), st.integers(0, 0)),
    st.tuples(st.just("new"), st.just(""), st.integers(0, 0)),
)
appends = st.tuples(st.just("append"), st.text(max_size=40), st.integers(0, 1500))


def check(ram: Ram, last_appended: int | None, limits: RamLimits) -> None:
    active = [e for e in ram.entries if e.state == "active"]
    assert len(active) <= limits.max_context_messages
    assert ram.active_bytes <= limits.max_context_bytes
    assert ram.active_bytes == sum(len(e.content.encode()) for e in active)
    assert ram.tombstone_count <= limits.max_tombstones
    assert ram.summary_count <= limits.max_summaries
    if last_appended is not None:  # the newest entry is always active
        newest = ram.get(last_appended)
        assert newest is not None and newest.state == "active"
    active_ids = {e.id for e in active}
    for e in ram.entries:
        if e.state == "tombstone":
            assert e.related_to is not None and e.related_to not in active_ids


@settings(max_examples=25, deadline=None)
@given(st.lists(appends, min_size=200, max_size=260), st.lists(op, max_size=60))
def test_two_hundred_appends_keep_every_limit(
    bulk: list[tuple[str, str, int]], mixed: list[tuple[str, str, int]]
) -> None:
    limits = RamLimits()
    ram = Ram(limits)
    seen: list[int] = []
    last: int | None = None
    for kind, text, pad in [*bulk, *mixed]:
        if kind == "append":
            entry = ram.update("user", text + "x" * pad).entry
            assert entry.id > max(seen, default=0)  # increasing, also across /new
            last = entry.id
        elif kind == "summarize":
            oldest = ram.oldest_active(1)
            if oldest and oldest[0].id != last:
                ram.summarize(oldest[0].id, text)
        else:
            ram.reset()  # /new: RAM emptied, ids keep counting
            last = None
        ids = [e.id for e in ram.entries] + [s.id for s in ram.summaries]
        seen += ids
        check(ram, last, limits)
        assert ram.next_id > max(seen, default=0)
    appended = [e.id for e in ram.entries]
    assert appended == sorted(appended) and len(set(appended)) == len(appended)
