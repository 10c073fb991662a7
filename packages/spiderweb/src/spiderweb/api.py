"""Public Python API of spiderweb (the only module other systems may import).

``SpiderwebServer`` runs the gateway in the caller's event loop::

    async with SpiderwebServer(config, data_dir=tmp) as server:
        url = server.url   # ws://127.0.0.1:<port>

``SpiderwebClient`` is a small protocol client (used by ``spiderweb chat`` and
tests); ``open_store`` opens the LTM store of a data dir for inspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from groundwork.errors import LockHeld
from groundwork.fsio import FileLock
from groundwork.llm import LLMConfigError, Provider, ProviderSpec, Timeouts, make_provider

from spiderweb import __version__
from spiderweb.brain import heartbeat
from spiderweb.brain.planner import make_plan
from spiderweb.brain.turns import LlmGate, TurnPolicy
from spiderweb.brain.workers import WorkerRunner, WorkItem
from spiderweb.client import ClientError, SpiderwebClient
from spiderweb.clock import Clock, SystemClock
from spiderweb.config import LOCK_NAME, SpiderwebConfig
from spiderweb.identity import IdentityLoader
from spiderweb.integrations import optional_tools
from spiderweb.memory.legacy import STATE_FILE_NAME, write_state_file
from spiderweb.memory.manager import Summarizer as MemorySummarizer
from spiderweb.memory.manager import truncate_summary
from spiderweb.memory.ram import RamLimits
from spiderweb.memory.store import LtmStore, StoreError, open_store
from spiderweb.session.registry import Registry
from spiderweb.session.services import (
    PlanResult,
    Services,
    SummaryOutcome,
    TaskOutcome,
    TaskRequest,
    WorkerSlots,
)
from spiderweb.session.state import SessionState
from spiderweb.tools.registry import default_tools, make_context
from spiderweb.transport.auth import AuthPolicy
from spiderweb.transport.server import Gateway

__all__ = [
    "ClientError",
    "ServeError",
    "SpiderwebClient",
    "SpiderwebServer",
    "__version__",
    "open_store",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bound on each startup/shutdown store step (open+migrate, legacy import, prune, state file):
# generous because a large data dir takes a while, finite so a wedged disk fails the start
# (exit 1 naming the step) instead of hanging it (§2: every DB await has a timeout).
STORE_STEP_TIMEOUT_S = 300.0
TaskRunner = Callable[[TaskRequest], Awaitable[TaskOutcome]]
Summarizer = Callable[[int, str], Awaitable[SummaryOutcome]]


class ServeError(Exception):
    """The server cannot start; ``exit_code`` 2 = bad configuration, 1 = failure."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


async def _bounded(step: str, aw: Awaitable[T]) -> T:
    """Await one startup store step within ``STORE_STEP_TIMEOUT_S`` (else ``ServeError``)."""
    try:
        return await asyncio.wait_for(aw, STORE_STEP_TIMEOUT_S)
    except TimeoutError:
        raise ServeError(f"{step} timed out after {STORE_STEP_TIMEOUT_S:.0f} s", 1) from None


def provider_spec(config: SpiderwebConfig) -> ProviderSpec:
    """Map ``provider.*`` and ``llm.*`` onto groundwork's ``ProviderSpec``."""
    p, llm = config.provider, config.llm
    return ProviderSpec(
        type=p.name,
        model=p.model,
        base_url=p.base_url,
        api_key=p.api_key,
        api_key_env=p.api_key_env,
        timeouts=Timeouts(
            connect_s=llm.connect_timeout_s,
            total_s=llm.total_timeout_s,
            first_token_s=llm.first_token_timeout_s,
            idle_s=llm.idle_timeout_s,
        ),
    )


