"""The offline ``mock`` provider: replies are a pure function of the request.

Used by protocol tests and benchmarks in place of a server. The default reply
quotes the last user message and tags it with a hash of the whole request, so
different requests give visibly different, stable text. Scripted faults use
the fake server's action names (``groundwork.llm.faults``) and raise the same
errors the HTTP providers raise for them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence

from groundwork.llm.errors import (
    LLMConnectionError,
    LLMError,
    MalformedResponse,
    error_for_status,
)
from groundwork.llm.faults import Action, Actions, Script, ok
from groundwork.llm.timing import CallClock, forever
from groundwork.llm.types import (
    Completion,
    Delta,
    Done,
    Message,
    Options,
    StreamEvent,
    Timeouts,
    Usage,
    as_messages,
)

ReplyFn = Callable[[Sequence[Message]], str]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\S*\s*")


def request_digest(messages: Sequence[Message]) -> str:
    """SHA-256 hex of the messages' roles and contents (ASCII-escaped JSON, never fails).

    The payload is ``json.dumps([[role, content], ...], separators=(",", ":"))``,
    assembled from each message's memoized ``[role, content]`` text (a list's
    compact JSON is its items' JSON joined by commas inside brackets): a chat
    re-sends its whole context every turn, and re-encoding it was ~90 us of
    a 49-message spiderweb turn.
    """
    parts = [
        _facts(m.role, m.content)[0]
        if len(m.content) <= _MEMO_MAX_CHARS
        else _message_json(m.role, m.content)
        for m in messages
    ]
    return _digest(parts)


def _digest(parts: list[bytes]) -> str:
    return hashlib.sha256(b"[" + b",".join(parts) + b"]").hexdigest()


def deterministic_reply(messages: Sequence[Message]) -> str:
    """``Mock reply <12 hex>: <start of the last user message>``."""
    return _reply_with(messages, request_digest(messages))


def _reply_with(messages: Sequence[Message], digest_hex: str) -> str:
    digest = digest_hex[:12]
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    snippet = " ".join(last.split())
    if len(snippet) > 60:
        snippet = snippet[:57].rstrip() + "..."
    return f"Mock reply {digest}: {snippet}" if snippet else f"Mock reply {digest}."


def _ascii_class(ch: str) -> str:
    if re.fullmatch(r"\w", ch):
        return "w"
    return " " if re.fullmatch(r"\s", ch) else "p"


#: Each ASCII character as its class under ``_TOKEN``: word, space or punctuation.
_ASCII_CLASSES = {i: _ascii_class(chr(i)) for i in range(128)}


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and punctuation marks (``_TOKEN`` matches).

    ASCII text is counted without the regex (~7x faster on a 2 KB summary
    block, which changes every turn): each punctuation mark is one token and
    each run of word characters another, with the classes taken from the regex.
    """
    if isinstance(text, str) and text.isascii():  # anything else: the regex's TypeError
        classes = text.translate(_ASCII_CLASSES)
        return classes.count("p") + len(classes.replace("p", " ").split())
    return len(_TOKEN.findall(text))


#: Messages up to this size have their digest part and token count memoized.
_MEMO_MAX_CHARS = 4096
#: Messages memoized (least recently used dropped): 200 sessions re-sending ~66-message
#: contexts cycle through ~13,000 texts, and an LRU smaller than that misses every
#: time (8,192 did in spiderweb's P3). Bounded: at most 32,768 x 4 KiB texts.
_MEMO_SIZE = 1 << 15


def _message_json(role: str, content: str) -> bytes:
    return json.dumps([role, content], separators=(",", ":")).encode("ascii")


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _facts(role: str, content: str) -> tuple[bytes, int]:
    """A message's part of the :func:`request_digest` payload, and its token count."""
    return _message_json(role, content), count_tokens(content)


def prompt_tokens(messages: Sequence[Message]) -> int:
    """Prompt usage of ``messages``; a chat re-sends its whole context every turn.

    Recounting 60-odd unchanged messages with a regex was most of a mock
    turn (~100 us in spiderweb's P2), so counts are memoized per message
    (bounded, see ``_MEMO_SIZE``).
    """
    return sum(
        _facts(m.role, m.content)[1]
        if len(m.content) <= _MEMO_MAX_CHARS
        else count_tokens(m.content)
        for m in messages
    )


def _request_facts(messages: Sequence[Message]) -> tuple[str, int]:
    """:func:`request_digest` and :func:`prompt_tokens` of ``messages`` in one pass."""
    facts = [
        _facts(m.role, m.content)
        if len(m.content) <= _MEMO_MAX_CHARS
        else (_message_json(m.role, m.content), count_tokens(m.content))
        for m in messages
    ]
    return _digest([f[0] for f in facts]), sum([f[1] for f in facts])


def split_pieces(text: str, *, per_char: bool = False) -> list[str]:
    """Stream pieces (each word with its trailing space); they concatenate to ``text``."""
    if per_char:
        return list(text)
    return [p for p in _PIECE.findall(text) if p]


#: Requests ``MockProvider.calls`` keeps by default (each holds a whole model context).
KEEP_CALLS = 1000


