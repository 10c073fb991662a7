"""Chat turns of the session actor (spec §3, §6): start, stream, answer, idempotency, reset."""

from __future__ import annotations

import abc
import asyncio
import logging

from groundwork.llm.types import Message
from spiderweb.brain.goals import Task
from spiderweb.brain.turns import GateBusy, TurnFailed, run_turn
from spiderweb.memory.store import NewMessage
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode
from spiderweb.protocol.inbound import Request
from spiderweb.session.commands import (
    Link,
    TurnDelta,
    TurnDone,
)
from spiderweb.session.core import _Answered, _spawn, _Turn
from spiderweb.session.memory_ops import MemoryOps
from spiderweb.session.reconnect import interrupted_progress

log = logging.getLogger("spiderweb.session.actor")


#: Answered requests kept in memory for duplicate ``chat.send``s; older ones are found in
#: the transcript (``find_request_now``). 512 made each session grow ~180 KB over its
#: first 512 turns, which a soak counts as growth; a retry follows its original closely.
RECENT_REQUESTS = 64
#: ``execution/interrupted`` text for a turn that a reset or ``clear`` cancelled.
RESET_INTERRUPTED = "The turn was interrupted by a session reset; send it again."


class TurnOps(MemoryOps):
    """One turn at a time per session; duplicates of an answered request are re-sent."""

    @abc.abstractmethod
    async def _on_goal(self, rid: str, text: str) -> None:
        """Plan a goal (``/goal``); :class:`~spiderweb.session.goal_ops.GoalOps` implements it."""

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
        context = self.state.ram.model_context(self._identity)
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

    def _cancel_goal_work(self) -> None:
        """Invalidate the goal token and cancel the workers and the planner."""
        self._goal_token += 1
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()
        if self._plan_task is not None:
            self._plan_task.cancel()
            self._plan_task = None

    def _stop_work(self) -> list[Task]:
        """Cancel the goal's tasks, the planner and every turn; returns tasks that were running."""
        running: list[Task] = []
        goal = self.state.goal
        if goal is not None and not goal.finished:
            running = goal.cancel_all(self.s.clock.now_ms())
        self._cancel_goal_work()
        cut = list(self._turn_queue)
        if self._turn is not None:
            if self._turn.task is not None:
                self._turn.task.cancel()
            cut.insert(0, self._turn)
        self._turn = None
        self._turn_queue.clear()
        # Each cut-off turn still answers its request, or a client waits for it forever.
        for turn in cut:
            self._emit(interrupted_progress(turn.request, self.key, RESET_INTERRUPTED))
        return running

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
