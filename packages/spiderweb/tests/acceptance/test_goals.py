"""Acceptance 10's tail: after a 5-task goal the *stored* counters are 0/0 and the heartbeat
sweep (real clock, short intervals) that spoke while tasks ran falls silent (D14)."""

from __future__ import annotations

import asyncio
from typing import Any

from spiderweb.client import SpiderwebClient
from spiderweb.session.services import TaskOutcome


async def test_counters_stored_zero_and_heartbeat_silent_after_goal(
    make_server: Any, config_factory: Any
) -> None:
    gate = asyncio.Event()
    running = 0
    peak = 0

    async def gated(_req: Any) -> TaskOutcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await gate.wait()
        finally:
            running -= 1
        return TaskOutcome("complete", "done")

    cfg = config_factory(heartbeat={"sweep_interval_ms": 20, "interval_ms": 40})
    server = await make_server(cfg, task_runner=gated)
    async with SpiderwebClient(server.url, session="g10") as client:
        rid = await client.send("chat.send", content="/goal alpha; beta; gamma; delta; epsilon")
        # While tasks are pending, the sweep reports on its own (no client traffic needed).
        watching = await client.collect(
            lambda f: f.get("request") == "heartbeat-sweep" and f.get("phase") == "heartbeat",
            10,
        )
        assert watching[-1]["status"] == "watching", watching[-1]
        gate.set()
        await client.collect(
            lambda f: f.get("request") == rid and f.get("type") == "session.receive", 20
        )
        stored = await asyncio.to_thread(server.store.get_state, "g10")
        assert stored is not None
        assert (stored["workerQueueDepth"], stored["workerActiveTasks"]) == (0, 0)
        await asyncio.sleep(0.5)  # > 10 sweeps and > 10 heartbeat intervals
        marker = await client.send("ping")
        quiet = await client.collect(lambda f: f.get("request") == marker, 10)
        late = [f for f in quiet if f.get("request") == "heartbeat-sweep"]
        assert late == [], late
    assert peak == 2  # workers.max_parallelism: never more than two at once
