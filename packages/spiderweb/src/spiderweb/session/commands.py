"""Commands a session actor accepts, and the ``Link`` it sends through (spec §2).

Everything outside the actor talks to it only by posting one of these to its
inbox; each is an immutable value, so no state is shared across tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from spiderweb.brain import heartbeat
from spiderweb.brain.turns import TurnFailed
from spiderweb.protocol import outbound as out
from spiderweb.protocol.inbound import Request
from spiderweb.session.services import PlanResult, SummaryOutcome, TaskOutcome


class Link(Protocol):
    """One attached connection as the actor sees it (implemented by the transport)."""

    @property
    def proto(self) -> int: ...

    def deliver(self, text: str, *, droppable: bool = False) -> bool: ...

    def close(self, code: int, reason: str) -> None: ...


# -- commands ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Attach:
    link: Link
    agent_id: str
    resume_from: int | None = None
    restore_request: str | None = None


@dataclass(frozen=True, slots=True)
class Detach:
    link: Link


@dataclass(frozen=True, slots=True)
class Inbound:
    link: Link
    request: Request


@dataclass(frozen=True, slots=True)
class Emit:
    """A frame made outside the actor (transport errors) that still needs seq/ts."""

    link: Link
    frame: out.OutFrame


@dataclass(frozen=True, slots=True)
class TurnDelta:
    turn: int
    text: str
    index: int


@dataclass(frozen=True, slots=True)
class TurnDone:
    turn: int
    text: str | None = None
    failure: TurnFailed | None = None
    busy: bool = False


@dataclass(frozen=True, slots=True)
class PlanDone:
    token: int
    result: PlanResult


@dataclass(frozen=True, slots=True)
class TaskDone:
    token: int
    task_id: int
    outcome: TaskOutcome


@dataclass(frozen=True, slots=True)
class Dispatch:
    pass


@dataclass(frozen=True, slots=True)
class Lookup:
    """A worker's ``memory_query`` tool call, answered from RAM and LTM by the actor."""

    topic: str
    limit: int
    done: asyncio.Future[list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class HeartbeatCheck:
    forced: bool
    request: str = heartbeat.SWEEP_REQUEST


@dataclass(frozen=True, slots=True)
class ManagerTick:
    pass


@dataclass(frozen=True, slots=True)
class SummariesDone:
    results: tuple[SummaryOutcome, ...]
    #: True when the actor already applied them inline (synchronous summarizer).
    applied: bool = False


@dataclass(frozen=True, slots=True)
class CommitFailed:
    """A pipelined state commit failed: reload the last committed state (§2)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop all work now (after the grace period), persist, close the link 1001."""

    done: asyncio.Future[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Stop:
    """Unload an idle detached session (state is already committed)."""

    done: asyncio.Future[None]


Command = (
    Attach
    | Detach
    | Inbound
    | Emit
    | TurnDelta
    | TurnDone
    | PlanDone
    | TaskDone
    | Dispatch
    | Lookup
    | HeartbeatCheck
    | ManagerTick
    | SummariesDone
    | CommitFailed
    | Shutdown
    | Stop
)

#: Rebinding a link to another session (``session.restore``): (link, key, request id).
Rebind = Callable[[Link, str, str], Coroutine[Any, Any, None]]
#: Does a session exist (loaded or stored)?
Exists = Callable[[str], Coroutine[Any, Any, bool]]
