"""Memory bookkeeping of the session actor (spec §5): RAM appends, the manager, archives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from spiderweb.memory.manager import (
    SNAPSHOT_REASON,
    event_message,
    pick_victims,
    should_snapshot,
)
from spiderweb.memory.ram import UpdateResult
from spiderweb.memory.recall import query_items
from spiderweb.memory.snapshot import Snapshot
from spiderweb.protocol import outbound as out
from spiderweb.session.commands import (
    Lookup,
    SummariesDone,
)
from spiderweb.session.core import ActorCore, _spawn
from spiderweb.session.services import SummaryOutcome

log = logging.getLogger("spiderweb.session.actor")


class MemoryOps(ActorCore):
    """RAM appends with their ``memory.event``, manager ticks (§5.2), snapshots, lookups."""

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

    async def _snapshots(self, include_archived: bool) -> list[Snapshot]:
        if not include_archived:
            return []
        snaps: list[Snapshot] = await self._read(self.s.store.snapshots, self.key)
        return snaps

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
