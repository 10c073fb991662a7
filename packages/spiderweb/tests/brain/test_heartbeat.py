"""Heartbeat rules (§10) on a fake clock: stamp-first, 30 s staleness, watching/blocked/stalled."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from spiderweb.brain.heartbeat import HeartbeatView, check, sweep_forever
from spiderweb.client import SpiderwebClient
from spiderweb.clock import FakeClock

T0 = 1_000_000


def view(**kw: object) -> HeartbeatView:
    base = HeartbeatView(
        session_key="k",
        queued=2,
        active=1,
        dropped=0,
        mode="running",
        has_goal=True,
        last_saturation_ms=0,
        backpressure_notified=False,
        last_task_change_ms=T0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def run(v: HeartbeatView, now: int, last: int | None, forced: bool = False) -> list[str]:
    out = check(
        v, now_ms=now, last_check_ms=last, forced=forced, interval_ms=30_000, warning_ms=30_000
    )
    return [f"{f.phase}/{f.status}" for f in out.frames]


def test_first_check_only_stamps_then_acts_after_interval() -> None:
    first = check(
        view(), now_ms=T0, last_check_ms=None, forced=False, interval_ms=30_000, warning_ms=30_000
    )
    assert first.frames == () and first.stamp_ms == T0
    assert run(view(), T0 + 29_999, T0) == []
    assert run(view(), T0 + 30_000, T0, forced=False) == ["heartbeat/stalled"]
    assert run(view(last_task_change_ms=T0 + 20_000), T0 + 30_000, T0) == ["heartbeat/watching"]


def test_watching_message_and_backlog() -> None:
    out = check(
        view(),
        now_ms=T0 + 1,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    (frame,) = out.frames
    assert frame.status == "watching"
    assert frame.message == (
        "Heartbeat status: 2 queued + 1 active worker tasks remain for the current goal."
    )
    assert (frame.queued, frame.active, frame.accepted, frame.total) == (2, 1, 3, 3)


def test_paused_is_blocked_with_resume_suggestion() -> None:
    out = check(
        view(mode="paused"),
        now_ms=T0,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    (frame,) = out.frames
    assert frame.status == "blocked" and frame.suggestion == {
        "action": "resume",
        "reason": "workers are paused",
    }
    assert frame.message == (
        "Heartbeat detected 2 queued and 1 active tasks are blocked by pause state."
    )


def test_stalled_suggests_cancel_and_cancelled_is_silent() -> None:
    out = check(
        view(),
        now_ms=T0 + 31_000,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    assert out.frames[0].status == "stalled"
    assert out.frames[0].suggestion is not None and out.frames[0].suggestion["action"] == "cancel"
    assert run(view(mode="cancelled"), T0, None, forced=True) == []


def test_idle_only_when_forced() -> None:
    idle = view(queued=0, active=0, has_goal=False)
    assert run(idle, T0, None, forced=True) == ["heartbeat/idle"]
    assert run(idle, T0 + 60_000, T0) == []


def test_one_prolonged_saturation_30s_after_saturation() -> None:
    sat = view(dropped=1, last_saturation_ms=T0, last_task_change_ms=T0 + 25_000)
    early = check(
        sat,
        now_ms=T0 + 29_000,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    assert [f.status for f in early.frames] == ["watching"] and not early.notified
    late = check(
        sat,
        now_ms=T0 + 30_000,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    assert [f.status for f in late.frames] == ["prolonged_saturation", "watching"]
    assert late.notified and late.frames[0].total == 4 and late.frames[0].dropped == 1
    again = check(
        replace(sat, backpressure_notified=True),
        now_ms=T0 + 90_000,
        last_check_ms=None,
        forced=True,
        interval_ms=30_000,
        warning_ms=30_000,
    )
    assert "prolonged_saturation" not in [f.status for f in again.frames]


async def test_sweep_posts_every_interval_on_fake_clock() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def post_all() -> list[bool]:
        calls.append(clock.monotonic())
        return [True, False]

    task = asyncio.create_task(sweep_forever(clock, 5000, post_all))
    for expected in (1, 2, 3):
        while clock.sleepers == 0:
            await asyncio.sleep(0)
        clock.advance(5)
        while len(calls) < expected:
            await asyncio.sleep(0)
    assert calls == [5.0, 10.0, 15.0]
    task.cancel()


async def _advance(clock: FakeClock, seconds: float, parked: int) -> None:
    """Advance in 5 s sweeps, waiting (bounded) for the server's loops to park again."""
    steps = int(seconds // 5)
    for _ in range(steps):
        clock.advance(5)
        for _ in range(10_000):
            if clock.sleepers >= parked:
                break
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)


async def test_server_sweeps_on_fake_clock(make_server: Any, tmp_path: Any) -> None:
    clock = FakeClock()
    hang = asyncio.Event()

    async def never_finishes(_req: Any) -> Any:
        await hang.wait()
        raise AssertionError("unreachable")

    server = await make_server(clock=clock, task_runner=never_finishes)
    async with SpiderwebClient(server.url, session="hb") as client:
        while clock.sleepers < 2:
            await asyncio.sleep(0)
        rid = await client.send("chat.send", content="/goal a; b; c; d; e")
        await client.collect(lambda f: f.get("phase") == "research" and f["request"] == rid, 10)
        await _advance(clock, 30, 2)  # first sweep stamps, later ones are not yet stale
        await client.send("ping", request_id="mark")
        quiet = await client.collect(lambda f: f.get("request") == "mark", 10)
        assert not [f for f in quiet if f.get("request") == "heartbeat-sweep"]
        await _advance(clock, 5, 2)
        frames = await client.collect(
            lambda f: f.get("request") == "heartbeat-sweep" and f.get("phase") == "heartbeat",
            10,
        )
        sweep = [f for f in frames if f.get("request") == "heartbeat-sweep"]
        assert [f"{f['phase']}/{f['status']}" for f in sweep] == [
            "planner/prolonged_saturation",
            "heartbeat/stalled",
        ]
        assert sweep[0]["dropped"] == 1 and sweep[0]["total"] == 5
        await _advance(clock, 30, 2)
        frames = await client.collect(
            lambda f: f.get("request") == "heartbeat-sweep" and f.get("phase") == "heartbeat",
            10,
        )
        assert "prolonged_saturation" not in [f["status"] for f in frames]
        hang.set()
