"""What the fake server makes of a request: validation, messages, masked headers. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from groundwork.llm.errors import mask_secret
from groundwork.llm.fake.wire import Api
from groundwork.llm.types import ROLES, Message

_SECRET_WORDS = ("authorization", "key", "token", "secret", "cookie")


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """What ``reply`` and ``key_fn`` see; ``headers`` are real (lower-case names)."""

    method: str
    path: str
    api: Api
    headers: Mapping[str, str]
    body: Any
    messages: tuple[Message, ...]
    model: str | None
    stream: bool


ReplyFn = Callable[[FakeRequest], str]
KeyFn = Callable[[FakeRequest], str]


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to record: anything that looks like a credential is masked."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if any(w in low for w in _SECRET_WORDS):
            scheme, sep, cred = value.partition(" ")
            out[low] = f"{scheme} {mask_secret(cred)}" if sep else mask_secret(value)
        else:
            out[low] = value
    return out


class RequestRejected(Exception):
    """A request the real API would refuse; ``status`` and ``message`` go back in its shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def text_content(content: Any) -> str:
    """A message's text: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or "")
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", None)
        )
    raise RequestRejected(400, "message content must be a string or a list of text parts")


def parse_messages(api: Api, body: Any) -> tuple[Message, ...]:
    """Validate a chat body as the API would and return its messages (system first)."""
    if not isinstance(body, dict):
        raise RequestRejected(400, "request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise RequestRejected(400, "model is required")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise RequestRejected(400, "messages must be a non-empty list")
    out: list[Message] = []
    if api == "anthropic":
        if not isinstance(body.get("max_tokens"), int):
            raise RequestRejected(400, "max_tokens: field required")
        if body.get("system"):
            out.append(Message.system(text_content(body["system"])))
    for m in raw:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestRejected(400, "each message needs a role")
        role = m["role"]
        role = "system" if role == "developer" else role
        if role not in ROLES or (api == "anthropic" and role == "system"):
            raise RequestRejected(400, f"unsupported role {m['role']!r}")
        out.append(Message(role, text_content(m.get("content"))))
    return tuple(out)
