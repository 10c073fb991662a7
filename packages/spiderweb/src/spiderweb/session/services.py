"""The shared services every session actor uses, wired once by the server.

Planner, task runner and identity are plain callables so the actor does not
care whether they call an LLM; ``WorkerSlots`` is the global worker cap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from groundwork.llm.base import Provider
from spiderweb.brain.goals import Task, TaskKind, TaskStatus
from spiderweb.brain.turns import LlmGate, TurnPolicy
from spiderweb.clock import Clock
from spiderweb.config import SpiderwebConfig
from spiderweb.memory.store import LtmStore


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A planned goal: task titles with kinds, who planned it, and whether the LLM plan failed."""

    tasks: tuple[tuple[str, TaskKind], ...]
    planner: Literal["llm", "deterministic"]
    fell_back: bool = False
    reason: str = ""


MemoryLookup = Callable[[str, int], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """What a worker gets: an immutable copy of the task and its goal.

    ``memory`` asks the session actor for recall items (the worker never
    touches RAM itself).
    """

    session_key: str
    goal: str
    task: Task
    total_tasks: int
    completed_tasks: int
    memory: MemoryLookup | None = None


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    status: TaskStatus
    detail: str


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """One summarizer result for RAM entry ``entry_id``."""

    entry_id: int
    text: str
    summarizer: Literal["llm", "fallback"]


Planner = Callable[[str], Awaitable[PlanResult]]
TaskRunner = Callable[[TaskRequest], Awaitable[TaskOutcome]]
Summarizer = Callable[[int, str], Awaitable[SummaryOutcome]]
IdentityLoader = Callable[[str], str]


class WorkerSlots:
    """Global ``workers.global_max`` running tasks across all sessions.

    A session that finds no slot registers a wake-up callback; ``give`` wakes
    the oldest waiter, which then retries its dispatch.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiters: deque[Callable[[], None]] = deque()

    def take(self) -> bool:
        if self.free <= 0:
            return False
        self.free -= 1
        return True

    def give(self) -> None:
        self.free = min(self.total, self.free + 1)
        while self._waiters and self.free > 0:
            self._waiters.popleft()()

    def wait(self, wake: Callable[[], None]) -> None:
        self._waiters.append(wake)


@dataclass(slots=True)
class Services:
    """Everything shared by the actors of one server."""

    config: SpiderwebConfig
    clock: Clock
    store: LtmStore
    data_dir: Path
    provider: Provider
    gate: LlmGate
    planner: Planner
    run_task: TaskRunner
    identity: IdentityLoader
    identity_files: Callable[[str], list[str]] = lambda _agent: []
    summarizer: Summarizer | None = None
    #: A summarizer that needs no I/O (``truncate``): applied inside the current
    #: command, so its RAM change rides the same commit as the append.
    summarize_now: Callable[[int, str], SummaryOutcome] | None = None
    auth_enabled: bool = False
    workers: WorkerSlots = field(default_factory=lambda: WorkerSlots(32))
    turn_policy: TurnPolicy = field(default_factory=TurnPolicy)
    db_timeout_s: float = 10.0
    #: Set once when a clean shutdown starts: running work may finish, new work is refused.
    draining: bool = False
