"""Loaded sessions (spec §6): attach with the restore order, idle unload, shutdown.

Restore order on attach: (1) the loaded actor, (2) ``session_state``, (3) the
latest LTM snapshot, (4) legacy JSON, (5) a new session. No source is
consumed. Only the registry creates or drops actors; each actor then owns its
state alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import string
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from spiderweb.memory.legacy import latest_legacy_snapshot
from spiderweb.memory.ram import Ram, RamLimits
from spiderweb.session.actor import SessionActor, Source, new_state
from spiderweb.session.commands import (
    Attach,
    Detach,
    HeartbeatCheck,
    Link,
    ManagerTick,
    Shutdown,
    Stop,
)
from spiderweb.session.services import Services
from spiderweb.session.state import SessionState

log = logging.getLogger(__name__)

_KEY_ALPHABET = string.ascii_letters + string.digits


def new_session_key() -> str:
    """A fresh 32-character alphanumeric key (``secrets``)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))


class Registry:
    """Session key → actor, with a per-key load lock so one key never gets two actors."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self._actors: OrderedDict[str, SessionActor] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}
        self._links: dict[int, SessionActor] = {}
        self.closing = False

    def __len__(self) -> int:
        return len(self._actors)

    def __iter__(self) -> Iterator[SessionActor]:
        return iter(list(self._actors.values()))

    def get(self, key: str) -> SessionActor | None:
        return self._actors.get(key)

    def actor_for(self, link: Link) -> SessionActor | None:
        """The session a connection is bound to now (changes on ``session.restore``)."""
        return self._links.get(id(link))

    @property
    def attached(self) -> int:
        return sum(1 for a in self._actors.values() if a.link is not None)

    # -- attach / detach ---------------------------------------------------------------------
    async def attach(
        self,
        agent_id: str,
        key: str | None,
        link: Link,
        *,
        resume_from: int | None = None,
        restore_request: str | None = None,
    ) -> SessionActor:
        """Bind ``link`` to the session ``key`` (adopted or new), restoring it if needed."""
        actor = await self._load(key or new_session_key(), agent_id)
        self._links[id(link)] = actor
        await actor.send(Attach(link, agent_id, resume_from, restore_request))
        return actor

    async def detach(self, link: Link) -> None:
        actor = self._links.pop(id(link), None)
        if actor is not None and not actor.stopped:
            await actor.send(Detach(link))

    async def rebind(self, link: Link, key: str, request: str) -> None:
        """``session.restore`` of another key: the old actor already let go of ``link``."""
        old = self._links.get(id(link))
        agent = old.state.agent_id if old is not None else "default"
        await self.attach(agent, key, link, restore_request=request)

    async def exists(self, key: str) -> bool:
        if key in self._actors:
            return True
        store = self.s.store

        def lookup() -> bool:
            return (
                store.session_meta(key) is not None
                or store.get_state(key) is not None
                or store.load_latest(key) is not None
            )

        return await asyncio.wait_for(asyncio.to_thread(lookup), self.s.db_timeout_s)

    # -- restore order -----------------------------------------------------------------------
    async def _load(self, key: str, agent_id: str) -> SessionActor:
        actor = self._actors.get(key)
        if actor is not None and not actor.stopped:
            self._actors.move_to_end(key)
            return actor
        lock = self._loading.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                actor = self._actors.get(key)
                if actor is not None and not actor.stopped:
                    return actor
                state, source = await self._restore(key, agent_id)
                actor = SessionActor(
                    state, self.s, source=source, rebind=self.rebind, exists=self.exists
                )
                actor.start()
                self._actors[key] = actor
        finally:
            if not lock.locked():
                self._loading.pop(key, None)
        await self._trim()
        return actor

    async def _restore(self, key: str, agent_id: str) -> tuple[SessionState, Source | None]:
        limits = RamLimits.from_config(self.s.config.memory)
        store = self.s.store
        now = self.s.clock.now_ms()
        timeout = self.s.db_timeout_s
        raw = await asyncio.wait_for(asyncio.to_thread(store.get_state, key), timeout)
        if raw is not None:
            try:
                state = SessionState.from_v2(raw, default_agent=agent_id, limits=limits)
            except ValueError as exc:
                log.warning("session %s: stored state unreadable (%s); trying LTM", key, exc)
            else:
                goal = state.goal
                if goal is not None and not goal.finished and goal.state != "paused":
                    # Work from a previous process: nothing runs any more.
                    goal.interrupt(now)
                    state.mode = "paused"
                elif goal is not None and goal.active:
                    goal.interrupt(now)
                    state.mode = "paused"
                return state, "state"
        snap = await asyncio.wait_for(asyncio.to_thread(store.load_latest, key), timeout)
        source: Source = "ltm"
        if snap is None:
            snap = await asyncio.wait_for(
                asyncio.to_thread(latest_legacy_snapshot, self.s.data_dir, key), timeout
            )
            source = "legacy"
        if snap is not None:
            ram = Ram.from_snapshot(snap.entries, snap.summaries, snap.next_id, limits)
            state = SessionState(key, agent_id, ram, created_at_ms=now, last_active_ms=now)
            return state, source
        return new_state(key, agent_id, limits, now), None

    # -- housekeeping ------------------------------------------------------------------------
    async def _trim(self) -> None:
        """LRU cap ``session.max_loaded``: unload the oldest idle detached sessions."""
        cap = self.s.config.session.max_loaded
        if len(self._actors) <= cap:
            return
        for key, actor in list(self._actors.items()):
            if len(self._actors) <= cap:
                break
            if actor.link is None and not actor.busy:
                await self._unload(key, actor)

    async def sweep_idle(self) -> int:
        """Unload sessions detached longer than ``session.idle_ttl_s`` with no work left."""
        ttl = self.s.config.session.idle_ttl_s
        now = self.s.clock.monotonic()
        dropped = 0
        for key, actor in list(self._actors.items()):
            since = actor.detached_since
            if actor.link is None and since is not None and now - since >= ttl and not actor.busy:
                await self._unload(key, actor)
                dropped += 1
        return dropped

    async def _unload(self, key: str, actor: SessionActor) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await actor.send(Stop(done))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(done, self.s.db_timeout_s)
        if self._actors.get(key) is actor:
            del self._actors[key]

    def post_heartbeats(self) -> list[bool]:
        """One sweep: post a check to every attached actor (``False`` = inbox full, skipped)."""
        return [a.post(HeartbeatCheck(False)) for a in self if a.link is not None]

    def post_manager_ticks(self) -> None:
        for actor in self:
            actor.post(ManagerTick())

    def busy(self) -> bool:
        return any(a.busy for a in self)

    def drain(self) -> None:
        """Shutdown has begun: refuse new turns and goals, let running work finish."""
        self.closing = True
        self.s.draining = True

    async def shutdown(self) -> list[dict[str, Any]]:
        """Stop every actor (work cancelled, state committed, links closed 1001)."""
        self.drain()
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[dict[str, Any]]] = []
        for actor in self:
            if actor.stopped:
                continue
            done: asyncio.Future[dict[str, Any]] = loop.create_future()
            await actor.send(Shutdown(done))
            waits.append(done)
        states: list[dict[str, Any]] = []
        for fut in waits:
            try:
                states.append(await asyncio.wait_for(fut, self.s.db_timeout_s))
            except Exception:
                log.exception("a session failed to shut down cleanly")
        for actor in self:
            await actor.aclose()
        return states
