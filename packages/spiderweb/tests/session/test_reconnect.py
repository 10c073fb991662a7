"""Replay ring status rules and restore telemetry (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from spiderweb.memory.ram import Ram
from spiderweb.session.reconnect import ReplayRing, interrupted_progress, restore_progress
from spiderweb.session.state import SessionState


def filled(size: int, start: int, count: int) -> ReplayRing:
    ring = ReplayRing(size, start)
    for seq in range(start, start + count):
        ring.add(seq, f"f{seq}")
    return ring


def test_full_partial_none() -> None:
    ring = filled(4, 1, 10)  # holds 7..10, floor 7
    assert ring.replay(None, 11) == ("none", [])
    assert ring.replay(10, 11) == ("full", [])
    assert ring.replay(6, 11) == ("full", ["f7", "f8", "f9", "f10"])
    assert ring.replay(3, 11) == ("partial", ["f7", "f8", "f9", "f10"])


def test_after_restart_the_ring_cannot_answer_for_old_frames() -> None:
    ring = ReplayRing(8, 1000)  # a new process continues after the reserved block
    assert ring.replay(12, 1000) == ("none", [])
    ring.add(1000, "f1000")
    assert ring.replay(12, 1001) == ("partial", ["f1000"])


def test_disabled_ring_never_claims_full() -> None:
    ring = filled(0, 1, 5)
    assert ring.replay(2, 6) == ("none", [])
    assert ring.replay(5, 6) == ("full", [])


@given(st.integers(1, 20), st.integers(0, 60), st.integers(0, 70))
def test_full_means_every_missed_frame_is_replayed(size: int, count: int, resume: int) -> None:
    ring = filled(size, 1, count)
    status, missed = ring.replay(resume, count + 1)
    expected = [f"f{s}" for s in range(resume + 1, count + 1)]
    if status == "full":
        assert missed == expected
    else:
        assert missed == expected[-len(missed) :] if missed else True
        assert len(missed) < len(expected)


def test_restore_progress_status() -> None:
    state = SessionState("k", "a", Ram(), last_goal="g")
    frame = restore_progress(state, "state").to_wire()
    assert frame["status"] == "state_restored" and frame["source"] == "state"
    assert frame["message"] == "Session restored from previous process state: g"
    assert frame["request"] == "session-restore"
    assert interrupted_progress("r", "k").to_wire()["status"] == "interrupted"
