"""D19: restoring a session never consumes its source (LTM snapshot, legacy JSON)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from spiderweb.client import SpiderwebClient
from spiderweb.memory.legacy import write_legacy_snapshot
from spiderweb.memory.ram import Entry
from spiderweb.memory.snapshot import Snapshot


def snap(key: str, ts: int) -> Snapshot:
    entries = (
        Entry(1, "user", "kept question", "active", None, ts),
        Entry(2, "assistant", "kept answer", "active", None, ts),
    )
    return Snapshot(0, key, ts, "manual-reset", 3, entries, ())


async def test_ltm_and_legacy_sources_survive_their_restore(
    make_server: Any, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)  # recent: startup prunes snapshots older than 30 days
    server = await make_server()
    await asyncio.wrap_future(server.store.archive(snap("from-ltm", now)))
    legacy = await asyncio.to_thread(write_legacy_snapshot, tmp_path, snap("from-legacy", now))
    for key, source in (("from-ltm", "ltm"), ("from-legacy", "legacy")):
        async with SpiderwebClient(server.url, session=key) as client:
            progress = await client.recv(10)
            assert progress["source"] == source and progress["restoredEntries"] == 2
    latest = await asyncio.to_thread(server.store.load_latest, "from-ltm")
    assert latest is not None and latest.entries[0].content == "kept question"
    assert legacy.exists()
    await server.stop(grace_s=0)
    # A new process over the same data dir still finds the LTM snapshot unchanged.
    again = await make_server(data_dir=tmp_path)
    kept = await asyncio.to_thread(again.store.snapshots, "from-ltm")
    assert [s.timestamp_ms for s in kept] == [now]
