"""Outbound frames (spec §4.2) and the one encoder that turns them into text.

Each frame is a frozen dataclass named for its ``type``; :func:`encode` is the
only way JSON leaves the server (M10 defect D4 came from string formatting).
Field names map to the wire in camelCase unless a frame lists M10's snake_case
names; ``None`` means "field absent" except for fields a frame declares
nullable (``memory.query`` ``topic``, ``session.restore.response`` ``session``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

from spiderweb.protocol.errors import RETRYABLE_CODES, ErrorCode

JsonObject = dict[str, Any]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True, slots=True)
class OutFrame:
    """Base of every outbound frame; subclasses set ``TYPE``."""

    TYPE: ClassVar[str] = ""
    #: Fields sent even when ``None`` (as JSON ``null``).
    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    #: Fields whose wire name stays snake_case (M10 names).
    SNAKE: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> JsonObject:
        """The frame as a JSON-ready dict with its wire field names."""
        out: JsonObject = {"type": self.TYPE}
        for attr, name, nullable in _layout(type(self)):
            value = getattr(self, attr)
            if value is not None or nullable:
                out[name] = value
        return out


_LAYOUTS: dict[type, tuple[tuple[str, str, bool], ...]] = {}


def _layout(cls: type[OutFrame]) -> tuple[tuple[str, str, bool], ...]:
    """``(attribute, wire name, sent when None)`` per field, computed once per class."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = tuple(
            (f.name, f.name if f.name in cls.SNAKE else _camel(f.name), f.name in cls.NULLABLE)
            for f in dataclasses.fields(cls)
        )
        _LAYOUTS[cls] = layout
    return layout


@dataclass(frozen=True, slots=True)
class SessionAck(OutFrame):
    TYPE: ClassVar[str] = "session.ack"
    session_key: str
    agent_id: str
    protocol: int
    capabilities: list[str]
    restored: bool
    replay: str | None = None


@dataclass(frozen=True, slots=True)
class SessionReceive(OutFrame):
    TYPE: ClassVar[str] = "session.receive"
    content: str
    memory_id: int
    request: str
    timestamp: int


@dataclass(frozen=True, slots=True)
class SessionDelta(OutFrame):
    TYPE: ClassVar[str] = "session.delta"
    request: str
    delta: str
    index: int


@dataclass(frozen=True, slots=True)
class ChatAck(OutFrame):
    TYPE: ClassVar[str] = "chat.ack"
    request: str
    session_key: str
    memory_id: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class Backlog:
    """The backpressure ints of ``agent.progress`` (M10 compact metrics)."""

    accepted: int
    total: int
    dropped: int
    queued: int
    active: int


@dataclass(frozen=True, slots=True)
class AgentProgress(OutFrame):
    TYPE: ClassVar[str] = "agent.progress"
    request: str
    session_key: str
    phase: str
    status: str
    message: str
    accepted: int | None = None
    total: int | None = None
    dropped: int | None = None
    queued: int | None = None
    active: int | None = None
    source: str | None = None
    restored_entries: int | None = None
    restored_summaries: int | None = None
    suggestion: dict[str, str] | None = None


def progress(
    request: str,
    session_key: str,
    phase: str,
    status: str,
    message: str,
    *,
    backlog: Backlog | None = None,
    suggestion: Suggestion | None = None,
    source: str | None = None,
    restored_entries: int | None = None,
    restored_summaries: int | None = None,
) -> AgentProgress:
    """Build ``agent.progress`` with optional backlog ints and suggestion."""
    b = backlog
    return AgentProgress(
        request=request,
        session_key=session_key,
        phase=phase,
        status=status,
        message=message,
        accepted=b.accepted if b else None,
        total=b.total if b else None,
        dropped=b.dropped if b else None,
        queued=b.queued if b else None,
        active=b.active if b else None,
        source=source,
        restored_entries=restored_entries,
        restored_summaries=restored_summaries,
        suggestion={"action": suggestion.action, "reason": suggestion.reason}
        if suggestion
        else None,
    )


@dataclass(frozen=True, slots=True)
class PlanTask:
    id: int
    title: str
    status: str
    kind: str

    def to_wire(self) -> JsonObject:
        return {"id": self.id, "title": self.title, "status": self.status, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class AgentPlan(OutFrame):
    TYPE: ClassVar[str] = "agent.plan"
    request: str
    session_key: str
    goal: str
    tasks: list[JsonObject]
    planner: str


@dataclass(frozen=True, slots=True)
class AgentStatus(OutFrame):
    TYPE: ClassVar[str] = "agent.status"
    request: str
    session_key: str
    task_id: int
    worker: str
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class AgentState(OutFrame):
    TYPE: ClassVar[str] = "agent.state"
    request: str
    session_key: str
    phase: str
    queued_tasks: int
    active_tasks: int
    last_goal: str
    mode: str
    goal_state: str | None
    dropped_tasks: int
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"goal_state"})


