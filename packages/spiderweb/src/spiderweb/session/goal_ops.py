"""Goal control of the session actor (spec §9): plan, dispatch workers, control verbs, heartbeat."""

from __future__ import annotations

import asyncio
import logging

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
from spiderweb.memory.store import NewMessage
from spiderweb.protocol import inbound as inb
from spiderweb.protocol import outbound as out
from spiderweb.protocol.errors import ErrorCode
from spiderweb.session.commands import (
    Dispatch,
    PlanDone,
    TaskDone,
)
from spiderweb.session.core import _spawn, _Turn
from spiderweb.session.services import (
    PlanResult,
    TaskOutcome,
    TaskRequest,
)
from spiderweb.session.turn_ops import TurnOps

log = logging.getLogger("spiderweb.session.actor")


class GoalOps(TurnOps):
    """Goals and their worker tasks, ``agent.control`` verbs and the heartbeat check."""

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
        self._cancel_goal_work()
        return running

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
