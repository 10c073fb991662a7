"""Goals and tasks (spec §9): the state machine, admission and live counters, pure.

The session actor owns one :class:`Goal` at a time and changes it only
through these methods; counters (queued, active, dropped) are derived from
task states, so they can never drift from reality (M10 defect D14) and are 0
once the goal ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spiderweb.protocol import outbound as out

GoalState = Literal[
    "planning", "running", "paused", "completed", "failed", "cancelled", "interrupted"
]
TaskStatus = Literal["queued", "running", "complete", "failed", "timeout", "cancelled", "dropped"]
Mode = Literal["running", "paused", "cancelled"]
TaskKind = Literal["research", "execution", "status"]

KINDS: tuple[TaskKind, ...] = ("research", "execution", "status")
GOAL_STATES = frozenset(
    {"planning", "running", "paused", "completed", "failed", "cancelled", "interrupted"}
)
TASK_STATUSES = frozenset(
    {"queued", "running", "complete", "failed", "timeout", "cancelled", "dropped"}
)
FINISHED_GOAL = frozenset({"completed", "failed", "cancelled"})
FINISHED_TASK = frozenset({"complete", "failed", "timeout", "cancelled", "dropped"})
#: Stored task result text (RAM ``tool_result`` entries are capped at 1 KiB).
MAX_DETAIL_BYTES = 1024


@dataclass(slots=True)
class Task:
    """One planned task; ``id`` is 1-based within its goal."""

    id: int
    title: str
    kind: TaskKind
    status: TaskStatus = "queued"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Task:
        kind = raw.get("kind")
        status = raw.get("status")
        ident = raw.get("id")
        title = raw.get("title")
        if kind not in KINDS or status not in TASK_STATUSES:
            raise ValueError("task kind/status invalid")
        if not isinstance(ident, int) or not isinstance(title, str):
            raise ValueError("task id/title invalid")
        detail = raw.get("detail", "")
        return cls(ident, title, kind, status, detail if isinstance(detail, str) else "")


@dataclass(slots=True)
class Goal:
    """The session's current goal: text, who planned it, its state and tasks."""

    text: str
    request: str
    planner: Literal["llm", "deterministic"]
    state: GoalState = "planning"
    tasks: list[Task] = field(default_factory=list)
    last_change_ms: int = 0

    # -- counters ---------------------------------------------------------------------------
    def count(self, status: TaskStatus) -> int:
        return sum(1 for t in self.tasks if t.status == status)

    @property
    def queued(self) -> int:
        return 0 if self.finished else self.count("queued")

    @property
    def active(self) -> int:
        return 0 if self.finished else self.count("running")

    @property
    def dropped(self) -> int:
        return self.count("dropped")

    @property
    def accepted(self) -> int:
        return sum(1 for t in self.tasks if t.status != "dropped")

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_GOAL

    def task(self, task_id: int) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

    def next_queued(self) -> Task | None:
        return next((t for t in self.tasks if t.status == "queued"), None)

    # -- transitions ------------------------------------------------------------------------
    def start_task(self, task_id: int, now_ms: int) -> Task:
        t = self.task(task_id)
        if t.status != "queued":
            raise ValueError(f"task {task_id} is {t.status}, not queued")
        t.status = "running"
        self.last_change_ms = now_ms
        return t

    def finish_task(self, task_id: int, status: TaskStatus, detail: str, now_ms: int) -> bool:
        """Record a result; ``False`` if the task was no longer running (late result ignored)."""
        t = self.task(task_id)
        if t.status != "running":
            return False
        t.status = status
        t.detail = detail
        self.last_change_ms = now_ms
        return True

    def cancel_all(self, now_ms: int) -> list[Task]:
        """Cancel queued and running tasks; returns those that were running."""
        running = [t for t in self.tasks if t.status == "running"]
        for t in self.tasks:
            if t.status in ("queued", "running"):
                t.status = "cancelled"
        self.state = "cancelled"
        self.last_change_ms = now_ms
        return running

    def interrupt(self, now_ms: int) -> None:
        """After a restart or shutdown: running tasks go back to queued, goal ``interrupted``."""
        for t in self.tasks:
            if t.status == "running":
                t.status = "queued"
        if not self.finished:
            self.state = "interrupted"
        self.last_change_ms = now_ms

    def settle(self, now_ms: int) -> bool:
        """Finish the goal if no task is queued or running; ``True`` when it just ended."""
        if self.finished or any(t.status in ("queued", "running") for t in self.tasks):
            return False
        accepted = [t for t in self.tasks if t.status != "dropped"]
        failed = all(t.status in ("failed", "timeout") for t in accepted)
        self.state = "failed" if accepted and failed else "completed"
        self.last_change_ms = now_ms
        return True

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "request": self.request,
            "planner": self.planner,
            "state": self.state,
            "tasks": [t.to_dict() for t in self.tasks],
            "lastChangeMs": self.last_change_ms,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Goal:
        state = raw.get("state")
        planner = raw.get("planner", "deterministic")
        text = raw.get("text")
        tasks = raw.get("tasks", [])
        if state not in GOAL_STATES or planner not in ("llm", "deterministic"):
            raise ValueError("goal state/planner invalid")
        if not isinstance(text, str) or not isinstance(tasks, list):
            raise ValueError("goal text/tasks invalid")
        request = raw.get("request", "")
        last = raw.get("lastChangeMs", 0)
        return cls(
            text,
            request if isinstance(request, str) else "",
            planner,
            state,
            [Task.from_dict(t) for t in tasks if isinstance(t, Mapping)],
            last if isinstance(last, int) else 0,
        )


