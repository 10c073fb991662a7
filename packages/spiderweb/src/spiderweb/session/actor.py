"""SessionActor (spec §2, §6): the one task that owns and mutates a session.

Connection readers, turn tasks, workers, the planner, the summarizer and the
heartbeat sweep only *post* commands to the bounded inbox. The actor handles
one command at a time; the frames a command produces are held back until the
state change they report is committed to SQLite (write-through), then stamped
(protocol 2 ``seq``/``ts``), kept in the replay ring and handed to the
connection's outbox. An exception in a handler is logged with an incident
id, the session reloads its last committed state and the client gets
``error{code:"internal"}``; the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from groundwork.llm.types import Message
from spiderweb.brain import heartbeat
from spiderweb.brain.goals import (
    Goal,
    Task,
    admit,
    default_tasks,
    finished_frames,
    plan_entry,
    plan_frames,
    result_entry,
)
from spiderweb.brain.turns import GateBusy, TurnFailed, run_turn
from spiderweb.memory.manager import (
    SNAPSHOT_REASON,
    event_message,
    pick_victims,
    should_snapshot,
)
from spiderweb.memory.ram import Ram, RamLimits, UpdateResult
from spiderweb.memory.recall import query_items
from spiderweb.memory.snapshot import Snapshot
from spiderweb.memory.store import NewMessage
from spiderweb.protocol import inbound as inb
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode
from spiderweb.protocol.inbound import Request
from spiderweb.protocol.outbound import encode
from spiderweb.session import dedup, queries
from spiderweb.session.commands import (
    Attach,
    Command,
    CommitFailed,
    Detach,
    Dispatch,
    Emit,
    Exists,
    HeartbeatCheck,
    Inbound,
    Link,
    Lookup,
    ManagerTick,
    PlanDone,
    Rebind,
    Shutdown,
    Stop,
    SummariesDone,
    TaskDone,
    TurnDelta,
    TurnDone,
)
from spiderweb.session.reconnect import ReplayRing, interrupted_progress, restore_progress
from spiderweb.session.services import (
    PlanResult,
    Services,
    SummaryOutcome,
    TaskOutcome,
    TaskRequest,
)
from spiderweb.session.state import SessionState

log = logging.getLogger(__name__)

INBOX_SIZE = 64
RECENT_REQUESTS = 512
CLOSE_GOING_AWAY = 1001
CLOSE_SUPERSEDED = 4001
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


@dataclass(slots=True)
class _Pending:
    frames: list[tuple[out.OutFrame | str, bool]] = field(default_factory=list)
    messages: list[NewMessage] = field(default_factory=list)
    dirty: bool = False
    #: The only change is a protocol-1 user message that no frame reports yet:
    #: it may ride the turn's next commit (which any frame or other change forces).
    deferrable: bool = False


class SessionActor:
    """Owner task of one session; create with a restored or new :class:`SessionState`."""

    def __init__(
        self,
        state: SessionState,
        services: Services,
        *,
        source: Source | None,
        rebind: Rebind | None = None,
        exists: Exists | None = None,
    ) -> None:
        self.state = state
        self.s = services
        self.inbox: asyncio.Queue[Command] = asyncio.Queue(INBOX_SIZE)
        self.link: Link | None = None
        self.detached_since: float | None = services.clock.monotonic()
        self._source: Source | None = source
        self._rebind = rebind
        self._exists = exists
        ring_size = services.config.session.replay_frames
        self._ring = ReplayRing(ring_size, state.seq)
        self._ring_enabled = ring_size > 0
        self._p = _Pending()
        self._turn: _Turn | None = None
        self._turn_queue: deque[_Turn] = deque()
        self._turn_counter = 0
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._goal_token = 0
        self._plan_task: asyncio.Task[None] | None = None
        self._pending_goal: tuple[str, str] = ("", "")
        self._manager_task: asyncio.Task[None] | None = None
        self._manager_busy = False
        self._last_snapshot_mono: float | None = None
        self._last_check_ms: int | None = None
        self._answered: OrderedDict[str, _Answered] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._inflight: deque[_Batch] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._identity: str | None = None
        self.stopped = False

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return self.state.key

    @property
    def busy(self) -> bool:
        """Work in flight (a turn, a plan, worker tasks or queued turns)."""
        return bool(self._turn is not None or self._turn_queue or self._workers or self._plan_task)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=f"session-{self.key}")
        return self._task

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

    async def _run(self) -> None:
        while True:
            cmd = await self.inbox.get()
            try:
                if isinstance(cmd, Stop):
                    await self._commit(force=True)
                    await self._drain()
                    self.stopped = True
                    cmd.done.set_result(None)
                    return
                await self._handle(cmd)
                await self._commit(force=isinstance(cmd, Shutdown))
                if isinstance(cmd, Shutdown):
                    await self._drain()
                    self.stopped = True
                    if not cmd.done.done():
                        cmd.done.set_result(self.state.to_v2())
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                await self._incident(cmd)

    async def _incident(self, cmd: Command) -> None:
        incident = secrets.token_hex(6)
        log.exception("session %s: incident %s handling %s", self.key, incident, type(cmd))
        self._p = _Pending()
        try:
            raw = await self._read(self.s.store.get_state, self.key)
            if raw is not None:
                restored = SessionState.from_v2(
                    raw, default_agent=self.state.agent_id, limits=self._limits()
                )
                restored.seq = max(restored.seq, self.state.seq)
                restored.seq_reserved = max(restored.seq_reserved, self.state.seq_reserved)
                self.state = restored
        except Exception:
            log.exception("session %s: reload after incident %s failed", self.key, incident)
        request = cmd.request.request_id if isinstance(cmd, Inbound) else None
        self._emit(
            out.error(
                ErrorCode.INTERNAL,
                f"internal error (incident {incident}); the session was reloaded",
                request,
                incident=incident,
            )
        )
        if isinstance(cmd, Shutdown | Stop) and not cmd.done.done():
            cmd.done.set_exception(RuntimeError(f"incident {incident}"))
        try:
            await self._commit()
        except Exception:
            log.exception("session %s: commit after incident failed", self.key)

    # -- emission and write-through ----------------------------------------------------------
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
        the flusher sends each batch of frames, in order, after its commit (the
        writer is FIFO and groups queued writes into one transaction). So no
        frame reports a change before it is committed, yet consecutive
        commands of a turn can share one transaction.
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
        self._inflight.append(_Batch(future, self.link, items))
        if self._flusher is None or self._flusher.done():
            self._flusher = _spawn(self._flush_loop(), f"flush-{st.key}")

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
            stamped: str | None = None
            if self._ring_enabled or (link is not None and link.proto == 2):
                stamped = encode(item, seq=seq, ts=now)
            if not droppable:  # heartbeat telemetry is never replayed
                self._ring.add(seq, stamped or "")
            if link is not None:
                text = stamped if link.proto == 2 and stamped is not None else encode(item)
                items.append((text, droppable))
        return items

    def _deliver(self, link: Link | None, items: list[tuple[str, bool]]) -> None:
        # Frames stamped for one connection never go to a later one (the ring has them).
        if link is None or link is not self.link:
            return
        for text, droppable in items:
            link.deliver(text, droppable=droppable)

    async def _flush_loop(self) -> None:
        while self._inflight:
            batch = self._inflight[0]
            if batch.future is not None:
                try:
                    await asyncio.wait_for(
                        asyncio.shield(asyncio.wrap_future(batch.future)), self.s.db_timeout_s
                    )
                except Exception as exc:
                    self._inflight.popleft()
                    log.error("session %s: commit failed: %s", self.key, exc)
                    self._post_later(CommitFailed(str(exc)))
                    continue
            self._inflight.popleft()
            self._deliver(batch.link, batch.items)

    async def _drain(self) -> None:
        """Wait until every submitted commit resolved and its frames were handed over."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.s.db_timeout_s)

    def _limits(self) -> RamLimits:
        return RamLimits.from_config(self.s.config.memory)

    # -- dispatch ----------------------------------------------------------------------------
    async def _handle(self, cmd: Command) -> None:
        if isinstance(cmd, Inbound):
            if cmd.link is self.link:
                await self._on_frame(cmd.link, cmd.request)
        elif isinstance(cmd, Emit):
            if cmd.link is self.link:
                self._emit(cmd.frame)
        elif isinstance(cmd, TurnDelta):
            self._on_delta(cmd)
        elif isinstance(cmd, TurnDone):
            self._on_turn_done(cmd)
        elif isinstance(cmd, TaskDone):
            self._on_task_done(cmd)
        elif isinstance(cmd, PlanDone):
            self._on_plan(cmd)
        elif isinstance(cmd, Dispatch):
            self._dispatch()
        elif isinstance(cmd, Lookup):
            await self._on_lookup(cmd)
        elif isinstance(cmd, HeartbeatCheck):
            self._on_heartbeat(cmd.forced, cmd.request)
        elif isinstance(cmd, ManagerTick):
            self._run_manager()
        elif isinstance(cmd, SummariesDone):
            await self._on_summaries(cmd)
        elif isinstance(cmd, Attach):
            self._identity = await asyncio.wait_for(
                asyncio.to_thread(self.s.identity, cmd.agent_id), self.s.db_timeout_s
            )
            self._on_attach(cmd)
        elif isinstance(cmd, Detach):
            if cmd.link is self.link:
                self.link = None
                self.detached_since = self.s.clock.monotonic()
                self._changed()
        elif isinstance(cmd, Shutdown):
            self._on_shutdown()
        elif isinstance(cmd, CommitFailed):
            raise RuntimeError(f"a state commit failed: {cmd.reason}")

    async def _on_frame(self, link: Link, req: Request) -> None:
        """A duplicate (same ``id``) of a session-changing request is answered, not re-run."""
        f, rid, replies = req.frame, req.request_id, self.state.replies
        if dedup.is_goal_control(f) and await self._goal_known(link, rid):
            return
        keep = dedup.is_mutation(f)
        if keep and (again := dedup.stored(replies, rid)) is not None:
            for frame in again:
                self._emit(frame)
            return
        p = self._p
        mark = len(p.frames)
        await self._on_request(link, req)
        if keep and p is self._p and dedup.remember(replies, rid, p.frames[mark:]):
            self._changed()

    async def _on_request(self, link: Link, req: Request) -> None:
        f = req.frame
        rid = req.request_id
        if isinstance(f, inb.ChatSend):
            await self._on_chat(link, req, f.body)
        elif isinstance(f, inb.AgentControl):
            await self._on_control(rid, f)
        elif isinstance(f, inb.AgentHeartbeat):
            self._on_heartbeat(True, rid)
        elif isinstance(f, inb.SessionReset):
            await self._reset(rid, f.type, archive=f.archive, reason=f.reason)
        elif isinstance(f, inb.MemoryRecall):
            snaps = await self._snapshots(f.include_archived)
            self._emit(queries.recall_reply(rid, self.key, self.state.ram, snaps, f))
        elif isinstance(f, inb.MemoryQuery):
            snaps = await self._snapshots(f.include_archived)
            self._emit(queries.query_reply(rid, self.key, self.state.ram, snaps, f))
        elif isinstance(f, inb.Ping):
            self._emit(out.Pong(self.s.clock.now_ms(), rid))
        elif isinstance(f, inb.SessionRestore):
            await self._on_restore(link, rid, f.session_key)
        elif isinstance(f, inb.SessionHistory):
            rows, more = await self._read(
                self.s.store.history, self.key, limit=f.effective_limit, before_id=f.before_id
            )
            self._emit(queries.history_reply(rid, self.key, rows, more))
        elif isinstance(f, inb.AgentList):
            self._emit(queries.agent_list_reply(rid, await self._read(self.s.store.agents)))
        elif isinstance(f, inb.AgentGet):
            metas = await self._read(
                self.s.store.list_sessions, f.agent_id, limit=queries.AGENT_SESSIONS
            )
            files = await self._read(self.s.identity_files, f.agent_id)
            self._emit(queries.agent_info_reply(rid, f.agent_id, files, metas))

    async def _on_lookup(self, cmd: Lookup) -> None:
        if cmd.done.done():
            return
        try:
            snaps = await self._snapshots(True)
            items = query_items(self.state.ram, snaps, limit=cmd.limit, topic=cmd.topic)
        except Exception as exc:
            cmd.done.set_exception(exc)
            return
        cmd.done.set_result(items)

    async def _memory_lookup(self, topic: str, limit: int) -> list[dict[str, Any]]:
        done: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        await self.send(Lookup(topic, limit, done))
        return await asyncio.wait_for(done, self.s.db_timeout_s)

    async def _snapshots(self, include_archived: bool) -> list[Snapshot]:
        if not include_archived:
            return []
        snaps: list[Snapshot] = await self._read(self.s.store.snapshots, self.key)
        return snaps

    # -- attach / detach / restore -----------------------------------------------------------
    def _capabilities(self, proto: int) -> list[str]:
        caps = ["history", "restore"]
        if proto == 2:
            caps = ["seq", "resume", "stream", *caps]
        if self.s.auth_enabled:
            caps.append("auth")
        return caps

    def _on_attach(self, cmd: Attach) -> None:
        old = self.link
        if old is not None and old is not cmd.link:
            old.close(CLOSE_SUPERSEDED, "superseded")
        link = cmd.link
        self.link = link
        self.detached_since = None
        st = self.state
        st.agent_id = cmd.agent_id
        source, self._source = self._source, "memory"
        replay: str | None = None
        missed: list[str] = []
        if link.proto == 2:
            replay, missed = self._ring.replay(cmd.resume_from, st.seq)
        self._emit(
            out.SessionAck(
                st.key,
                st.agent_id,
                link.proto,
                self._capabilities(link.proto),
                restored=source is not None,
                replay=replay,
            )
        )
        self._p.frames.extend((text, False) for text in missed)
        if cmd.restore_request is not None:
            self._emit(
                out.SessionRestoreResponse(cmd.restore_request, True, self._session_summary())
            )
        if source is not None:
            self._emit(restore_progress(st, source))
        for request in st.interrupted_turns:
            self._emit(interrupted_progress(request, st.key))
        st.interrupted_turns.clear()
        self._changed()

    def _session_summary(self) -> dict[str, Any]:
        st = self.state
        summaries = st.ram.summaries
        return out.RestoredSession(
            st.key,
            st.agent_id,
            st.last_active_ms,
            st.message_count,
            summaries[-1].text if summaries else st.last_goal,
        ).to_wire()

    async def _on_restore(self, link: Link, rid: str, key: str | None) -> None:
        if key is None or key == self.key:
            self._emit(out.SessionRestoreResponse(rid, True, self._session_summary()))
            return
        found = self._exists is not None and await self._exists(key)
        if not found or self._rebind is None:
            self._emit(out.SessionRestoreResponse(rid, False, None))
            return
        # Leave this session (committed as detached), then attach to the other one.
        self.link = None
        self.detached_since = self.s.clock.monotonic()
        self._changed()
        _spawn(self._rebind(link, key, rid), f"rebind-{key}")

    # -- chat turns --------------------------------------------------------------------------
    async def _on_chat(self, link: Link, req: Request, body: str) -> None:
        rid = req.request_id
        explicit = req.frame.id is not None
        if body == "/new":
            await self._reset(rid, "session.new", archive=True, reason="manual-reset")
            return
        if body == "/goal" or body.startswith("/goal "):
            if explicit and await self._goal_known(link, rid):
                return
            await self._on_goal(rid, body[len("/goal") :].strip())
            return
        if explicit and await self._resend_if_known(link, rid):
            return
        if self._refuse_while_draining(rid):
            return
        turn = _Turn(rid, body, "chat")
        if self._turn is not None or self._turn_queue:
            if len(self._turn_queue) >= self.s.config.limits.max_pending_turns:
                self._emit(out.error(ErrorCode.BUSY, "too many pending turns; retry later", rid))
                return
            self._turn_queue.append(turn)
            return
        self._start_turn(turn)

    def _refuse_while_draining(self, rid: str) -> bool:
        if not self.s.draining:
            return False
        self._emit(
            out.error(ErrorCode.BUSY, "server is shutting down: reconnect and retry shortly", rid)
        )
        return True

    async def _goal_known(self, link: Link, rid: str) -> bool:
        """A re-sent ``/goal`` (same ``id``) never plans a second goal (§6 idempotency).

        Still planning or running here (or interrupted by a restart): its frames are on the
        way or ``resume`` continues it, so nothing is sent; answered or stored: as a chat.
        """
        goal = self.state.goal
        if self._plan_task is not None and self._pending_goal[0] == rid:
            return True
        if goal is not None and goal.request == rid and not goal.finished:
            return True
        return await self._resend_if_known(link, rid)

    async def _resend_if_known(self, link: Link, rid: str) -> bool:
        if self._turn is not None and self._turn.request == rid:
            return True
        if any(t.request == rid for t in self._turn_queue):
            return True
        known = self._answered.get(rid)
        if known is None:
            rows = self.s.store.find_request_now(self.key, rid)
            if rows is None:
                rows = await self._read(self.s.store.find_request, self.key, rid)
            if not rows:
                return False
            known = _Answered(None)
            for row in rows:
                if row.role == "user":
                    known.user_memory_id = row.memory_id
                elif row.role == "assistant":
                    known.reply_memory_id = row.memory_id
                    known.reply = row.content
                    known.created_at_ms = row.created_at_ms
        if link.proto == 2 and known.user_memory_id is not None:
            self._emit(out.ChatAck(rid, self.key, known.user_memory_id))
        if known.reply is not None and known.reply_memory_id is not None:
            self._emit(
                out.SessionReceive(known.reply, known.reply_memory_id, rid, known.created_at_ms)
            )
        else:  # stored, but its turn died with the previous process: say so, run nothing
            self._emit(interrupted_progress(rid, self.key))
        return True

    def _remember(self, rid: str, answered: _Answered) -> None:
        self._answered[rid] = answered
        self._answered.move_to_end(rid)
        while len(self._answered) > RECENT_REQUESTS:
            self._answered.popitem(last=False)

    def _append(self, role: Any, content: str) -> UpdateResult:
        """RAM append + hard-limit ``memory.event`` (evictions never empty the context)."""
        result = self.state.ram.update(role, content, now_ms=self.s.clock.now_ms())
        if result.evicted:
            ram = self.state.ram
            self._emit(
                out.MemoryEvent(
                    "memory-manager",
                    self.key,
                    "evict",
                    "evicted",
                    len(result.evicted),
                    f"evicted {len(result.evicted)} RAM entries over the hard limit",
                    ram.active_count,
                    ram.active_bytes,
                    ram.summary_count,
                    ram.tombstone_count,
                )
            )
        self._changed()
        return result

    def _start_turn(self, turn: _Turn) -> None:
        now = self.s.clock.now_ms()
        if turn.kind == "chat" and turn.body is not None:
            clean = not self._p.dirty and not self._p.frames
            result = self._append("user", turn.body)
            mid = result.entry.id
            self._p.messages.append(NewMessage(turn.request, "user", turn.body, mid, now))
            self._remember(turn.request, _Answered(mid))
            if self.link is not None and self.link.proto == 2:
                self._emit(out.ChatAck(turn.request, self.key, mid))
            self._run_manager()
            # Protocol 1 acknowledges a turn only with session.receive, so the
            # user message may share that commit (one transaction per turn).
            self._p.deferrable = clean and all(
                isinstance(f, out.MemoryEvent) for f, _ in self._p.frames
            )
        else:
            self._emit(
                out.progress(turn.request, self.key, "execution", "started", "Answering the goal.")
            )
        self._turn_counter += 1
        turn.id = self._turn_counter
        self._turn = turn
        if self._identity is None:  # detached since start: load once (cached by mtime/size)
            self._identity = self.s.identity(self.state.agent_id)
        context = [Message(m.role, m.content) for m in self.state.ram.model_context(self._identity)]
        stream = self.link is not None and self.link.proto == 2
        turn.task = _spawn(self._turn_body(turn.id, context, stream), f"turn-{self.key}")

    async def _turn_body(self, turn_id: int, context: list[Message], stream: bool) -> None:
        async def on_delta(text: str, index: int) -> None:
            await self.send(TurnDelta(turn_id, text, index))

        try:
            text = await run_turn(
                self.s.provider,
                context,
                gate=self.s.gate,
                clock=self.s.clock,
                policy=self.s.turn_policy,
                on_delta=on_delta if stream else None,
            )
        except GateBusy:
            await self.send(TurnDone(turn_id, busy=True))
        except TurnFailed as failure:
            await self.send(TurnDone(turn_id, failure=failure))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("turn failed unexpectedly")
            unexpected = TurnFailed(ErrorCode.PROVIDER_ERROR, f"provider failed: {exc}", False)
            await self.send(TurnDone(turn_id, failure=unexpected))
        else:
            await self.send(TurnDone(turn_id, text=text))

    def _on_delta(self, cmd: TurnDelta) -> None:
        turn = self._turn
        if turn is None or turn.id != cmd.turn:
            return
        self._emit(out.SessionDelta(turn.request, cmd.text, cmd.index))

    def _on_turn_done(self, cmd: TurnDone) -> None:
        turn = self._turn
        if turn is None or turn.id != cmd.turn:
            return
        self._turn = None
        now = self.s.clock.now_ms()
        rid = turn.request
        if cmd.text is not None:
            result = self._append("assistant", cmd.text)
            mid = result.entry.id
            self._p.messages.append(NewMessage(rid, "assistant", cmd.text, mid, now))
            known = self._answered.get(rid) or _Answered(None)
            known.reply_memory_id, known.reply, known.created_at_ms = mid, cmd.text, now
            self._remember(rid, known)
            self._emit(out.SessionReceive(cmd.text, mid, rid, now))
            if turn.kind == "answer":
                self._emit(
                    out.progress(rid, self.key, "execution", "complete", "Goal answer sent.")
                )
            self._run_manager()
        else:
            if cmd.busy:
                self._emit(out.error(ErrorCode.BUSY, "all LLM slots are busy; retry shortly", rid))
                self._emit(
                    out.progress(
                        rid, self.key, "planner", "saturated", "LLM concurrency limit reached."
                    )
                )
            elif cmd.failure is not None:
                f = cmd.failure
                self._emit(out.error(f.code, f.message, rid, retryable=f.retryable))
            if turn.kind == "answer":
                self._emit(
                    out.progress(rid, self.key, "execution", "failed", "Goal answer failed.")
                )
        if self._turn_queue:
            self._start_turn(self._turn_queue.popleft())

    # -- reset / clear -----------------------------------------------------------------------
    def _stop_work(self) -> list[Task]:
        """Cancel the goal's tasks, the planner and every turn; returns tasks that were running."""
        running: list[Task] = []
        goal = self.state.goal
        if goal is not None and not goal.finished:
            running = goal.cancel_all(self.s.clock.now_ms())
        self._goal_token += 1
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()
        if self._plan_task is not None:
            self._plan_task.cancel()
            self._plan_task = None
        if self._turn is not None and self._turn.task is not None:
            self._turn.task.cancel()
        self._turn = None
        self._turn_queue.clear()
        return running

    async def _archive(self, reason: str) -> bool:
        ram = self.state.ram
        if ram.is_empty():
            return False
        now = self.s.clock.now_ms()
        snap = Snapshot(0, self.key, now, reason, ram.next_id, ram.entries, ram.summaries)
        result = await self.s.store.archive_or_fallback(
            snap, timeout_s=self.s.db_timeout_s, now_ms=now
        )
        self._last_snapshot_mono = self.s.clock.monotonic()
        return result.snapshot_id is not None or result.legacy_path is not None

    async def _reset(self, rid: str, reply_type: str, *, archive: bool, reason: str) -> None:
        self._stop_work()
        archived = await self._archive(reason) if archive else False
        st = self.state
        st.ram.reset()
        st.goal = None
        st.mode = "running"
        st.last_saturation_ms = 0
        st.backpressure_notified = False
        self._changed()
        self._emit(out.SessionResetReply(reply_type, rid, self.key, archived))

    # -- agent.control -----------------------------------------------------------------------
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

    async def _on_control(self, rid: str, f: inb.AgentControl) -> None:
        verb = f.verb
        st = self.state
        if verb in ("goal", "plan"):
            await self._on_goal(rid, f.goal_text)
        elif verb == "pause":
            st.mode = "paused"
            if st.goal is not None and st.goal.state == "running":
                st.goal.state = "paused"
            self._changed()
            self._emit(self._state_frame(rid, "workers.paused"))
        elif verb == "resume":
            st.mode = "running"
            self._changed()
            self._dispatch()
            self._emit(self._state_frame(rid, "workers.running"))
        elif verb == "cancel":
            goal = st.goal
            running = self._stop_goal_tasks()
            st.mode = "cancelled"
            self._changed()
            if goal is not None:
                for task in running:
                    self._emit(
                        out.AgentStatus(
                            goal.request, st.key, task.id, task.kind, "cancelled", "cancelled"
                        )
                    )
            self._emit(self._state_frame(rid, "workers.cancelled"))
        elif verb in ("state", "status"):
            self._emit(self._state_frame(rid, self._phase()))
        elif verb == "heartbeat":
            self._on_heartbeat(True, rid)
        elif verb == "clear":
            self._stop_work()
            await self._archive("clear")
            st.ram.reset()
            st.goal = None
            st.mode = "running"
            st.last_saturation_ms = 0
            st.backpressure_notified = False
            self._changed()
            self._emit(self._state_frame(rid, "workers.ready"))

    def _stop_goal_tasks(self) -> list[Task]:
        goal = self.state.goal
        if goal is None or goal.finished:
            return []
        running = goal.cancel_all(self.s.clock.now_ms())
        self._goal_token += 1
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()
        if self._plan_task is not None:
            self._plan_task.cancel()
            self._plan_task = None
        return running

    # -- goals -------------------------------------------------------------------------------
    async def _on_goal(self, rid: str, text: str) -> None:
        if self._refuse_while_draining(rid):
            return
        if not text:
            self._emit(
                out.error(ErrorCode.INVALID_GOAL, "goal is empty: send a goal with some text", rid)
            )
            return
        self._stop_goal_tasks()
        self._emit(out.progress(rid, self.key, "planner", "received", f"Goal received: {text}"))
        self._goal_token += 1
        token = self._goal_token
        timeout = self.s.config.planner.timeout_s + 1.0

        async def plan() -> None:
            try:
                result = await asyncio.wait_for(self.s.planner(text), timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the planner itself falls back; this is a last resort
                log.warning("planner failed: %s", exc)
                result = PlanResult(default_tasks(), "deterministic", True, str(exc))
            await self.send(PlanDone(token, result))

        self._pending_goal = (rid, text)
        self._plan_task = _spawn(plan(), f"plan-{self.key}")

    def _on_plan(self, cmd: PlanDone) -> None:
        if cmd.token != self._goal_token:
            return
        self._plan_task = None
        rid, text = self._pending_goal
        st = self.state
        now = self.s.clock.now_ms()
        wcfg = self.s.config.workers
        result = cmd.result
        if result.fell_back:
            self._emit(
                out.progress(
                    rid,
                    st.key,
                    "planner",
                    "fallback",
                    f"LLM plan rejected ({result.reason or 'invalid'}); "
                    "using the deterministic planner.",
                )
            )
        tasks = admit(result.tasks, wcfg.max_tasks_per_dispatch)
        goal = Goal(text, rid, result.planner, "running", tasks, now)
        st.goal = goal
        st.last_goal = text
        if goal.dropped:
            st.last_saturation_ms = now
            st.backpressure_notified = False
        user = self._append("user", text)
        self._p.messages.append(NewMessage(rid, "user", text, user.entry.id, now))
        self._append("system", plan_entry(goal))
        for frame in plan_frames(goal, st.key):
            self._emit(frame)
        self._emit(self._state_frame(rid, "workers.dispatching"))
        if st.mode == "paused":
            goal.state = "paused"
            self._emit(out.progress(rid, st.key, "workers", "skipped", "Workers currently paused"))
            self._emit(self._state_frame(rid, "workers.paused"))
        elif st.mode == "cancelled":
            goal.cancel_all(now)
            self._emit(out.progress(rid, st.key, "workers", "skipped", "Workers cancelled"))
            self._emit(self._state_frame(rid, "workers.cancelled"))
        else:
            self._dispatch()
        self._run_manager()

    def _dispatch(self) -> None:
        st = self.state
        goal = st.goal
        if goal is None or goal.finished or st.mode != "running":
            return
        if goal.state in ("paused", "interrupted", "planning"):
            goal.state = "running"
            self._changed()
        parallel = self.s.config.workers.max_parallelism
        timeout = self.s.config.workers.task_timeout_s
        while len(self._workers) < parallel:
            task = goal.next_queued()
            if task is None:
                break
            if not self.s.workers.take():
                self.s.workers.wait(lambda: self._post_later(Dispatch()))
                break
            now = self.s.clock.now_ms()
            goal.start_task(task.id, now)
            self._changed()
            self._emit(
                out.progress(
                    goal.request, st.key, task.kind, "started", f"Task {task.id}: {task.title}"
                )
            )
            request = TaskRequest(
                st.key,
                goal.text,
                Task(task.id, task.title, task.kind, task.status),
                goal.accepted,
                goal.count("complete"),
                self._memory_lookup,
            )
            self._workers[task.id] = _spawn(
                self._task_body(self._goal_token, request, timeout), f"task-{st.key}-{task.id}"
            )
        if goal.settle(self.s.clock.now_ms()):
            self._goal_finished(goal)

    async def _task_body(self, token: int, req: TaskRequest, timeout: float) -> None:
        try:
            try:
                outcome = await asyncio.wait_for(self.s.run_task(req), timeout)
            except TimeoutError:
                outcome = TaskOutcome("timeout", f"task timed out after {timeout:g} s")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("task %s failed: %s", req.task.id, exc)
                outcome = TaskOutcome("failed", f"{req.task.kind}: error: {exc}")
        finally:
            self.s.workers.give()
        await self.send(TaskDone(token, req.task.id, outcome))

    def _on_task_done(self, cmd: TaskDone) -> None:
        goal = self.state.goal
        if cmd.token != self._goal_token or goal is None:
            return
        self._workers.pop(cmd.task_id, None)
        now = self.s.clock.now_ms()
        if not goal.finish_task(cmd.task_id, cmd.outcome.status, cmd.outcome.detail, now):
            return
        task = goal.task(cmd.task_id)
        self._changed()
        word = "complete" if task.status == "complete" else "failed"
        self._emit(out.progress(goal.request, self.key, task.kind, word, task.detail))
        self._emit(
            out.AgentStatus(goal.request, self.key, task.id, task.kind, task.status, task.detail)
        )
        self._append("tool_result", result_entry(task))
        self._dispatch()
        self._run_manager()

    def _goal_finished(self, goal: Goal) -> None:
        self._changed()
        for frame in finished_frames(goal, self.key):
            self._emit(frame)
        self._emit(self._state_frame(goal.request, "workers.ready"))
        answer = _Turn(goal.request, None, "answer")
        if self._turn is None and not self._turn_queue:
            self._start_turn(answer)
        else:
            self._turn_queue.append(answer)

    # -- heartbeat ---------------------------------------------------------------------------
    def _on_heartbeat(self, forced: bool, request: str) -> None:
        st = self.state
        goal = st.goal
        view = heartbeat.HeartbeatView(
            session_key=st.key,
            queued=st.queued,
            active=st.active,
            dropped=st.dropped,
            mode=st.mode,
            has_goal=goal is not None and not goal.finished,
            last_saturation_ms=st.last_saturation_ms,
            backpressure_notified=st.backpressure_notified,
            last_task_change_ms=goal.last_change_ms if goal else 0,
        )
        outcome = heartbeat.check(
            view,
            now_ms=self.s.clock.now_ms(),
            last_check_ms=self._last_check_ms,
            forced=forced,
            interval_ms=self.s.config.heartbeat.interval_ms,
            warning_ms=self.s.config.workers.backpressure_warning_ms,
            request=request,
        )
        if outcome.stamp_ms is not None:
            self._last_check_ms = outcome.stamp_ms
        if outcome.notified != st.backpressure_notified:
            st.backpressure_notified = outcome.notified
            self._changed()
        for frame in outcome.frames:
            self._emit(frame, droppable=not forced)

    # -- memory manager (§5.2) ---------------------------------------------------------------
    def _run_manager(self) -> None:
        """One manager tick (§5.2): at most ``summaries_per_tick`` oldest entries, in turn."""
        summarize = self.s.summarizer
        if self._manager_busy or (summarize is None and self.s.summarize_now is None):
            return
        victims = pick_victims(self.state.ram, self.s.config.memory)
        if not victims:
            return
        self._manager_busy = True
        now_fn = self.s.summarize_now
        if now_fn is not None:
            ram = self.state.ram
            now = self.s.clock.now_ms()
            applied = tuple(
                r
                for r in (now_fn(e.id, e.content) for e in victims)
                if ram.summarize(r.entry_id, r.text, now_ms=now) is not None
            )
            if applied:
                self._changed()
            gap = self.s.config.memory.auto_snapshot_min_interval_s
            if applied and should_snapshot(self._last_snapshot_mono, self.s.clock.monotonic(), gap):
                self._post_later(SummariesDone(applied, applied=True))  # archive, then report
                return
            self._manager_busy = False
            if applied:
                self._emit(self._memory_event(applied, None))
            return
        assert summarize is not None
        jobs = [(e.id, e.content) for e in victims]

        async def tick() -> None:
            results: list[SummaryOutcome] = []
            try:
                for entry_id, content in jobs:
                    results.append(await summarize(entry_id, content))
            finally:
                await self.send(SummariesDone(tuple(results)))

        self._manager_task = _spawn(tick(), f"manager-{self.key}")

    async def _on_summaries(self, cmd: SummariesDone) -> None:
        self._manager_task = None
        self._manager_busy = False
        ram = self.state.ram
        now = self.s.clock.now_ms()
        if cmd.applied:
            applied = list(cmd.results)
        else:
            applied = [r for r in cmd.results if ram.summarize(r.entry_id, r.text, now_ms=now)]
            if applied:
                self._changed()
        if not applied:
            return
        min_gap = self.s.config.memory.auto_snapshot_min_interval_s
        mono = self.s.clock.monotonic()
        snapshot_id: int | None = None
        if should_snapshot(self._last_snapshot_mono, mono, min_gap):
            snap = Snapshot(
                0,
                self.key,
                now,
                SNAPSHOT_REASON,
                ram.next_id,
                ram.entries,
                ram.summaries,
            )
            result = await self.s.store.archive_or_fallback(
                snap, timeout_s=self.s.db_timeout_s, now_ms=now
            )
            self._last_snapshot_mono = mono
            snapshot_id = result.snapshot_id
        self._emit(self._memory_event(applied, snapshot_id))
        self._run_manager()

    def _memory_event(
        self, applied: Sequence[SummaryOutcome], snapshot_id: int | None
    ) -> out.MemoryEvent:
        ram = self.state.ram
        n = len(applied)
        persisted = snapshot_id is not None
        return out.MemoryEvent(
            "memory-manager",
            self.key,
            "summarize",
            "snapshot" if persisted else "summarized",
            n,
            event_message(n, persisted),
            ram.active_count,
            ram.active_bytes,
            ram.summary_count,
            ram.tombstone_count,
            "llm" if all(r.summarizer == "llm" for r in applied) else "fallback",
            snapshot_id,
        )

    # -- shutdown ----------------------------------------------------------------------------
    def _on_shutdown(self) -> None:
        st = self.state
        now = self.s.clock.now_ms()
        goal = st.goal
        if goal is not None and not goal.finished:
            self._goal_token += 1
            for task in self._workers.values():
                task.cancel()
            self._workers.clear()
            goal.interrupt(now)
            st.mode = "paused"
        if self._turn is not None:
            if self._turn.task is not None:
                self._turn.task.cancel()
            st.interrupted_turns.append(self._turn.request)
            self._turn = None
        self._turn_queue.clear()
        if self._plan_task is not None:
            self._plan_task.cancel()
            self._plan_task = None
        if self._manager_task is not None:
            self._manager_task.cancel()
            self._manager_task = None
        self._manager_busy = False
        link, self.link = self.link, None
        self._changed()
        if link is not None:
            # Frames already queued still go out; the close follows them.
            _spawn(_close_later(link), f"close-{st.key}")

    async def aclose(self) -> None:
        """Cancel the actor task (used after Shutdown/Stop or in tests)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


async def _close_later(link: Link) -> None:
    await asyncio.sleep(0)
    link.close(CLOSE_GOING_AWAY, "server shutting down")


_background: set[asyncio.Task[Any]] = set()


def _spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Start a task and keep a reference until it ends (asyncio only keeps weak ones)."""
    task = asyncio.create_task(coro, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def new_state(key: str, agent_id: str, limits: RamLimits, now_ms: int) -> SessionState:
    """A brand-new session (restore source 5)."""
    return SessionState(key, agent_id, Ram(limits), created_at_ms=now_ms, last_active_ms=now_ms)