def raise_nofile_limit() -> None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (many sockets per process)."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 1_048_576)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class SpiderwebServer:
    """The gateway: data-dir lock, LTM store, sessions, transport, heartbeat.

    ``env`` supplies the auth token (``server.auth_token_env``) and provider
    keys; nothing here reads ``os.environ``. ``provider`` and ``task_runner``
    may be injected (tests, embedding); by default they come from the config.
    """

    def __init__(
        self,
        config: SpiderwebConfig | None = None,
        *,
        data_dir: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        provider: Provider | None = None,
        task_runner: TaskRunner | None = None,
        summarizer: Summarizer | None = None,
        clock: Clock | None = None,
        insecure_no_auth: bool = False,
    ) -> None:
        self.config = config or SpiderwebConfig()
        self.data_dir = Path(data_dir)
        self.env = dict(env or {})
        self.clock = clock or SystemClock()
        self.insecure_no_auth = insecure_no_auth
        self._provider = provider
        self._owns_provider = provider is None
        self._task_runner = task_runner
        self._summarizer = summarizer
        self._lock: FileLock | None = None
        self._store: LtmStore | None = None
        self.registry: Registry | None = None
        self.gateway: Gateway | None = None
        self._loops: list[asyncio.Task[None]] = []
        self.port: int | None = None
        self.lock_takeover: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        host = self.config.server.bind
        return f"ws://{host}:{self.port}"

    @property
    def store(self) -> LtmStore:
        if self._store is None:
            raise RuntimeError("server not started")
        return self._store

    # -- start -------------------------------------------------------------------------------
    def _token(self) -> str | None:
        token = self.env.get(self.config.server.auth_token_env)
        return token or None

    async def start(self) -> int:
        """Start listening and return the port; raises :class:`ServeError`."""
        cfg = self.config
        token = self._token()
        if not cfg.server.is_loopback and token is None and not self.insecure_no_auth:
            raise ServeError(
                f"refusing to bind {cfg.server.bind} without a token: set "
                f"{cfg.server.auth_token_env} or pass --insecure-no-auth",
                2,
            )
        provider = self._make_provider()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(self.data_dir / LOCK_NAME, {"service": "spiderweb"}, heartbeat_s=30)
        try:
            await _bounded("taking the data-dir lock", asyncio.to_thread(self._lock.acquire))
        except LockHeld as exc:
            pid = exc.holder.get("pid", "?")
            raise ServeError(f"data dir in use by pid {pid}: stop that server first", 1) from None
        if self._lock.took_over_from is not None:
            self.lock_takeover = self._lock.took_over_from
            log.warning(
                "took over a stale data-dir lock of pid %s (%s)",
                self._lock.took_over_from.get("pid"),
                self._lock.took_over_reason,
            )
        try:
            return await self._start_locked(provider, token)
        except BaseException:
            await self._teardown()
            raise

    def _make_provider(self) -> Provider:
        if self._provider is not None:
            return self._provider
        try:
            self._provider = make_provider(provider_spec(self.config), self.env)
        except LLMConfigError as exc:
            raise ServeError(f"provider: {exc}", 2) from None
        return self._provider

    async def _start_locked(self, provider: Provider, token: str | None) -> int:
        cfg = self.config
        raise_nofile_limit()
        try:
            store = await _bounded(
                "opening the LTM store", asyncio.to_thread(open_store, self.data_dir, cfg.ltm)
            )
        except StoreError as exc:
            raise ServeError(str(exc), 1) from None
        self._store = store
        now = self.clock.now_ms()
        await _bounded("importing legacy snapshots", asyncio.to_thread(store.import_legacy))
        await _bounded(
            "importing the state file", asyncio.to_thread(store.import_state_file, now_ms=now)
        )
        await _bounded("pruning LTM", asyncio.wrap_future(store.prune(now_ms=now)))
        await _bounded("marking sessions inactive", asyncio.wrap_future(store.mark_all_inactive()))
        await _bounded("interrupting unfinished goals", self._interrupt_unfinished(store, now))
        identities = IdentityLoader(self.data_dir)
        services = Services(
            config=cfg,
            clock=self.clock,
            store=store,
            data_dir=self.data_dir,
            provider=provider,
            gate=LlmGate(cfg.llm.max_concurrency, cfg.llm.max_waiting),
            planner=self._planner(provider),
            run_task=self._task_runner or self._workers(provider),
            identity=lambda agent: identities.get(agent).prompt,
            identity_files=lambda agent: list(identities.get(agent).files),
            summarizer=self._summarizer or self._memory_summarizer(provider),
            summarize_now=self._summarize_now(provider),
            workers=WorkerSlots(cfg.workers.global_max),
            turn_policy=TurnPolicy(
                retries=cfg.llm.retries, total_timeout_s=cfg.llm.total_timeout_s
            ),
            auth_enabled=token is not None,
        )
        self.registry = Registry(services)
        policy = AuthPolicy(
            token=token,
            allow_query_token=cfg.server.allow_query_token,
            allowed_origins=frozenset(cfg.server.allowed_origins),
        )
        self.gateway = Gateway(cfg, self.registry, policy, self.clock)
        self.port = await self.gateway.start(cfg.server.bind, cfg.server.port)
        self._loops = [
            asyncio.create_task(self._heartbeat_loop(), name="spiderweb-heartbeat"),
            asyncio.create_task(self._housekeeping_loop(), name="spiderweb-housekeeping"),
        ]
        return self.port

    async def _interrupt_unfinished(self, store: LtmStore, now: int) -> int:
        """Startup (§6): goals left running by the last process get running tasks re-queued,
        active 0, mode ``paused`` and goal state ``interrupted``; returns how many."""
        limits = RamLimits.from_config(self.config.memory)
        fixed = 0
        for raw in await asyncio.to_thread(store.all_states):
            try:
                state = SessionState.from_v2(raw, default_agent="default", limits=limits)
            except ValueError:
                continue
            goal = state.goal
            if goal is None or goal.finished:
                continue
            if goal.state == "paused" and not goal.active:
                continue
            goal.interrupt(now)
            state.mode = "paused"
            await asyncio.wrap_future(
                store.commit_session(state.key, state=state.to_v2(), now_ms=now)
            )
            fixed += 1
        if fixed:
            log.info("interrupted %d unfinished goal(s) from the previous process", fixed)
        return fixed

    def _planner(self, provider: Provider) -> Callable[[str], Awaitable[PlanResult]]:
        cfg = self.config.planner

        async def plan(goal: str) -> PlanResult:
            result = await make_plan(goal, provider, cfg)
            return PlanResult(
                tuple((t.title, t.kind) for t in result.tasks),
                result.planner,
                result.fallback_reason is not None,
                result.fallback_reason or "",
            )

        return plan

    def _summarize_now(self, provider: Provider) -> Callable[[int, str], SummaryOutcome] | None:
        """The I/O-free ``truncate`` summarizer, when that is what the config resolves to."""
        if self._summarizer is not None:
            return None
        if MemorySummarizer.from_config(provider, self.config.memory).mode != "truncate":
            return None
        return lambda entry_id, content: SummaryOutcome(
            entry_id, truncate_summary(entry_id, content), "fallback"
        )

    def _memory_summarizer(self, provider: Provider) -> Summarizer:
        summarize = MemorySummarizer.from_config(provider, self.config.memory)

        async def run(entry_id: int, content: str) -> SummaryOutcome:
            result = await summarize(entry_id, content)
            return SummaryOutcome(result.entry_id, result.text, result.summarizer)

        return run

    def _workers(self, provider: Provider) -> TaskRunner:
        cfg = self.config
        runner = WorkerRunner(
            provider,
            default_tools(cfg.tools, extra=optional_tools()),
            cfg.workers,
            call_timeout_s=cfg.tools.call_timeout_s,
        )

        async def run_task(req: TaskRequest) -> TaskOutcome:
            ctx = make_context(cfg.tools, memory_query=req.memory)
            item = WorkItem(
                req.task.id,
                req.task.title,
                req.task.kind,
                req.goal,
                req.completed_tasks,
                req.total_tasks,
            )
            try:
                result = await runner.run(item, ctx)
            except asyncio.CancelledError:
                ctx.cancel.cancel("task cancelled")  # stops the tool's thread too
                raise
            return TaskOutcome(result.status, result.detail)

        return run_task

    async def _heartbeat_loop(self) -> None:
        assert self.registry is not None
        registry = self.registry
        await heartbeat.sweep_forever(
            self.clock, self.config.heartbeat.sweep_interval_ms, registry.post_heartbeats
        )

    async def _housekeeping_loop(self) -> None:
        assert self.registry is not None
        interval = self.config.memory.manager_interval_s
        while True:
            await self.clock.sleep(interval)
            try:
                self.registry.post_manager_ticks()
                await self.registry.sweep_idle()
            except Exception:
                log.exception("housekeeping failed")

    # -- stop --------------------------------------------------------------------------------
    async def stop(self, grace_s: float | None = None) -> None:
        """Clean shutdown (§6): stop accepting, let work finish for the grace, persist, close."""
        grace = self.config.shutdown.grace_s if grace_s is None else grace_s
        if self.gateway is not None:
            self.gateway.stop_accepting()
        if self.registry is not None:
            self.registry.drain()
            deadline = self.clock.monotonic() + grace
            while self.registry.busy() and self.clock.monotonic() < deadline:
                await asyncio.sleep(0.05)
        await self._teardown()

    async def _teardown(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(BaseException):
                await task
        self._loops = []
        if self.registry is not None:
            await self.registry.shutdown()
            self.registry = None
        if self._store is not None:
            try:
                states = await _bounded(
                    "reading session states", asyncio.to_thread(self._store.all_states)
                )
                await _bounded(
                    f"writing {STATE_FILE_NAME}",
                    asyncio.to_thread(write_state_file, self.data_dir / STATE_FILE_NAME, states),
                )
            except Exception:
                log.exception("writing %s failed", STATE_FILE_NAME)
        if self.gateway is not None:
            await self.gateway.close()
            self.gateway = None
        if self._store is not None:
            try:
                await _bounded("closing the LTM store", asyncio.to_thread(self._store.close))
            except ServeError as exc:
                log.error("%s", exc.message)
            self._store = None
        if self._owns_provider and self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.aclose()
        if self._lock is not None:
            with contextlib.suppress(Exception):
                self._lock.release()
            self._lock = None

    async def __aenter__(self) -> SpiderwebServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