@dataclass(frozen=True, slots=True)
class MemoryEvent(OutFrame):
    TYPE: ClassVar[str] = "memory.event"
    request: str
    session_key: str
    event: str
    status: str
    count: int
    message: str
    active_count: int
    active_bytes: int
    summary_count: int
    tombstone_count: int
    summarizer: str | None = None
    snapshot_id: int | None = None


@dataclass(frozen=True, slots=True)
class Error(OutFrame):
    TYPE: ClassVar[str] = "error"
    message: str
    code: str
    request: str | None = None
    retryable: bool = False
    retry_after_ms: int | None = None
    incident: str | None = None


def error(
    code: ErrorCode,
    message: str,
    request: str | None = None,
    *,
    retryable: bool | None = None,
    retry_after_ms: int | None = None,
    incident: str | None = None,
) -> Error:
    """Build an ``error``; ``retryable`` defaults from the code."""
    return Error(
        message=message,
        code=str(code),
        request=request,
        retryable=code in RETRYABLE_CODES if retryable is None else retryable,
        retry_after_ms=retry_after_ms,
        incident=incident,
    )


@dataclass(frozen=True, slots=True)
class SessionResetReply(OutFrame):
    """Reply to ``session.new`` / ``session.reset``; ``TYPE`` echoes the request type."""

    reply_type: str
    request: str
    session_key: str
    archived: bool

    def to_wire(self) -> JsonObject:
        return {
            "type": self.reply_type,
            "request": self.request,
            "sessionKey": self.session_key,
            "archived": self.archived,
        }


@dataclass(frozen=True, slots=True)
class MemoryRecallReply(OutFrame):
    TYPE: ClassVar[str] = "memory.recall"
    request: str
    session_key: str
    items: list[JsonObject]


@dataclass(frozen=True, slots=True)
class MemoryQueryReply(OutFrame):
    TYPE: ClassVar[str] = "memory.query"
    request: str
    session_key: str
    topic: str | None
    items: list[JsonObject]
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"topic"})


@dataclass(frozen=True, slots=True)
class Pong(OutFrame):
    TYPE: ClassVar[str] = "pong"
    timestamp: int
    request: str | None = None


@dataclass(frozen=True, slots=True)
class RestoredSession:
    session_key: str
    agent_id: str
    last_active: int
    message_count: int
    summary: str

    def to_wire(self) -> JsonObject:
        return {
            "session_key": self.session_key,
            "agent_id": self.agent_id,
            "last_active": self.last_active,
            "message_count": self.message_count,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class SessionRestoreResponse(OutFrame):
    TYPE: ClassVar[str] = "session.restore.response"
    request: str
    found: bool
    session: JsonObject | None
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"session"})


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: int
    role: str
    content: str
    memory_id: int | None
    request: str | None
    created_at_ms: int

    def to_wire(self) -> JsonObject:
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "memoryId": self.memory_id,
            "request": self.request,
            "createdAtMs": self.created_at_ms,
        }


@dataclass(frozen=True, slots=True)
class SessionHistoryResponse(OutFrame):
    TYPE: ClassVar[str] = "session.history.response"
    request: str
    session_key: str
    items: list[JsonObject]
    has_more: bool


@dataclass(frozen=True, slots=True)
class AgentListResponse(OutFrame):
    TYPE: ClassVar[str] = "agent.list.response"
    request: str
    agents: list[JsonObject]


@dataclass(frozen=True, slots=True)
class AgentInfo(OutFrame):
    TYPE: ClassVar[str] = "agent.info"
    request: str
    agent_id: str
    identity_files: list[str]
    sessions: list[JsonObject] = field(default_factory=list)
    SNAKE: ClassVar[frozenset[str]] = frozenset({"agent_id", "identity_files"})


def is_droppable(frame: OutFrame) -> bool:
    """Heartbeat ``agent.progress`` and sweep ``agent.state`` may be dropped under pressure."""
    if isinstance(frame, AgentProgress):
        return frame.phase == "heartbeat" or frame.request == "heartbeat-sweep"
    if isinstance(frame, AgentState):
        return frame.request == "heartbeat-sweep"
    return False


def encode(frame: OutFrame, *, seq: int | None = None, ts: int | None = None) -> str:
    """Serialize a frame; protocol 2 passes ``seq`` and ``ts`` (ms) to stamp it."""
    wire = frame.to_wire()
    if seq is not None:
        wire["seq"] = seq
    if ts is not None:
        wire["ts"] = ts
    return orjson.dumps(wire).decode("utf-8")


def encode_pair(frame: OutFrame, seq: int, ts: int) -> tuple[str, str]:
    """``(encode(frame), encode(frame, seq=seq, ts=ts))`` with one serialization.

    A protocol-1 connection gets the plain text while the replay ring keeps the
    stamped one; orjson writes keys in insertion order with no spaces, so the
    stamped text is the plain one with ``seq`` and ``ts`` appended (no frame
    has fields of those names).
    """
    plain = orjson.dumps(frame.to_wire()).decode("utf-8")
    return plain, f'{plain[:-1]},"seq":{seq:d},"ts":{ts:d}}}'
