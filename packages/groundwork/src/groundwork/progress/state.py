"""ProgressState: folds a stream of events into jobs, tasks and recent logs.

Renderers and the systems' TUIs both draw from this one reducer, so "what is
running" has one answer. It has no I/O and no clock; :meth:`apply` takes
events in arrival order and the views are frozen values, replaced (never
mutated) on change, so a UI can hold a snapshot while the state moves on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .events import Event, task_stage

__all__ = ["JobState", "LogLine", "ProgressState", "TaskKey", "TaskState"]

TaskKey = tuple[str | None, str]
"""``(jobId, taskId)``: task ids are unique within a job."""

_TASK_KNOWN = frozenset(
    {"taskId", "name", "stage", "mode", "current", "total", "unit", "percent", "status"}
    | {"durationMs", "error", "jobId", "runId", "pid", "stream"}
)


def _compute_percent(current: float, total: float | None) -> float | None:
    if total is None or total <= 0:
        return None
    return min(100.0, current * 100.0 / total)


@dataclass(frozen=True, slots=True)
class TaskState:
    """One task as last reported; ``status`` is ``running`` until its end."""

    task_id: str
    job_id: str | None
    name: str
    stage: str
    mode: str | None = None
    current: float = 0
    total: float | None = None
    unit: str | None = None
    percent: float | None = None
    status: str = "running"
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: float | None = None
    error: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fields outside the protocol from the latest event (orthofold's ``data``)."""

    @property
    def key(self) -> TaskKey:
        return (self.job_id, self.task_id)

    @property
    def finished(self) -> bool:
        return self.status != "running"


