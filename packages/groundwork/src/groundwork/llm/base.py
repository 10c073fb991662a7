"""What meld and spiderweb hold: a ``Provider``, never an httpx client.

Each provider is one request-in/reply-out object: ``complete()`` returns a
``Completion``; ``stream()`` yields ``Delta`` pieces then exactly one ``Done``.
A call makes one attempt and raises an ``LLMError`` on failure; retrying is the
caller's policy. Anything with a matching ``complete()`` (a ``Completer``) can
stand in where only completions are needed, e.g. meld's scripted test provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from groundwork.llm.types import Completion, Message, Options, StreamEvent


@runtime_checkable
class Completer(Protocol):
    """The least a caller of completions needs."""

    async def complete(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> Completion: ...


@runtime_checkable
class Provider(Protocol):
    """A chat-completion provider: ``name`` is the caller's label, ``type`` the API family."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def complete(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> Completion: ...

    def stream(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> AsyncIterator[StreamEvent]: ...

    async def list_models(self) -> list[str]:
        """Model ids the server offers; a cheap connectivity and key check."""
        ...

    async def aclose(self) -> None:
        """Release the connection pool; the provider is unusable afterwards."""
        ...
