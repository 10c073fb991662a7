"""The session actor's state and its commit-then-send pipeline (spec §2, §6).

``ActorCore`` declares what a :class:`~spiderweb.session.actor.SessionActor` holds and
implements emission and write-through: frames a command produces wait in
``_Pending`` until the state change they report is committed, then are stamped
(protocol 2 ``seq``/``ts``), kept in the replay ring and handed to the outbox.
The other ``session/*_ops`` modules add behaviour on top, one responsibility each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from spiderweb.memory.ram import RamLimits
from spiderweb.memory.store import NewMessage
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode
from spiderweb.protocol.outbound import encode, encode_pair
from spiderweb.session.commands import (
    Command,
    CommitFailed,
    Exists,
    Link,
    Rebind,
)
from spiderweb.session.reconnect import ReplayRing
from spiderweb.session.services import Services
from spiderweb.session.state import SessionState

log = logging.getLogger("spiderweb.session.actor")

Source = Literal["memory", "state", "ltm", "legacy"]


@dataclass(slots=True)
class _Turn:
    request: str
    body: str | None
    kind: Literal["chat", "answer"]
    id: int = 0
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Answered:
    """What a request produced, to re-send on a duplicate ``chat.send`` (idempotency)."""

    user_memory_id: int | None
    reply_memory_id: int | None = None
    reply: str | None = None
    created_at_ms: int = 0


@dataclass(slots=True)
class _Batch:
    """Frames waiting for their commit; ``link`` is the connection they were stamped for."""

    future: Future[Any] | None
    link: Link | None
    items: list[tuple[str, bool]]
    #: Fires ``db_timeout_s`` after the submit; a batch past it fails when it is next in line.
    timer: asyncio.TimerHandle | None = None
    timed_out: bool = False


@dataclass(slots=True)
class _Pending:
    frames: list[tuple[out.OutFrame | str, bool]] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    dirty: bool = False
    #: The only change is a protocol-1 user message that no frame reports yet:
    #: it may ride the turn's next commit (which any frame or other change forces).
    deferrable: bool = False


_background: set[asyncio.Task[Any]] = set()


def _spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Start a task and keep a reference until it ends (asyncio only keeps weak ones)."""
    task = asyncio.create_task(coro, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


class ActorCore:
    """What one session actor holds, and the commit/stamp/deliver path every handler uses."""

    state: SessionState
    s: Services
    inbox: asyncio.Queue[Command]
    link: Link | None
    detached_since: float | None
    stopped: bool
    _source: Source | None
    _rebind: Rebind | None
    _exists: Exists | None
    _ring: ReplayRing
    _ring_enabled: bool
    _p: _Pending
    _turn: _Turn | None
    _turn_queue: deque[_Turn]
    _turn_counter: int
    _workers: dict[int, asyncio.Task[None]]
    _goal_token: int
    _plan_task: asyncio.Task[None] | None
    _pending_goal: tuple[str, str]
    _manager_task: asyncio.Task[None] | None
    _manager_busy: bool
    _last_snapshot_mono: float | None
    _last_check_ms: int | None
    _answered: OrderedDict[str, _Answered]
    _task: asyncio.Task[None] | None
    _inflight: deque[_Batch]
    _drained: asyncio.Future[None] | None
    _identity: str | None

    @property
    def key(self) -> str:
        return self.state.key

    def post(self, cmd: Command) -> bool:
        """Queue a client-driven command; ``False`` when the inbox is full (→ ``busy``)."""
        try:
            self.inbox.put_nowait(cmd)
        except asyncio.QueueFull:
            return False
        return True

    async def send(self, cmd: Command) -> None:
        """Queue an internal command, waiting for room (results must not be lost)."""
        await self.inbox.put(cmd)

    def _post_later(self, cmd: Command) -> None:
        if not self.post(cmd):
            _spawn(self.send(cmd), f"post-{self.key}")

    def _emit(self, frame: out.OutFrame, *, droppable: bool = False) -> None:
        self._p.frames.append((frame, droppable))
        if not isinstance(frame, out.MemoryEvent):
            self._p.deferrable = False  # a client-visible report: commit now

    def _changed(self) -> None:
        self._p.dirty = True
        self._p.deferrable = False

    async def _commit(self, *, force: bool = False) -> None:
        """Persist the state if it changed; its frames go out once that commit is durable.

        Commits are pipelined: the actor submits the write and moves on, and
        :meth:`_flush_ready` sends each batch of frames, in order, after its
        commit (the writer is FIFO and groups queued writes into one
        transaction). So no frame reports a change before it is committed, yet
        consecutive commands of a turn can share one transaction.
        """
        st = self.state
        p = self._p
        if p.deferrable and p.dirty and not force:
            return  # only memory telemetry reports it yet: it rides the turn's next commit
        n_frames = len(self._p.frames)
        if n_frames and st.seq + n_frames >= st.seq_reserved:
            while st.seq + n_frames >= st.seq_reserved:
                st.reserve_seq_block()
            self._p.dirty = True
        pending, self._p = self._p, _Pending()
        future: Future[Any] | None = None
        if pending.dirty:
            now = self.s.clock.now_ms()
            st.last_active_ms = now
            st.message_count += len(pending.messages)
            encoded = st.to_json()
            future = self.s.store.commit_session(
                st.key,
                state=st.to_v2() if encoded is None else None,
                state_json=encoded,
                messages=pending.messages,
                agent_id=st.agent_id,
                is_active=self.link is not None,
                now_ms=now,
            )
        items = self._stamp(pending.frames)
        if future is None and not self._inflight:
            self._deliver(self.link, items)
            return
        batch = _Batch(future, self.link, items)
        self._inflight.append(batch)
        if future is not None:
            self._watch(batch, future)

    def _stamp(self, frames: list[tuple[out.OutFrame | str, bool]]) -> list[tuple[str, bool]]:
        """Give each frame its seq (protocol 2) and text; keep it in the replay ring."""
        link = self.link
        now = self.s.clock.now_ms()
        items: list[tuple[str, bool]] = []
        for item, droppable in frames:
            if isinstance(item, str):  # a replayed, already stamped frame
                items.append((item, False))
                continue
            seq = self.state.take_seq()
            proto = 0 if link is None else link.proto
            text = stamped = ""
            if proto == 1 and self._ring_enabled:  # one serialization for both texts
                text, stamped = encode_pair(item, seq, now)
            elif self._ring_enabled or proto == 2:
                text = stamped = encode(item, seq=seq, ts=now)
            elif link is not None:
                text = encode(item)
            if not droppable:  # heartbeat telemetry is never replayed
                self._ring.add(seq, stamped)
            if link is not None:
                items.append((text, droppable))
        return items

    def _deliver(self, link: Link | None, items: list[tuple[str, bool]]) -> None:
        # Frames stamped for one connection never go to a later one (the ring has them).
        if link is None or link is not self.link:
            return
        for text, droppable in items:
            link.deliver(text, droppable=droppable)

    def _watch(self, batch: _Batch, future: Future[Any]) -> None:
        """Flush when the writer resolves ``future``; give up on it after ``db_timeout_s``.

        The writer thread's done-callback schedules :meth:`_flush_ready` on the
        loop directly: no flusher task, ``wrap_future`` or ``shield`` in between,
        which cost three loop iterations per commit (P2). Nothing here can
        cancel the write itself.
        """
        loop = asyncio.get_running_loop()
        batch.timer = loop.call_later(self.s.db_timeout_s, self._commit_timed_out, batch)

        def resolved(_: Future[Any]) -> None:  # the writer thread (or here, if already done)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(self._flush_ready)

        future.add_done_callback(resolved)

    def _commit_timed_out(self, batch: _Batch) -> None:
        batch.timed_out = True
        self._flush_ready()

    def _flush_ready(self) -> None:
        """Hand over, in order, every batch at the head whose commit has resolved."""
        inflight = self._inflight
        while inflight:
            batch = inflight[0]
            future = batch.future
            if future is not None:
                if future.done():
                    error: BaseException | None = (
                        RuntimeError("commit cancelled")
                        if future.cancelled()
                        else future.exception()
                    )
                elif batch.timed_out:
                    error = TimeoutError(f"no commit after {self.s.db_timeout_s:g} s")
                else:
                    break
                if batch.timer is not None:
                    batch.timer.cancel()
                if error is not None:
                    inflight.popleft()
                    log.error("session %s: commit failed: %s", self.key, error)
                    self._post_later(CommitFailed(str(error)))
                    continue
            inflight.popleft()
            self._deliver(batch.link, batch.items)
        idle = self._drained
        if not inflight and idle is not None and not idle.done():
            idle.set_result(None)

    async def _drain(self) -> None:
        """Wait until every submitted commit resolved and its frames were handed over."""
        while self._inflight:
            self._drained = asyncio.get_running_loop().create_future()
            self._flush_ready()
            await self._drained

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.s.db_timeout_s)

    def _limits(self) -> RamLimits:
        return RamLimits.from_config(self.s.config.memory)

    def _refuse_while_draining(self, rid: str) -> bool:
        if not self.s.draining:
            return False
        self._emit(
            out.error(ErrorCode.BUSY, "server is shutting down: reconnect and retry shortly", rid)
        )
        return True

    def _state_frame(self, rid: str, phase: str) -> out.AgentState:
        st = self.state
        return out.AgentState(
            rid,
            st.key,
            phase,
            st.queued,
            st.active,
            st.last_goal,
            st.mode,
            st.goal_state,
            st.dropped,
        )

    def _phase(self) -> str:
        st = self.state
        if st.mode != "running":
            return f"workers.{st.mode}"
        if st.goal is not None and not st.goal.finished:
            return "workers.running"
        return "workers.ready"