class MockProvider:
    """Deterministic provider; ``calls`` records the messages of the latest requests.

    At most ``keep_calls`` requests are kept (oldest dropped first): a server
    running on the mock provider for hours (the soak bench) must not grow
    without bound, while a test sees every call it makes.
    """

    def __init__(
        self,
        *,
        name: str = "mock",
        model: str = "mock",
        reply: str | ReplyFn | None = None,
        latency_s: float = 0.0,
        timeouts: Timeouts | None = None,
        options: Options | None = None,
        script: Actions = (),
        keep_calls: int = KEEP_CALLS,
    ) -> None:
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s}")
        self._name = name
        self._model = model
        self._reply = reply
        self.latency_s = latency_s
        self.timeouts = timeouts or Timeouts()
        self.options = options or Options()
        self._script = Script(script)
        if keep_calls < 0:
            raise ValueError(f"keep_calls must be >= 0, got {keep_calls}")
        self.keep_calls = keep_calls
        self.calls: list[tuple[Message, ...]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return "mock"

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"MockProvider(name={self._name!r}, model={self._model!r})"

    def script(self, actions: Actions) -> None:
        """Queue faults for the next calls, as ``FakeLLMServer.script`` does."""
        self._script.extend(actions)

    def reply_for(self, messages: Sequence[Message]) -> str:
        if self._reply is None:
            return deterministic_reply(messages)
        if isinstance(self._reply, str):
            return self._reply
        return self._reply(messages)

    def _begin(self, messages: Sequence[Message]) -> tuple[tuple[Message, ...], Action]:
        msgs = as_messages(messages)
        self.calls.append(msgs)
        if len(self.calls) > self.keep_calls:
            del self.calls[: len(self.calls) - self.keep_calls]
        return msgs, self._script.next() or ok()

    def _fail(self, action: Action, partial: str | None = None) -> LLMError | None:
        if action.kind == "status":
            return error_for_status(
                action.status or 500,
                "mock fault",
                retry_after=action.retry_after,
                provider=self._name,
                partial_text=partial,
            )
        if action.kind == "reset":
            return LLMConnectionError(
                "connection reset (mock fault)", provider=self._name, partial_text=partial
            )
        if action.kind == "malformed":
            return MalformedResponse(
                "malformed response (mock fault)", provider=self._name, partial_text=partial
            )
        return None

    def _answer(self, msgs: Sequence[Message], text: str | None) -> tuple[str, int | None]:
        """The reply (scripted ``text``, else :meth:`reply_for`) and, if known, prompt tokens.

        The default reply's digest and the prompt usage walk the same memoized
        messages, so they are computed in one pass.
        """
        if text is None and self._reply is None:
            digest, prompt = _request_facts(msgs)
            return _reply_with(msgs, digest), prompt
        return (text if text is not None else self.reply_for(msgs)), None

    def _completion(
        self, msgs: Sequence[Message], text: str, clock: CallClock, prompt: int | None = None
    ) -> Completion:
        usage = Usage(
            prompt_tokens=prompt_tokens(msgs) if prompt is None else prompt,
            completion_tokens=count_tokens(text),
        )
        return Completion(text, self._model, usage, "stop", clock.elapsed_ms())

    async def complete(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> Completion:
        msgs, action = self._begin(messages)
        clock = CallClock(self.timeouts)
        if self.latency_s:
            await clock.bounded(asyncio.sleep(self.latency_s), streaming=False)
        if action.kind in ("hang", "stall_after"):
            await clock.bounded(forever(), streaming=False)
        if action.kind == "delay":
            await clock.bounded(asyncio.sleep(action.seconds or 0.0), streaming=False)
        err = self._fail(action)
        if err is not None:
            raise err
        text = action.text if action.kind == "text" and action.text is not None else None
        reply, prompt = self._answer(msgs, text)
        return self._completion(msgs, reply, clock, prompt)

    async def stream(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> AsyncIterator[StreamEvent]:
        msgs, action = self._begin(messages)
        clock = CallClock(self.timeouts)
        if self.latency_s:
            await clock.bounded(asyncio.sleep(self.latency_s), streaming=True)
        if action.kind == "hang":
            await clock.bounded(forever(), streaming=True)
        if action.kind == "delay":
            await clock.bounded(asyncio.sleep(action.seconds or 0.0), streaming=True)
        if action.kind != "reset" or not action.after:
            err = self._fail(action)
            if err is not None:
                raise err
        text = action.text if action.kind == "text" and action.text is not None else None
        reply, prompt = self._answer(msgs, text)
        pieces = split_pieces(reply, per_char=action.kind == "chunked")
        sent: list[str] = []
        cut = None
        if action.kind in ("stall_after", "reset") and action.after is not None:
            cut = min(action.after, len(pieces))
        for i in range(len(pieces) + 1):
            if i == cut:
                partial = "".join(sent)
                if action.kind == "stall_after":
                    try:
                        await clock.bounded(forever(), streaming=True)
                    except LLMError as exc:
                        exc.partial_text = partial
                        raise
                reset_err = self._fail(action, partial)
                if reset_err is not None:
                    raise reset_err
            if i == len(pieces):
                break
            await asyncio.sleep(0)
            sent.append(pieces[i])
            clock.mark_first()
            yield Delta(pieces[i])
        yield Done(self._completion(msgs, reply, clock, prompt))

    async def list_models(self) -> list[str]:
        return [self._model]

    async def aclose(self) -> None:
        """Nothing to release; present so the mock satisfies ``Provider``."""