DEFAULT_TITLES = (
    "Understand the goal and required outcome",
    "Collect key constraints and required inputs",
    "Produce an actionable result and next steps",
)


def default_tasks() -> tuple[tuple[str, TaskKind], ...]:
    """M10's three tasks for a goal no rule could split."""
    return tuple((title, kind_for(i)) for i, title in enumerate(DEFAULT_TITLES))


def kind_for(index: int) -> TaskKind:
    """M10's kind rotation: task i (0-based) is research, execution, status, research, ..."""
    return KINDS[index % 3]


def admit(titles: Sequence[tuple[str, TaskKind]], max_per_dispatch: int) -> list[Task]:
    """Admission: the first ``max_per_dispatch`` tasks are queued, the rest dropped (M9)."""
    return [
        Task(i + 1, title, kind, "queued" if i < max_per_dispatch else "dropped")
        for i, (title, kind) in enumerate(titles)
    ]


def result_entry(task: Task) -> str:
    """The RAM ``tool_result`` text ``[task N kind status] detail``, at most 1 KiB."""
    text = f"[task {task.id} {task.kind} {task.status}] {task.detail}"
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= MAX_DETAIL_BYTES:
        return text
    return raw[:MAX_DETAIL_BYTES].decode("utf-8", "ignore")


# -- §9 frames (pure: the actor emits what these return, in order) ----------------------------
def plan_entry(goal: Goal) -> str:
    """The RAM ``system`` entry recorded after the goal itself."""
    lines = [f"Primary Brain plan for goal: {goal.text}"]
    lines += [f"{t.id}. {t.title}" for t in goal.tasks]
    return "\n".join(lines)


def backlog(goal: Goal) -> out.Backlog:
    return out.Backlog(
        accepted=goal.accepted,
        total=len(goal.tasks),
        dropped=goal.dropped,
        queued=goal.queued,
        active=goal.active,
    )


def plan_frames(goal: Goal, session_key: str) -> list[out.OutFrame]:
    """Frames 2-5 of §9: ``agent.plan``, ``planner/ready``, ``planner/saturated`` (if any
    task was dropped) and ``workers/queued``; dropped tasks show as ``dropped`` (M10 D23).
    """
    rid = goal.request
    n = len(goal.tasks)
    which = "a plan" if goal.planner == "llm" else "a deterministic plan"
    tasks = [
        out.PlanTask(t.id, t.title, "dropped" if t.status == "dropped" else "queued", t.kind)
        for t in goal.tasks
    ]
    frames: list[out.OutFrame] = [
        out.AgentPlan(rid, session_key, goal.text, [t.to_wire() for t in tasks], goal.planner),
        out.progress(
            rid, session_key, "planner", "ready", f"I have {which} with {n} task(s) for this goal."
        ),
    ]
    if goal.dropped:
        frames.append(
            out.progress(
                rid,
                session_key,
                "planner",
                "saturated",
                f"Worker admission cap reached: {goal.accepted} accepted, {goal.dropped} dropped.",
                backlog=backlog(goal),
            )
        )
    frames.append(
        out.progress(
            rid,
            session_key,
            "workers",
            "queued",
            f"Queued {goal.accepted} worker task(s).",
            backlog=backlog(goal),
        )
    )
    return frames


def finished_frames(goal: Goal, session_key: str) -> list[out.OutFrame]:
    """``workers/failed`` (every task failed) and ``workers/ready`` once the goal ended."""
    done = goal.count("complete")
    failed = goal.count("failed") + goal.count("timeout")
    frames: list[out.OutFrame] = []
    if goal.state == "failed":
        frames.append(
            out.progress(
                goal.request, session_key, "workers", "failed", f"All {failed} task(s) failed."
            )
        )
    frames.append(
        out.progress(
            goal.request,
            session_key,
            "workers",
            "ready",
            f"Workers finished: {done} complete, {failed} failed.",
        )
    )
    return frames
