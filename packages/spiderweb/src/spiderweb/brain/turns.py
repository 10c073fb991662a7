"""LLM turns (spec §11): global concurrency gate, streaming with coalesced deltas, retries.

A turn runs as its own task, never inside the session actor: it gets an
immutable copy of the model context and reports deltas and the outcome
through callbacks that post to the actor's inbox. Retries happen only before
the first delta reached the client, so a client never sees text twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from groundwork.llm.base import Provider
from groundwork.llm.errors import LLMError, LLMTimeout
from groundwork.llm.types import Delta, Done, Message

from spiderweb.clock import Clock
from spiderweb.protocol.errors import ErrorCode

#: Backoff before retry 1, 2, ... (seconds); the last value repeats.
RETRY_BACKOFF_S = (0.5, 2.0)
#: A turn that waited this long for a global slot is answered ``busy``.
GATE_WAIT_S = 30.0
DELTA_COALESCE_S = 0.05
DELTA_COALESCE_BYTES = 256

DeltaSink = Callable[[str, int], Awaitable[None]]


class GateBusy(Exception):
    """No global LLM slot: too many waiters, or waited longer than ``GATE_WAIT_S``."""


class TurnFailed(Exception):
    """A turn's final failure, shaped for ``error{code, retryable}``."""

    def __init__(self, code: ErrorCode, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class LlmGate:
    """Global ``llm.max_concurrency`` slots with at most ``llm.max_waiting`` waiters.

    A counter and a FIFO of waiter futures rather than ``asyncio.Semaphore``
    behind an async context manager: every turn takes a slot, and the
    semaphore's ``locked()`` scan, the ``acquire`` coroutine and the generator
    context manager were ~4 % of a P3 turn. A released slot is handed to the
    oldest waiter still waiting; nobody overtakes a queued waiter.
    """

    def __init__(self, max_concurrency: int, max_waiting: int, wait_s: float = GATE_WAIT_S):
        self.free = max_concurrency
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self.waiting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody waits for one (no await)."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting at most ``wait_s``; raises :class:`GateBusy` instead."""
        if self.try_acquire():
            return
        if self.waiting >= self.max_waiting:
            raise GateBusy("too many LLM calls waiting")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await fut
        except TimeoutError:
            if fut.done() and not fut.cancelled():  # handed over just as time ran out: keep it
                return
            raise GateBusy("waited too long for an LLM slot") from None
        except BaseException:
            if fut.done() and not fut.cancelled():  # handed over, but we are cancelled
                self.release()
            raise
        finally:
            self.waiting -= 1
            if not fut.done():
                fut.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(fut)

    def release(self) -> None:
        """Give the slot to the oldest live waiter, or back to the pool."""
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body; raises :class:`GateBusy` instead of waiting forever."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()


@dataclass(frozen=True, slots=True)
class TurnPolicy:
    """Retry count and the outer bound on one attempt (provider timeouts bound the phases)."""

    retries: int = 2
    total_timeout_s: float = 120.0
    backoff_s: tuple[float, ...] = RETRY_BACKOFF_S


class _Coalescer:
    """Buffers stream text; flushes at 256 bytes or 50 ms since the last flush."""

    def __init__(self, sink: DeltaSink, clock: Clock) -> None:
        self._sink = sink
        self._clock = clock
        self._buf: list[str] = []
        self._bytes = 0
        self._last = clock.monotonic()
        self.index = 0

    async def add(self, text: str) -> None:
        self._buf.append(text)
        self._bytes += len(text.encode("utf-8", "surrogatepass"))
        now = self._clock.monotonic()
        if self._bytes >= DELTA_COALESCE_BYTES or now - self._last >= DELTA_COALESCE_S:
            await self.flush()

    async def flush(self) -> None:
        if not self._buf:
            return
        text = "".join(self._buf)
        self._buf.clear()
        self._bytes = 0
        self._last = self._clock.monotonic()
        await self._sink(text, self.index)
        self.index += 1


async def run_turn(
    provider: Provider,
    messages: Sequence[Message],
    *,
    gate: LlmGate,
    clock: Clock,
    policy: TurnPolicy = TurnPolicy(),
    on_delta: DeltaSink | None = None,
) -> str:
    """Stream one reply and return its full text, or raise :class:`TurnFailed`/:class:`GateBusy`.

    ``on_delta`` (protocol 2) receives coalesced pieces; they concatenate to
    the returned text.
    """
    if not gate.try_acquire():
        await gate.acquire()
    try:
        attempt = 0
        while True:
            coalescer = _Coalescer(on_delta, clock) if on_delta is not None else None
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for runs the stream in
                # an extra task, one more loop hop per turn.
                async with asyncio.timeout(policy.total_timeout_s):
                    return await _stream_once(provider, messages, coalescer)
            except (LLMError, TimeoutError) as exc:
                started = coalescer is not None and coalescer.index > 0
                retryable = isinstance(exc, TimeoutError) or bool(exc.retryable)
                if retryable and not started and attempt < policy.retries:
                    delay = policy.backoff_s[min(attempt, len(policy.backoff_s) - 1)]
                    attempt += 1
                    if isinstance(exc, LLMError) and exc.retry_after:
                        delay = max(delay, min(exc.retry_after, 10.0))
                    await clock.sleep(delay)
                    continue
                raise _failure(exc) from exc
    finally:
        gate.release()


async def _stream_once(
    provider: Provider, messages: Sequence[Message], coalescer: _Coalescer | None
) -> str:
    parts: list[str] = []
    events = provider.stream(messages)
    try:
        async for event in events:
            if isinstance(event, Delta):
                if event.text:
                    parts.append(event.text)
                    if coalescer is not None:
                        await coalescer.add(event.text)
            elif isinstance(event, Done):
                if coalescer is not None:
                    await coalescer.flush()
                return "".join(parts) if parts else event.completion.text
    finally:
        # Closed here, not by the loop's async-generator finalizer (a task and a
        # loop pass per turn when the stream is left at Done).
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
    if coalescer is not None:
        await coalescer.flush()
    return "".join(parts)


def _failure(exc: BaseException) -> TurnFailed:
    if isinstance(exc, LLMTimeout | TimeoutError):
        return TurnFailed(ErrorCode.PROVIDER_TIMEOUT, f"provider timed out: {exc}", True)
    if isinstance(exc, LLMError):
        return TurnFailed(ErrorCode.PROVIDER_ERROR, str(exc), bool(exc.retryable))
    return TurnFailed(ErrorCode.PROVIDER_ERROR, str(exc), False)
