"""HTTP-level routing of the upgrade request (spec §3), pure: a request target in, a route out.

The transport's ``process_request`` calls :func:`route` and turns a
:class:`Reject` into an HTTP response, so bad paths and query strings never
reach the WebSocket handler (M10 defects D6, D7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

AGENT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
SESSION_KEY_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SESSION_KEY_ALIASES = ("session", "sessionId", "session_id", "sessionKey", "session-key")
_STREAM_RE = re.compile(r"/v1/agents/([^/]+)/stream")


@dataclass(frozen=True, slots=True)
class Healthz:
    """``GET /healthz``."""


@dataclass(frozen=True, slots=True)
class Stream:
    """An upgrade to ``/v1/agents/{agent_id}/stream`` with its validated query."""

    agent_id: str
    session_key: str | None
    proto: int
    resume_from: int | None
    access_token: str | None


@dataclass(frozen=True, slots=True)
class Reject:
    """An HTTP error answer: ``status`` and a one-line ``reason`` body."""

    status: int
    reason: str


def is_valid_agent_id(agent_id: str) -> bool:
    return AGENT_ID_RE.fullmatch(agent_id) is not None and agent_id not in {".", ".."}


def is_valid_session_key(key: str) -> bool:
    return SESSION_KEY_RE.fullmatch(key) is not None


def route(target: str) -> Healthz | Stream | Reject:
    """Classify a request target (path plus query) into a route or an HTTP rejection."""
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "//[x": a netloc that is not a valid IPv6 literal
        return Reject(404, "not found: connect to /v1/agents/{agentId}/stream")
    if parts.path == "/healthz":
        return Healthz()
    match = _STREAM_RE.fullmatch(parts.path)
    if match is None:
        return Reject(404, "not found: connect to /v1/agents/{agentId}/stream")
    agent_id = match.group(1)
    if not is_valid_agent_id(agent_id):
        return Reject(400, "invalid agentId: use 1-64 characters from A-Z a-z 0-9 . _ -")
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, value)
    key: str | None = None
    for alias in SESSION_KEY_ALIASES:
        if alias in query:
            key = query[alias]
            break
    if key is not None and not is_valid_session_key(key):
        return Reject(400, "invalid session key: use 1-128 characters from A-Z a-z 0-9 . _ : -")
    proto_text = query.get("proto", "1")
    if proto_text not in {"1", "2"}:
        return Reject(400, "invalid proto: use 1 or 2")
    proto = int(proto_text)
    resume_from: int | None = None
    if "resume_from" in query:
        text = query["resume_from"]
        if not text.isdigit() or not text.isascii():
            return Reject(400, "invalid resume_from: use an integer >= 0")
        resume_from = int(text)
    return Stream(agent_id, key, proto, resume_from, query.get("access_token"))
