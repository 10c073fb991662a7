"""Inbound frames (spec §4, §4.1): text in, one validated pydantic model out, no socket.

Every failure is a :class:`FrameError` with the §4.2 code, so the transport can
answer it and keep the connection. Types are strict (``"limit":"5"`` is an
error); unknown extra fields are ignored for forward compatibility.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from spiderweb.protocol.errors import (
    MESSAGE_TOO_LARGE_TEXT,
    UNSUPPORTED_ACTION_TEXT,
    ErrorCode,
    FrameError,
)

MAX_REQUEST_ID_CHARS = 64
AGENT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
SESSION_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
RECALL_DEFAULT_LIMIT = 25
RECALL_MAX_LIMIT = 128
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 500

CONTROL_ACTIONS = frozenset(
    {"goal", "plan", "pause", "resume", "cancel", "state", "status", "heartbeat", "clear"}
)

_ID_ALPHABET = string.ascii_letters + string.digits


class _Frame(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)

    id: str | None = Field(None, max_length=MAX_REQUEST_ID_CHARS)


class ChatSend(_Frame):
    """``chat.send`` / ``session.send``: one user turn, ``/new`` or ``/goal <text>``."""

    type: Literal["chat.send", "session.send"]
    content: str | None = None
    text: str | None = None

    @property
    def body(self) -> str:
        """The message text: ``content`` unless empty, else ``text`` (parse checked one is set)."""
        return self.content or self.text or ""


class AgentControl(_Frame):
    """``agent.control``: goal/plan, mode changes, state, forced heartbeat, clear."""

    type: Literal["agent.control"]
    action: str | None = None
    goal: str | None = None
    content: str | None = None
    text: str | None = None

    @property
    def verb(self) -> str:
        """The action with its default: an absent action means ``plan``."""
        return self.action if self.action is not None else "plan"

    @property
    def goal_text(self) -> str:
        """Trimmed ``goal`` if non-blank, else ``content``/``text`` trimmed (may be empty)."""
        for candidate in (self.goal, self.content, self.text):
            if candidate is not None and candidate.strip():
                return candidate.strip()
        return ""


class AgentHeartbeat(_Frame):
    type: Literal["agent.heartbeat"]


class SessionReset(_Frame):
    """``session.reset`` / ``session.new``: archive RAM, reset RAM and workers, keep the key."""

    type: Literal["session.reset", "session.new"]
    archive: bool = True
    reason: str = "manual-reset"


class MemoryRecall(_Frame):
    type: Literal["memory.recall"]
    limit: int = Field(RECALL_DEFAULT_LIMIT, ge=0)
    include_archived: bool = True
    include_full: bool = False

    @property
    def effective_limit(self) -> int:
        """0 or more than 128 means 128 (M10)."""
        return clamp_recall_limit(self.limit)


class MemoryQuery(_Frame):
    type: Literal["memory.query"]
    limit: int = Field(RECALL_DEFAULT_LIMIT, ge=0)
    include_archived: bool = True
    kind: Literal["summary", "entry", "all"] = "all"
    topic: str | None = None
    memory_id: int | None = Field(None, alias="memoryId")
    memory_ids: list[int] | None = Field(None, alias="memoryIds")

    @property
    def effective_limit(self) -> int:
        return clamp_recall_limit(self.limit)

    @property
    def id_filter(self) -> frozenset[int]:
        """Union of ``memoryId`` and ``memoryIds``; empty means no id filter."""
        ids = set(self.memory_ids or ())
        if self.memory_id is not None:
            ids.add(self.memory_id)
        return frozenset(ids)


class Ping(_Frame):
    type: Literal["ping"]


class SessionRestore(_Frame):
    type: Literal["session.restore"]
    session_key: str | None = Field(None, alias="sessionKey", pattern=r"^[A-Za-z0-9._:-]{1,128}$")


class SessionHistory(_Frame):
    type: Literal["session.history"]
    limit: int = Field(HISTORY_DEFAULT_LIMIT, ge=1)
    before_id: int | None = Field(None, alias="beforeId")

    @property
    def effective_limit(self) -> int:
        return min(self.limit, HISTORY_MAX_LIMIT)


class AgentList(_Frame):
    type: Literal["agent.list"]


class AgentGet(_Frame):
    type: Literal["agent.get"]
    agent_id: str = Field(alias="agentId", pattern=AGENT_ID_PATTERN)

    @field_validator("agent_id")
    @classmethod
    def _not_dots(cls, value: str) -> str:
        if value in {".", ".."}:
            raise ValueError("agentId must not be '.' or '..'")
        return value


InboundFrame = Annotated[
    ChatSend
    | AgentControl
    | AgentHeartbeat
    | SessionReset
    | MemoryRecall
    | MemoryQuery
    | Ping
    | SessionRestore
    | SessionHistory
    | AgentList
    | AgentGet,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[InboundFrame] = TypeAdapter(InboundFrame)

INBOUND_TYPES = frozenset(
    {
        "chat.send",
        "session.send",
        "agent.control",
        "agent.heartbeat",
        "session.reset",
        "session.new",
        "memory.recall",
        "memory.query",
        "ping",
        "session.restore",
        "session.history",
        "agent.list",
        "agent.get",
    }
)


@dataclass(frozen=True, slots=True)
class Request:
    """A validated frame plus the request id every reply to it echoes."""

    frame: InboundFrame
    request_id: str


def clamp_recall_limit(limit: int) -> int:
    return RECALL_MAX_LIMIT if limit == 0 or limit > RECALL_MAX_LIMIT else limit


def new_request_id() -> str:
    """A random 16-character id for frames that sent none."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def utf8_len_exceeds(text: str, limit: int) -> bool:
    """``len(text.encode()) > limit`` without encoding when the char count decides it."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def parse_frame(
    raw: str, *, max_message_bytes: int = 65536, max_content_bytes: int = 4096
) -> Request:
    """Decode one text frame into a :class:`Request` or raise :class:`FrameError`.

    Checks run cheapest first (size, JSON, shape, id, type, fields, content), so
    a hostile frame costs no more than its own parse.
    """
    if utf8_len_exceeds(raw, max_message_bytes):
        raise FrameError(
            ErrorCode.FRAME_TOO_LARGE, f"frame exceeds {max_message_bytes} bytes; send less"
        )
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(ErrorCode.BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.NOT_OBJECT, "frame must be a JSON object")
    request_id = _request_id(data)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameError(ErrorCode.INVALID_FIELD, "field 'type': expected a string", request_id)
    if kind not in INBOUND_TYPES:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {kind!r}", request_id)
    try:
        frame = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise FrameError(ErrorCode.INVALID_FIELD, _describe(exc), request_id) from None
    rid = request_id if request_id is not None else new_request_id()
    _check_semantics(frame, rid, max_content_bytes)
    return Request(frame=frame, request_id=rid)


def peek_request_id(raw: str | bytes, *, max_message_bytes: int = 65536) -> str | None:
    """The frame's valid ``id`` or ``None``, never raising: lets an answer that does not
    process the frame (``rate_limited``) still name the request the client must retry."""
    if not isinstance(raw, str) or utf8_len_exceeds(raw, max_message_bytes):
        return None
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("id")
    return value if isinstance(value, str) and len(value) <= MAX_REQUEST_ID_CHARS else None


def _request_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REQUEST_ID_CHARS:
        raise FrameError(
            ErrorCode.INVALID_FIELD,
            f"field 'id': expected a string of at most {MAX_REQUEST_ID_CHARS} characters",
        )
    return value


def _check_semantics(frame: InboundFrame, request_id: str, max_content_bytes: int) -> None:
    if isinstance(frame, ChatSend):
        body = frame.body
        if not body:
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                "field 'content': expected a non-empty string (or 'text')",
                request_id,
            )
        if utf8_len_exceeds(body, max_content_bytes):
            raise FrameError(ErrorCode.MESSAGE_TOO_LARGE, MESSAGE_TOO_LARGE_TEXT, request_id)
    elif isinstance(frame, AgentControl) and frame.verb not in CONTROL_ACTIONS:
        raise FrameError(ErrorCode.UNSUPPORTED_ACTION, UNSUPPORTED_ACTION_TEXT, request_id)


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    loc = [str(part) for part in first["loc"]]
    # The discriminated union puts the tag first in the location; drop it.
    if loc and loc[0] in INBOUND_TYPES:
        loc = loc[1:]
    name = ".".join(loc) or "frame"
    got = type(first.get("input")).__name__
    return f"field '{name}': {first['msg'].lower()} (got {got})"