@dataclass(frozen=True, slots=True)
class JobState:
    """One job from ``job:start`` through ``job:end`` and ``job:artifacts``."""

    job_id: str
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    title: str | None = None
    status: str = "running"
    pid: int | None = None
    started_at: str | None = None
    spawned_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    duration_ms: float | None = None
    result: Any = None
    error: Any = None
    termination: Mapping[str, Any] | None = None
    artifacts: tuple[Mapping[str, Any], ...] = ()
    artifacts_indexed: int | bool | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One ``log`` event, kept in the recent-log rings."""

    seq: int
    ts: str
    level: str
    message: str
    stream: str | None = None
    job_id: str | None = None
    task_id: str | None = None
    meta: Mapping[str, Any] | None = None


class ProgressState:
    """The reducer; ``max_logs`` bounds each log ring (the global one and each job's)."""

    def __init__(self, max_logs: int = 5000) -> None:
        self.max_logs = max_logs
        self.jobs: dict[str, JobState] = {}
        self.tasks: dict[TaskKey, TaskState] = {}
        self.recent_logs: deque[LogLine] = deque(maxlen=max_logs)
        self._job_logs: dict[str | None, deque[LogLine]] = {}
        self.applied = 0

    # --------------------------------------------------------------- views

    def logs(self, job_id: str | None = None) -> list[LogLine]:
        """Recent log lines of one job (``None``: lines that belong to no job)."""
        return list(self._job_logs.get(job_id, ()))

    def tasks_of(self, job_id: str | None) -> list[TaskState]:
        """A job's tasks ordered as a TUI lists them: by stage, then name."""
        found = [t for t in self.tasks.values() if t.job_id == job_id]
        return sorted(found, key=lambda t: (t.stage, t.name, t.task_id))

    def active_tasks(self) -> list[TaskState]:
        """Tasks still running, in start order."""
        return [t for t in self.tasks.values() if not t.finished]

    # ------------------------------------------------------------- reducer

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: Event) -> bool:
        """Fold one event in; returns whether it changed anything."""
        handler = _HANDLERS.get(event.event)
        if handler is None:
            return False
        handler(self, event)
        self.applied += 1
        return True

    def _task(self, event: Event) -> TaskState:
        task_id = str(event["taskId"])
        key = (event.job_id, task_id)
        task = self.tasks.get(key)
        if task is None:
            task = TaskState(
                task_id=task_id, job_id=event.job_id, name=task_id, stage=task_stage(task_id)
            )
        return task

    def _job(self, event: Event) -> JobState:
        job_id = str(event["jobId"])
        return self.jobs.get(job_id) or JobState(job_id=job_id)

    def _on_log(self, event: Event) -> None:
        meta = event.get("meta")
        line = LogLine(
            seq=event.seq,
            ts=event.ts,
            level=str(event.get("level", "info")),
            message=str(event.get("message", "")),
            stream=event.stream,
            job_id=event.job_id,
            task_id=event.task_id,
            meta=meta if isinstance(meta, dict) else None,
        )
        self.recent_logs.append(line)
        ring = self._job_logs.get(line.job_id)
        if ring is None:
            ring = self._job_logs[line.job_id] = deque(maxlen=self.max_logs)
        ring.append(line)

    def _on_task_start(self, event: Event) -> None:
        task_id = str(event["taskId"])
        task = TaskState(
            task_id=task_id,
            job_id=event.job_id,
            name=str(event.get("name") or task_id),
            stage=str(event.get("stage") or task_stage(task_id)),
            mode=event.get("mode"),
            started_at=event.ts,
            extra=_extra(event),
        )
        self.tasks.pop(task.key, None)  # a restarted task moves to the end
        self.tasks[task.key] = task

    def _on_task_progress(self, event: Event) -> None:
        task = self._task(event)
        current = event.get("current", task.current)
        total = event.get("total", task.total)
        percent = event.get("percent")
        self.tasks[task.key] = replace(
            task,
            current=current,
            total=total,
            unit=event.get("unit", task.unit),
            percent=percent if percent is not None else _compute_percent(current, total),
            started_at=task.started_at or event.ts,
            extra=_extra(event) or task.extra,
        )

    def _on_task_end(self, event: Event) -> None:
        task = self._task(event)
        status = str(event.get("status", "ok"))
        current, percent = task.current, task.percent
        if status == "ok" and task.total is not None:
            current, percent = task.total, 100.0
        self.tasks[task.key] = replace(
            task,
            status=status,
            current=current,
            percent=percent,
            ended_at=event.ts,
            duration_ms=event.get("durationMs"),
            error=event.get("error"),
            extra=_extra(event) or task.extra,
        )

    def _on_job_start(self, event: Event) -> None:
        job = self._job(event)
        self.jobs[job.job_id] = replace(
            job,
            command=event.get("command"),
            args=tuple(event.get("args") or ()),
            cwd=event.get("cwd"),
            title=event.get("title"),
            status="running",
            started_at=event.ts,
        )

    def _on_job_spawn(self, event: Event) -> None:
        job = self._job(event)
        self.jobs[job.job_id] = replace(
            job, pid=event.get("pid"), spawned_at=event.get("spawnedAt", event.ts)
        )

    def _on_job_end(self, event: Event) -> None:
        job = self._job(event)
        status = str(event.get("status", "ok"))
        self.jobs[job.job_id] = replace(
            job,
            status=status,
            exit_code=event.get("exitCode"),
            signal=event.get("signal"),
            duration_ms=event.get("durationMs"),
            result=event.get("result"),
            error=event.get("error"),
            termination=event.get("termination"),
            ended_at=event.ts,
        )
        # A job that ended has no running tasks: close them with its status.
        for key, task in list(self.tasks.items()):
            if task.job_id == job.job_id and not task.finished:
                self.tasks[key] = replace(task, status=status, ended_at=event.ts)

    def _on_job_artifacts(self, event: Event) -> None:
        job = self._job(event)
        artifacts = tuple(a for a in event.get("artifacts") or () if isinstance(a, dict))
        self.jobs[job.job_id] = replace(
            job, artifacts=artifacts, artifacts_indexed=event.get("artifactsIndexed")
        )


def _extra(event: Event) -> dict[str, Any]:
    return {k: v for k, v in event.fields.items() if k not in _TASK_KNOWN}


_HANDLERS = {
    "log": ProgressState._on_log,
    "task:start": ProgressState._on_task_start,
    "task:progress": ProgressState._on_task_progress,
    "task:end": ProgressState._on_task_end,
    "job:start": ProgressState._on_job_start,
    "job:spawn": ProgressState._on_job_spawn,
    "job:end": ProgressState._on_job_end,
    "job:artifacts": ProgressState._on_job_artifacts,
}
