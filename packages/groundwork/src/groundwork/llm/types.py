"""Request and reply values shared by every provider.

Frozen, slotted dataclasses: a ``Message`` list and ``Options`` go in, a
``Completion`` (or a stream of ``Delta`` then one ``Done``) comes out, so meld
and spiderweb never see a provider's wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal, TypeAlias

Role: TypeAlias = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat turn; ``role`` is checked so a typo fails here, not at the server."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {self.role!r}")

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str) -> Message:
        return cls("assistant", content)


@dataclass(frozen=True, slots=True)
class Options:
    """Sampling options; ``None`` means "the server's default" and is never sent."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] | None = None

    def merged(self, override: Options | None) -> Options:
        """Return these options with every non-``None`` field of ``override`` applied."""
        if override is None:
            return self
        changes = {
            f.name: getattr(override, f.name)
            for f in fields(override)
            if getattr(override, f.name) is not None
        }
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the server reported them; 0 when it reported none."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished reply. ``finish_reason`` uses OpenAI's words (``stop``, ``length``)."""

    text: str
    model: str
    usage: Usage
    finish_reason: str | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of streamed text; concatenating every delta gives ``Done.completion.text``."""

    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """The last event of a stream."""

    completion: Completion


StreamEvent: TypeAlias = Delta | Done


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-phase limits in seconds; expiry raises ``LLMTimeout(phase)``.

    ``connect_s`` bounds opening the connection, ``total_s`` the whole call,
    ``first_token_s`` the wait from sending a stream request to its first text,
    and ``idle_s`` the silence between two chunks of a stream. A non-streamed
    ``complete()`` is bounded by ``connect_s`` and ``total_s`` only, because a
    server sends nothing until the whole reply is ready.
    """

    connect_s: float = 10.0
    total_s: float = 120.0
    first_token_s: float = 30.0
    idle_s: float = 30.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value > 0:
                raise ValueError(f"Timeouts.{f.name} must be > 0, got {value!r}")


def as_messages(messages: Sequence[Message]) -> tuple[Message, ...]:
    """Freeze a caller's message list; an empty one is a caller bug, caught before I/O."""
    frozen = tuple(messages)
    if not frozen:
        raise ValueError("at least one message is required")
    for m in frozen:
        if not isinstance(m, Message):
            raise TypeError(f"expected Message, got {type(m).__name__}")
    return frozen
