"""Goal/task state machine (§9): admission, live counters, settle, interrupt, persistence."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from spiderweb.brain.goals import (
    Goal,
    admit,
    default_tasks,
    finished_frames,
    kind_for,
    plan_entry,
    plan_frames,
    result_entry,
)


def goal_of(n: int, cap: int = 4) -> Goal:
    tasks = admit([(f"t{i}", kind_for(i)) for i in range(n)], cap)
    return Goal("g", "r", "deterministic", "running", tasks)


def test_admission_and_counters() -> None:
    g = goal_of(5)
    assert [t.status for t in g.tasks] == ["queued"] * 4 + ["dropped"]
    assert (g.queued, g.active, g.dropped, g.accepted) == (4, 0, 1, 4)
    g.start_task(1, 1)
    g.start_task(2, 1)
    assert (g.queued, g.active) == (2, 2)
    assert g.finish_task(1, "complete", "ok", 2)
    assert not g.finish_task(1, "failed", "late", 3)  # a late result is ignored
    assert (g.queued, g.active) == (2, 1)


def test_goal_fails_only_if_all_tasks_fail() -> None:
    g = goal_of(2)
    for t in g.tasks:
        g.start_task(t.id, 1)
    g.finish_task(1, "failed", "x", 2)
    g.finish_task(2, "timeout", "y", 2)
    assert g.settle(3) and g.state == "failed"
    g2 = goal_of(2)
    for t in g2.tasks:
        g2.start_task(t.id, 1)
    g2.finish_task(1, "failed", "x", 2)
    assert not g2.settle(2)
    g2.finish_task(2, "complete", "y", 2)
    assert g2.settle(3) and g2.state == "completed"
    assert (g2.queued, g2.active) == (0, 0)


def test_cancel_interrupt_and_round_trip() -> None:
    g = goal_of(3)
    g.start_task(1, 1)
    running = g.cancel_all(2)
    assert [t.id for t in running] == [1]
    assert g.state == "cancelled" and (g.queued, g.active) == (0, 0)
    h = goal_of(3)
    h.start_task(2, 1)
    h.interrupt(5)
    assert h.state == "interrupted" and h.active == 0 and h.queued == 3
    assert Goal.from_dict(h.to_dict()) == h


def test_result_entry_is_capped_at_1_kib() -> None:
    g = goal_of(1)
    g.start_task(1, 0)
    g.finish_task(1, "complete", "é" * 2000, 1)
    text = result_entry(g.tasks[0])
    assert text.startswith("[task 1 research complete] ")
    assert len(text.encode()) <= 1024


def test_default_tasks_rotate_kinds() -> None:
    assert [k for _, k in default_tasks()] == ["research", "execution", "status"]


@given(
    st.integers(1, 8),
    st.lists(st.tuples(st.sampled_from(["start", "finish", "cancel"]), st.integers(1, 8))),
)
def test_counters_never_negative_and_zero_when_done(n: int, ops: list[tuple[str, int]]) -> None:
    g = goal_of(n)
    for op, tid in ops:
        if tid > n:
            continue
        t = g.task(tid)
        if op == "start" and t.status == "queued" and not g.finished:
            g.start_task(tid, 0)
        elif op == "finish" and t.status == "running":
            g.finish_task(tid, "complete", "", 0)
        elif op == "cancel":
            g.cancel_all(0)
        g.settle(0)
        assert g.queued >= 0 and g.active >= 0
        assert g.queued + g.active + g.dropped <= n
        if g.finished:
            assert (g.queued, g.active) == (0, 0)


def wire(frame: Any) -> dict[str, Any]:
    value: dict[str, Any] = frame.to_wire()
    return value


def test_plan_frames_order_and_dropped_status() -> None:
    g = goal_of(5)
    frames = plan_frames(g, "k")
    names = [w["type"] if w["type"] != "agent.progress" else w["status"] for w in map(wire, frames)]
    assert names == ["agent.plan", "ready", "saturated", "queued"]
    plan = frames[0].to_wire()
    assert [t["status"] for t in plan["tasks"]] == ["queued"] * 4 + ["dropped"]
    assert wire(frames[1])["message"] == "I have a deterministic plan with 5 task(s) for this goal."
    sat = frames[2].to_wire()
    assert (sat["accepted"], sat["total"], sat["dropped"], sat["queued"]) == (4, 5, 1, 4)
    two = plan_frames(goal_of(2), "k")[1:]
    assert [wire(f)["status"] for f in two] == ["ready", "queued"]
    assert plan_entry(goal_of(2)) == "Primary Brain plan for goal: g\n1. t0\n2. t1"


def test_finished_frames() -> None:
    g = goal_of(1)
    g.start_task(1, 0)
    g.finish_task(1, "failed", "x", 0)
    g.settle(0)
    assert [f.to_wire()["status"] for f in finished_frames(g, "k")] == ["failed", "ready"]
