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
from typing import Any

from spiderweb.memory.ram import Ram, RamLimits
from spiderweb.protocol import inbound as inb
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode
from spiderweb.protocol.inbound import Request
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
from spiderweb.session.core import Source, _Pending, _spawn
from spiderweb.session.goal_ops import GoalOps
from spiderweb.session.reconnect import ReplayRing, interrupted_progress, restore_progress
from spiderweb.session.services import Services
from spiderweb.session.state import SessionState

__all__ = ["SessionActor", "Source", "new_state"]

log = logging.getLogger(__name__)

INBOX_SIZE = 64
CLOSE_GOING_AWAY = 1001
CLOSE_SUPERSEDED = 4001


class SessionActor(GoalOps):
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
        self.inbox = asyncio.Queue(INBOX_SIZE)
        self.link = None
        self.detached_since = services.clock.monotonic()
        self._source = source
        self._rebind = rebind
        self._exists = exists
        ring_size = services.config.session.replay_frames
        self._ring = ReplayRing(ring_size, state.seq)
        self._ring_enabled = ring_size > 0
        self._p = _Pending()
        self._turn = None
        self._turn_queue = deque()
        self._turn_counter = 0
        self._workers = {}
        self._goal_token = 0
        self._plan_task = None
        self._pending_goal = ("", "")
        self._manager_task = None
        self._manager_busy = False
        self._last_snapshot_mono = None
        self._last_check_ms = None
        self._answered = OrderedDict()
        self._task = None
        self._inflight = deque()
        self._drained = None
        self._identity = None
        self.stopped = False

    @property
    def busy(self) -> bool:
        """Work in flight (a turn, a plan, worker tasks or queued turns)."""
        return bool(self._turn is not None or self._turn_queue or self._workers or self._plan_task)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=f"session-{self.key}")
        return self._task

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
                if isinstance(cmd, Shutdown):
                    try:
                        await self._commit(force=True)
                        await self._drain()
                    finally:
                        self._close_detached()  # after every frame of those commits
                    self.stopped = True
                    if not cmd.done.done():
                        cmd.done.set_result(self.state.to_v2())
                    return
                await self._commit()
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
        self._changed()  # the link stays until _close_detached: frames still go to it

    def _close_detached(self) -> None:
        """Detach and close the link once the Shutdown's ``_drain`` is done: a finished
        turn's reply waits in ``_inflight`` for its commit and goes only to the attached
        link, so detaching at the Shutdown (and closing a loop tick later) dropped it, or
        sent the 1001 ahead of it under load."""
        link, self.link = self.link, None
        if link is not None:
            link.close(CLOSE_GOING_AWAY, "server shutting down")  # after the queued frames

    async def aclose(self) -> None:
        """Cancel the actor task (used after Shutdown/Stop or in tests)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task


def new_state(key: str, agent_id: str, limits: RamLimits, now_ms: int) -> SessionState:
    """A brand-new session (restore source 5)."""
    return SessionState(key, agent_id, Ram(limits), created_at_ms=now_ms, last_active_ms=now_ms)
