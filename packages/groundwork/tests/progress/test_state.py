"""ProgressState: the reducer behind renderers and TUIs."""

from __future__ import annotations

from typing import Any

from groundwork.progress.emitter import Emitter
from groundwork.progress.events import Event
from groundwork.progress.state import ProgressState
from hypothesis import given
from hypothesis import strategies as st


def recorded() -> tuple[Emitter, list[Event]]:
    got: list[Event] = []
    return Emitter(got.append, throttle_s=0), got


def test_tasks_follow_start_progress_end() -> None:
    em, got = recorded()
    em.task_start("code:scan", "Scanning code", mode="code")
    em.task_progress("code:scan", 24, 120, unit="files", data={"phase": "scan"})
    state = ProgressState()
    state.apply_all(got)
    task = state.tasks[(None, "code:scan")]
    assert (task.name, task.stage, task.mode, task.status) == (
        "Scanning code",
        "code",
        "code",
        "running",
    )
    assert (task.current, task.total, task.unit, task.percent) == (24, 120, "files", 20)
    assert task.extra == {"data": {"phase": "scan"}}
    assert task.key == (None, "code:scan") and not task.finished
    assert state.active_tasks() == [task]
    em.task_end("code:scan")
    state.apply(got[-1])
    done = state.tasks[(None, "code:scan")]
    assert done.status == "ok" and done.finished
    assert (done.current, done.percent) == (120, 100.0)
    assert done.duration_ms is not None and done.ended_at == got[-1].ts
    assert state.active_tasks() == []
    assert state.applied == 3


def test_progress_without_start_and_computed_percent() -> None:
    em, got = recorded()
    em.task_progress("prose:x", 1, 4, percent=None)
    em.task_progress("idle", 3)
    state = ProgressState()
    state.apply_all(got)
    task = state.tasks[(None, "prose:x")]
    assert (task.name, task.stage, task.percent) == ("prose:x", "prose", 25)
    idle = state.tasks[(None, "idle")]
    assert idle.total is None and idle.percent is None


def test_failed_task_keeps_count_and_error() -> None:
    em, got = recorded()
    em.task_start("a", total=10)
    em.task_progress("a", 3)
    em.task_end("a", "failed", error={"code": "x"})
    state = ProgressState()
    state.apply_all(got)
    task = state.tasks[(None, "a")]
    assert (task.status, task.current, task.error) == ("failed", 3, {"code": "x"})


def test_jobs_lifecycle_and_artifacts() -> None:
    em, got = recorded()
    em.job_start("index", ["build"], "/repo", job_id="j1", title="Build")
    em.job_spawn(77, job_id="j1")
    em.task_start("code:scan", jobId="j1")
    em.task_start("code:scan")  # same task id outside the job is a different task
    em.job_end(
        "cancelled", job_id="j1", exit_code=None, signal="SIGTERM", termination={"forced": True}
    )
    em.job_artifacts([{"kind": "index", "path": "p"}], job_id="j1")
    state = ProgressState()
    state.apply_all(got)
    job = state.jobs["j1"]
    assert (job.command, job.args, job.cwd, job.title, job.pid) == (
        "index",
        ("build",),
        "/repo",
        "Build",
        77,
    )
    assert (job.status, job.exit_code, job.signal, job.finished) == (
        "cancelled",
        None,
        "SIGTERM",
        True,
    )
    assert job.termination == {"forced": True}
    assert job.artifacts == ({"kind": "index", "path": "p"},) and job.artifacts_indexed == 1
    # the job's open task was closed with the job's status; the other one runs on
    assert state.tasks[("j1", "code:scan")].status == "cancelled"
    assert state.tasks[(None, "code:scan")].status == "running"


def test_job_end_without_start_creates_the_job() -> None:
    em, got = recorded()
    em.job_end("failed", job_id="ghost", error={"code": "supervisor_exited", "message": "gone"})
    state = ProgressState()
    state.apply_all(got)
    assert state.jobs["ghost"].status == "failed"
    assert state.jobs["ghost"].error == {"code": "supervisor_exited", "message": "gone"}


def test_logs_are_kept_in_bounded_rings_per_job() -> None:
    em, got = recorded()
    for i in range(10):
        em.log(f"m{i}", "warn" if i % 2 else "info", meta={"i": i}, jobId="j" if i < 6 else None)
    state = ProgressState(max_logs=4)
    state.apply_all(got)
    assert [x.message for x in state.recent_logs] == ["m6", "m7", "m8", "m9"]
    assert [x.message for x in state.logs("j")] == ["m2", "m3", "m4", "m5"]
    assert [x.message for x in state.logs()] == ["m6", "m7", "m8", "m9"]
    assert state.logs("unknown") == []
    last = state.recent_logs[-1]
    assert (last.level, last.stream, last.meta) == ("warn", "stderr", {"i": 9})


def test_unknown_kinds_are_ignored() -> None:
    state = ProgressState()
    hello = Event("supervisor:hello", 0, "2026-02-04T12:00:00.000Z", {"pid": 1})
    assert state.apply(hello) is False
    assert state.applied == 0


def test_tasks_of_orders_by_stage_then_name_and_restart_moves_to_end() -> None:
    em, got = recorded()
    em.task_start("prose:b", "B")
    em.task_start("code:z", "Z")
    em.task_start("code:a", "A")
    em.task_end("code:z")
    em.task_start("code:z", "Z")
    state = ProgressState()
    state.apply_all(got)
    assert [t.task_id for t in state.tasks_of(None)] == ["code:a", "code:z", "prose:b"]
    assert list(state.tasks)[-1] == (None, "code:z")
    assert state.tasks[(None, "code:z")].status == "running"


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 50)), max_size=30))
def test_task_count_is_the_last_reported(updates: list[tuple[str, int]]) -> None:
    em, got = recorded()
    last: dict[str, Any] = {}
    for task, current in updates:
        em.task_progress(task, current, 50)
        last[task] = current
    state = ProgressState()
    state.apply_all(got)
    assert {k[1]: t.current for k, t in state.tasks.items()} == last
