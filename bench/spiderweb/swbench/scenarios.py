"""P1-P9 (spec §16): each scenario starts its own processes, runs its load, and judges it.

A scenario returns ``{"id", "status": "pass"|"fail", "checks": {name: bool},
"measured": {...}, "figures": [...]}``. Correctness checks (errors, lost or
duplicated messages, close codes, exit codes, counters) and the spec's
timing targets are separate entries in ``checks``; the slow tests assert only
the correctness ones (``CORRECTNESS``), ``bench/run.py`` reports all.
Sizes come from :class:`Sizes` (``Sizes.full()`` is the spec's, ``quick()``
CI-sized); every run is bounded and cleans up its processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from swbench import stats
from swbench.servers import (
    LoadRun,
    Server,
    bench_config,
    run_load,
    shards,
    start_echo,
    start_spiderweb,
)
from swbench.wire import Conn, stream_url

Result = dict[str, Any]
Figure = dict[str, Any]
STATE_FILE = ".spiderweb-session-state.json"
LOAD_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each scenario runs; ``full()`` follows the spec's table."""

    p1_idle: int = 1000
    p1_active: int = 200
    p1_seconds: float = 60.0
    p1_latency_ms: float = 50.0
    p2_turns: int = 2000
    p3_clients: int = 200
    p3_seconds: float = 60.0
    p4_sessions: int = 500
    p5_stored: int = 1200
    p5_clients: int = 200
    p5_kill_after_s: float = 20.0
    p6_clients: int = 200
    p6_goal_sessions: int = 20
    p6_run_s: float = 10.0
    p7_clients: int = 200
    p7_seconds: float = 30.0
    p8_sessions: int = 200
    p8_latency_ms: float = 200.0
    p8_max_waiting: int = 64
    p9_clients: int = 200
    p9_seconds: float = 1800.0
    p9_warmup_s: float = 300.0
    p9_sample_s: float = 10.0
    generators: int = 2

    @classmethod
    def full(cls) -> Sizes:
        return cls()

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            p1_idle=100,
            p1_active=20,
            p1_seconds=5.0,
            p2_turns=200,
            p3_clients=20,
            p3_seconds=5.0,
            p4_sessions=60,
            p5_stored=120,
            p5_clients=20,
            p5_kill_after_s=2.0,
            p6_clients=20,
            p6_goal_sessions=4,
            p6_run_s=2.0,
            p7_clients=20,
            p7_seconds=5.0,
            p8_sessions=24,
            p8_max_waiting=8,
            p9_clients=20,
            p9_seconds=60.0,
            p9_warmup_s=20.0,
            p9_sample_s=2.0,
        )

    def scaled(self, **changes: Any) -> Sizes:
        return replace(self, **changes)


#: Checks that are properties, not timings: the slow tests assert exactly these.
CORRECTNESS = frozenset(
    {
        "zero_errors",
        "zero_closes",
        "all_connected",
        "idle_alive",
        "zero_lost",
        "zero_duplicates",
        "right_reconnect_status",
        "replay_full",
        "all_reattached",
        "exit_0",
        "state_file_complete",
        "counters_restored",
        "slow_closed_1013",
        "others_all_answered",
        "busy_not_timeouts",
        "one_prolonged_per_session",
        "counters_end_0",
        "all_finished",
        "ram_within_caps",
        "snapshots_within_cap",
        "lock_taken_over",
    }
)


def figure(
    name: str, value: float, unit: str, baseline: str = "", ratio: float | None = None
) -> Figure:
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "ratio": None if ratio is None or math.isnan(ratio) else round(ratio, 3),
    }


def verdict(
    sid: str, checks: dict[str, bool], measured: dict[str, Any], figures: list[Figure]
) -> Result:
    return {
        "id": sid,
        "status": "pass" if all(checks.values()) else "fail",
        "checks": checks,
        "measured": measured,
        "figures": [f for f in figures if not math.isnan(f["value"])],
    }


def merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Shard results → one: latencies concatenated, counts summed, connect time = slowest."""
    out: dict[str, Any] = {
        "latencies_ms": [x for r in results for x in r.get("latencies_ms", [])],
        "errors": stats.merge_counts(*(r.get("errors", {}) for r in results)),
        "closes": stats.merge_counts(*(r.get("closes", {}) for r in results)),
        "error_samples": {k: v for r in results for k, v in r.get("error_samples", {}).items()},
        "turns": sum(r.get("turns", 0) for r in results),
        "connected": sum(r.get("connected", 0) for r in results),
        "connect_s": max((r.get("connect_s", 0.0) for r in results), default=0.0),
        "window_s": max((r.get("window_s", 0.0) for r in results), default=0.0),
        "idle_ok": sum(r.get("idle_ok", 0) for r in results),
        "idle_total": sum(r.get("idle_total", 0) for r in results),
        "acked": {k: v for r in results for k, v in r.get("acked", {}).items()},
        "goal_states": {k: v for r in results for k, v in r.get("goal_states", {}).items()},
        "slow": next((r["slow"] for r in results if r.get("slow")), None),
        "probe_ms": [x for r in results for x in r.get("probe_ms", [])],
    }
    return out


def latency_summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": stats.percentile(latencies, 50),
        "p95_ms": stats.percentile(latencies, 95),
        "p99_ms": stats.percentile(latencies, 99),
    }


def turn_specs(
    target: str,
    url: str,
    keys: list[str],
    generators: int,
    **common: Any,
) -> list[dict[str, Any]]:
    """One ``turns`` spec per generator, keys split round-robin."""
    idle: list[str] = common.pop("idle_keys", [])
    if common.get("duration_s") and "hard_s" not in common:
        common["hard_s"] = float(common["duration_s"]) + 120.0  # the generator's own bound
    parts = shards(keys, generators)
    idle_parts = shards(idle, len(parts)) if idle else [[] for _ in parts]
    return [
        {"mode": "turns", "target": target, "url": url, "keys": k, "idle_keys": i, **common}
        for k, i in zip(parts, idle_parts, strict=True)
    ]


@contextlib.asynccontextmanager
async def spiderweb(
    work: Path,
    data: Path,
    config: dict[str, Any],
    *,
    latency_ms: float = 0.0,
    name: str = "spiderweb",
) -> AsyncIterator[Server]:
    server = await start_spiderweb(work, data, config, latency_ms=latency_ms, name=name)
    try:
        yield server
    finally:
        await server.kill()


@contextlib.asynccontextmanager
async def echo_server(work: Path) -> AsyncIterator[Server]:
    server = await start_echo(work)
    try:
        yield server
    finally:
        await server.kill()


async def load_with_rss(
    work: Path, server: Server, specs: list[dict[str, Any]]
) -> tuple[dict[str, Any], int, int]:
    """Run a load; RSS is sampled before it and once every generator is connected."""
    before = server.rss()
    run = await LoadRun.start(work, specs)
    await run.wait_connected(LOAD_TIMEOUT_S)
    after = server.rss()
    return merged(await run.finish(LOAD_TIMEOUT_S)), before, after


# -- P1 --------------------------------------------------------------------------------------
async def p1(work: Path, z: Sizes) -> Result:
    """1,000 idle + 200 active sessions (mock 50 ms): no errors, connect time, RSS/session."""
    n = z.p1_idle + z.p1_active
    idle = [f"idle-{i}" for i in range(z.p1_idle)]
    active = [f"active-{i}" for i in range(z.p1_active)]
    common = {"idle_keys": idle, "duration_s": z.p1_seconds, "hold_s": 1.0}
    async with spiderweb(work, work / "p1-data", bench_config(), latency_ms=z.p1_latency_ms) as sw:
        specs = turn_specs("spiderweb", sw.url, active, z.generators, **common)
        specs[0]["probe"] = True
        sw_run, sw_before, sw_after = await load_with_rss(work, sw, specs)
        exit_code, _ = await sw.terminate()
    async with echo_server(work) as echo:
        common_echo = {**common, "idle_keys": idle, "duration_s": min(z.p1_seconds, 5.0)}
        echo_run, echo_before, echo_after = await load_with_rss(
            work, echo, turn_specs("echo", echo.url, active, z.generators, **common_echo)
        )
    sw_per = (sw_after - sw_before) / n
    echo_per = (echo_after - echo_before) / n
    over_kib = (sw_per - echo_per) / 1024
    checks = {
        "all_connected": sw_run["connected"] == n,
        "zero_errors": not sw_run["errors"],
        "zero_closes": not sw_run["closes"],
        "idle_alive": sw_run["idle_ok"] == z.p1_idle,
        "exit_0": exit_code == 0,
        "connected_within_10s": sw_run["connect_s"] <= 10.0,
        "rss_per_session_over_echo_le_100kib": over_kib <= 100.0,
    }
    lat = latency_summary(sw_run["latencies_ms"])
    measured = {
        "sessions": n,
        "connected": sw_run["connected"],
        "connect_s": sw_run["connect_s"],
        "echo_connect_s": echo_run["connect_s"],
        "turns": sw_run["turns"],
        "errors": sw_run["errors"],
        "error_samples": sw_run["error_samples"],
        "closes": sw_run["closes"],
        "rss_per_session_kib": sw_per / 1024,
        "echo_rss_per_session_kib": echo_per / 1024,
        "rss_over_echo_kib": over_kib,
        **lat,
        "probe_ping_p99_ms": stats.percentile(sw_run["probe_ms"], 99),
        "loop_lag": "proxy: ping round trip on an idle session every 100 ms during the load",
    }
    figures = [
        figure(
            "P1 connect 1,200 sessions",
            sw_run["connect_s"],
            "s",
            "echo connect",
            stats.ratio(sw_run["connect_s"], echo_run["connect_s"]),
        ),
        figure(
            "P1 RSS/session over echo",
            over_kib,
            "KiB",
            "echo RSS/session",
            stats.ratio(sw_per, echo_per),
        ),
        figure("P1 active turn p99 (mock 50 ms)", lat["p99_ms"], "ms"),
        figure("P1 idle ping p99 (loop-lag proxy)", stats.percentile(sw_run["probe_ms"], 99), "ms"),
    ]
    return verdict("P1", checks, measured, figures)


# -- P2 --------------------------------------------------------------------------------------
async def p2(work: Path, z: Sizes) -> Result:
    """1 client, sequential turns: p50/p99 against echo's."""
    spec = {"turns_per_client": z.p2_turns}
    async with spiderweb(work, work / "p2-data", bench_config()) as sw:
        sw_run = merged(
            await run_load(work, turn_specs("spiderweb", sw.url, ["p2"], 1, **spec), LOAD_TIMEOUT_S)
        )
        exit_code, _ = await sw.terminate()
    async with echo_server(work) as echo:
        echo_run = merged(
            await run_load(work, turn_specs("echo", echo.url, ["p2"], 1, **spec), LOAD_TIMEOUT_S)
        )
    s, e = latency_summary(sw_run["latencies_ms"]), latency_summary(echo_run["latencies_ms"])
    r50, r99 = stats.ratio(s["p50_ms"], e["p50_ms"]), stats.ratio(s["p99_ms"], e["p99_ms"])
    checks = {
        "zero_errors": not sw_run["errors"] and sw_run["turns"] == z.p2_turns,
        "zero_closes": not sw_run["closes"],
        "exit_0": exit_code == 0,
        "p50_le_15x_echo": r50 <= 15.0,
        "p99_le_15x_echo": r99 <= 15.0,
    }
    measured = {"turns": sw_run["turns"], "spiderweb": s, "echo": e, "errors": sw_run["errors"]}
    figures = [
        figure("P2 echo p50", e["p50_ms"], "ms"),
        figure("P2 echo p99", e["p99_ms"], "ms"),
        figure("P2 turn p50", s["p50_ms"], "ms", "echo p50", r50),
        figure("P2 turn p99", s["p99_ms"], "ms", "echo p99", r99),
    ]
    return verdict("P2", checks, measured, figures)


# -- P3 --------------------------------------------------------------------------------------
async def closed_loop(
    work: Path, url: str, target: str, keys: list[str], seconds: float, z: Sizes, **extra: Any
) -> dict[str, Any]:
    specs = turn_specs(target, url, keys, z.generators, duration_s=seconds, **extra)
    return merged(await run_load(work, specs, LOAD_TIMEOUT_S))


async def p3(work: Path, z: Sizes) -> Result:
    """200 clients closed loop: turns/s against echo msgs/s."""
    keys = [f"p3-{i}" for i in range(z.p3_clients)]
    async with spiderweb(work, work / "p3-data", bench_config()) as sw:
        sw_run = await closed_loop(work, sw.url, "spiderweb", keys, z.p3_seconds, z)
        exit_code, _ = await sw.terminate()
    async with echo_server(work) as echo:
        echo_run = await closed_loop(work, echo.url, "echo", keys, z.p3_seconds, z)
    tps = stats.rate(sw_run["turns"], sw_run["window_s"])
    eps = stats.rate(echo_run["turns"], echo_run["window_s"])
    lat = latency_summary(sw_run["latencies_ms"])
    checks = {
        "all_connected": sw_run["connected"] == z.p3_clients,
        "zero_errors": not sw_run["errors"],
        "zero_closes": not sw_run["closes"],
        "exit_0": exit_code == 0,
        "turns_per_s_ge_0.05x_echo": stats.ratio(tps, eps) >= 0.05,
    }
    measured = {
        "clients": z.p3_clients,
        "turns": sw_run["turns"],
        "turns_per_s": tps,
        "echo_msgs_per_s": eps,
        **lat,
        "echo": latency_summary(echo_run["latencies_ms"]),
        "errors": sw_run["errors"],
        "error_samples": sw_run["error_samples"],
        "closes": sw_run["closes"],
    }
    figures = [
        figure("P3 echo msgs/s", eps, "msgs/s"),
        figure("P3 turns/s", tps, "turns/s", "echo msgs/s", stats.ratio(tps, eps)),
        figure(
            "P3 turn p99",
            lat["p99_ms"],
            "ms",
            "echo p99",
            stats.ratio(lat["p99_ms"], measured["echo"]["p99_ms"]),
        ),
    ]
    return verdict("P3", checks, measured, figures)


# -- P4 --------------------------------------------------------------------------------------
async def verify(work: Path, url: str, acked: dict[str, list[str]]) -> dict[str, Any]:
    """Page every acknowledged session's history in a generator process."""
    if not acked:
        return {"lost": 0, "dup_messages": 0, "dup_ids": 0, "errors": {}, "sessions": 0}
    spec = {"mode": "verify", "target": "spiderweb", "url": url, "acked": acked}
    return (await run_load(work, [spec], LOAD_TIMEOUT_S))[0]


async def p4(work: Path, z: Sizes) -> Result:
    """Reconnect storm: half drop mid-turn and return within 1 s; mixed pause/cancel."""
    keys = [f"p4-{i}" for i in range(z.p4_sessions)]
    size = max(1, math.ceil(len(keys) / max(1, z.generators)))
    # P4 measures reattachment, not the LLM gate (P8 does): every session's turn may
    # wait for a slot instead of being answered `busy` when all 500 send at once.
    config = bench_config(llm={"max_concurrency": 256, "max_waiting": z.p4_sessions})
    async with spiderweb(work, work / "p4-data", config) as sw:
        # contiguous chunks keep each key's global index, so roles and droppers do not
        # depend on how many generators run
        specs = [
            {"mode": "storm", "url": sw.url, "keys": keys[i : i + size], "first_index": i}
            for i in range(0, len(keys), size)
        ]
        results = await run_load(work, specs, LOAD_TIMEOUT_S)
        acked = {k: v for r in results for k, v in r["acked"].items()}
        check = await verify(work, sw.url, acked)
        exit_code, _ = await sw.terminate()
    droppers = sum(r["droppers"] for r in results)
    reattached = sum(r["reattached"] for r in results)
    right = sum(r["right_status"] for r in results)
    replay = stats.merge_counts(*(r["replay"] for r in results))
    errors = stats.merge_counts(*(r["errors"] for r in results), check.get("errors", {}))
    closes = stats.merge_counts(*(r["closes"] for r in results))
    storm_s = max(r["storm_s"] for r in results)
    reattach_max = max(r["reattach_max_s"] for r in results)
    dups = (
        sum(r["dup_ids"] + r["dup_seq"] for r in results) + check["dup_messages"] + check["dup_ids"]
    )
    checks = {
        "zero_errors": not errors,
        "zero_closes": not closes,
        "all_reattached": reattached == droppers and droppers > 0,
        "right_reconnect_status": right == droppers,
        "replay_full": replay.get("full", 0) == droppers,
        "zero_lost": check["lost"] == 0,
        "zero_duplicates": dups == 0,
        "exit_0": exit_code == 0,
        "reattached_within_10s": storm_s <= 10.0,
    }
    measured = {
        "sessions": z.p4_sessions,
        "droppers": droppers,
        "reattached": reattached,
        "right_status": right,
        "replay": replay,
        "resent": sum(r["resent"] for r in results),
        "storm_s": storm_s,
        "reattach_max_s": reattach_max,
        "lost": check["lost"],
        "duplicates": dups,
        "errors": errors,
        "closes": closes,
        "wrong": [w for r in results for w in r["wrong"]][:10],
        "error_samples": {k: v for r in results for k, v in r.get("error_samples", {}).items()},
    }
    figures = [
        figure("P4 storm: all reattached", storm_s, "s"),
        figure("P4 reattach max (drop → reconnect frame)", reattach_max, "s"),
    ]
    return verdict("P4", checks, measured, figures)


# -- P5 --------------------------------------------------------------------------------------
async def seed(work: Path, url: str, keys: list[str], z: Sizes) -> dict[str, Any]:
    specs = [
        {"mode": "seed", "target": "spiderweb", "url": url, "keys": k}
        for k in shards(keys, z.generators)
    ]
    return merged(await run_load(work, specs, LOAD_TIMEOUT_S))


async def under_load(
    work: Path,
    server: Server,
    keys: list[str],
    z: Sizes,
    after_s: float,
    stop: Callable[[], Awaitable[Any]],
    **extra: Any,
) -> tuple[dict[str, Any], Any]:
    """Closed-loop turns (recording acks) until ``stop`` is called ``after_s`` in."""
    specs = turn_specs(
        "spiderweb",
        server.url,
        keys,
        z.generators,
        record_acks=True,
        stop_on_close=True,
        hard_s=after_s + 120,
        **extra,
    )
    run = await LoadRun.start(work, specs)
    await run.wait_connected(LOAD_TIMEOUT_S)
    await asyncio.sleep(after_s)
    stopped = await stop()
    return merged(await run.finish(LOAD_TIMEOUT_S)), stopped


def during_stop(errors: dict[str, int]) -> dict[str, int]:
    """Errors other than the refusals a stopping server gives (`busy`, "shutting down")."""
    return {k: v for k, v in errors.items() if not k.endswith(":shutdown")}


def lock_taken_over(log: Path) -> bool:
    try:
        return "stale data-dir lock" in log.read_text(errors="replace")
    except OSError:
        return False


async def p5(work: Path, z: Sizes) -> Result:
    """SIGKILL under load, restart: no acknowledged message lost; listening within 5 s."""
    data = work / "p5-data"
    stored = [f"stored-{i}" for i in range(z.p5_stored)]
    keys = [f"p5-{i}" for i in range(z.p5_clients)]
    cfg = bench_config()
    async with spiderweb(work, data, cfg, name="p5-first") as sw:
        seeded = await seed(work, sw.url, stored, z)

        async def kill() -> None:
            await sw.kill()

        run, _ = await under_load(work, sw, keys, z, z.p5_kill_after_s, kill)
    async with spiderweb(work, data, cfg, name="p5-restart") as again:
        ready_s = again.ready_s
        check = await verify(work, again.url, run["acked"])
        exit_code, _ = await again.terminate()
        took_over = lock_taken_over(again.log)
    acked_messages = 2 * sum(len(v) for v in run["acked"].values())
    unexpected = during_stop(run["errors"])
    checks = {
        "zero_errors": not unexpected and not seeded["errors"] and not check["errors"],
        "zero_lost": check["lost"] == 0 and acked_messages > 0,
        "zero_duplicates": check["dup_messages"] == 0 and check["dup_ids"] == 0,
        "lock_taken_over": took_over,
        "exit_0": exit_code == 0,
        "listening_within_5s": ready_s <= 5.0,
    }
    measured = {
        "stored_sessions": z.p5_stored + z.p5_clients,
        "acked_messages": acked_messages,
        "lost": check["lost"],
        "restart_to_listening_s": ready_s,
        "errors": {**run["errors"], **seeded["errors"], **check["errors"]},
        "error_samples": run["error_samples"],
        "closes_at_kill": run["closes"],
    }
    figures = [
        figure(f"P5 restart to listening ({z.p5_stored + z.p5_clients} sessions)", ready_s, "s"),
        figure("P5 acknowledged messages lost", float(check["lost"]), "msgs"),
    ]
    return verdict("P5", checks, measured, figures)


# -- P6 --------------------------------------------------------------------------------------
def state_file_keys(data: Path) -> set[str]:
    try:
        doc = json.loads((data / STATE_FILE).read_text())
    except (OSError, ValueError):
        return set()
    return {str(s.get("session_id")) for s in doc.get("sessions", []) if isinstance(s, dict)}


async def p6(work: Path, z: Sizes) -> Result:
    """SIGTERM under load: exit 0 within grace + 5 s, every session saved, counters restored."""
    data = work / "p6-data"
    keys = [f"p6-{i}" for i in range(z.p6_clients)]
    goal_keys = keys[: z.p6_goal_sessions]
    cfg = bench_config()
    grace = 10.0
    async with spiderweb(work, data, cfg, name="p6-first") as sw:

        async def term() -> tuple[int | None, float]:
            return await sw.terminate(timeout=grace + 30)

        run, (exit_code, shutdown_s) = await under_load(
            work, sw, keys, z, z.p6_run_s, term, paused_goal_keys=goal_keys
        )
    saved = state_file_keys(data)
    async with spiderweb(work, data, cfg, name="p6-restart") as again:
        spec = {"mode": "state", "target": "spiderweb", "url": again.url, "keys": goal_keys}
        states = (await run_load(work, [spec], LOAD_TIMEOUT_S))[0]
        check = await verify(work, again.url, run["acked"])
        await again.terminate()
    before = run["goal_states"]
    after = states["states"]
    fields = ("queuedTasks", "activeTasks", "droppedTasks")
    restored = [
        k
        for k in goal_keys
        if k in before
        and k in after
        and all(before[k][f] == after[k][f] for f in fields)
        and after[k]["status"] == "backpressure_resumed"
    ]
    unexpected = during_stop(run["errors"])
    checks = {
        "zero_errors": not unexpected and not states["errors"] and not check["errors"],
        "exit_0": exit_code == 0,
        "state_file_complete": set(keys) <= saved,
        "counters_restored": len(restored) == len(goal_keys)
        and all(before[k]["queuedTasks"] > 0 for k in goal_keys if k in before),
        "zero_lost": check["lost"] == 0,
        "zero_duplicates": check["dup_messages"] == 0 and check["dup_ids"] == 0,
        "exit_within_grace_plus_5s": shutdown_s <= grace + 5.0,
    }
    measured = {
        "clients": z.p6_clients,
        "shutdown_s": shutdown_s,
        "exit_code": exit_code,
        "saved_sessions": len(saved),
        "goal_sessions": len(goal_keys),
        "counters_restored": len(restored),
        "before": dict(list(before.items())[:3]),
        "after": dict(list(after.items())[:3]),
        "acked_messages": 2 * sum(len(v) for v in run["acked"].values()),
        "lost": check["lost"],
        "closes_at_shutdown": run["closes"],
        "errors": run["errors"],
        "error_samples": run["error_samples"],
    }
    figures = [
        figure("P6 SIGTERM to exit under load", shutdown_s, "s", "grace 10 s", shutdown_s / grace)
    ]
    return verdict("P6", checks, measured, figures)


# -- P7 --------------------------------------------------------------------------------------
async def p7(work: Path, z: Sizes) -> Result:
    """One slow consumer in P3: it is closed 1013, the others keep their latency."""
    async with spiderweb(work, work / "p7-data", bench_config()) as sw:
        plain = await closed_loop(
            work, sw.url, "spiderweb", [f"p7a-{i}" for i in range(z.p7_clients)], z.p7_seconds, z
        )
        specs = turn_specs(
            "spiderweb",
            sw.url,
            [f"p7b-{i}" for i in range(z.p7_clients)],
            z.generators,
            duration_s=z.p7_seconds,
        )
        specs[0]["slow_consumer"] = {"key": "p7-slow", "warm_turns": 30, "big": 60, "burst": 400}
        slowed = merged(await run_load(work, specs, LOAD_TIMEOUT_S))
        exit_code, _ = await sw.terminate()
    p95_a = stats.percentile(plain["latencies_ms"], 95)
    p95_b = stats.percentile(slowed["latencies_ms"], 95)
    slow = slowed["slow"] or {}
    r = stats.ratio(p95_b, p95_a)
    checks = {
        "slow_closed_1013": slow.get("close_code") == 1013,
        "others_all_answered": not slowed["errors"]
        and not slowed["closes"]
        and slowed["turns"] > 0,
        "zero_errors": not plain["errors"] and not plain["closes"],
        "exit_0": exit_code == 0,
        "others_p95_le_1.5x": r <= 1.5,
    }
    measured = {
        "clients": z.p7_clients,
        "p95_without_ms": p95_a,
        "p95_with_ms": p95_b,
        "slow": slow,
        "errors": slowed["errors"],
        "error_samples": {**plain["error_samples"], **slowed["error_samples"]},
        "closes": slowed["closes"],
    }
    figures = [figure("P7 others' p95 with a slow consumer", p95_b, "ms", "p95 without", r)]
    return verdict("P7", checks, measured, figures)


# -- P8 --------------------------------------------------------------------------------------
async def p8(work: Path, z: Sizes) -> Result:
    """6-task goal bursts with ``llm.max_concurrency`` 2: ``busy``, never timeouts."""
    cfg = bench_config(
        llm={"max_concurrency": 2, "max_waiting": z.p8_max_waiting},
        workers={"mode": "llm", "backpressure_warning_ms": 300},
        heartbeat={"sweep_interval_ms": 100, "interval_ms": 100},
    )
    keys = [f"p8-{i}" for i in range(z.p8_sessions)]
    async with spiderweb(work, work / "p8-data", cfg, latency_ms=z.p8_latency_ms) as sw:
        specs = [
            {
                "mode": "goals",
                "url": sw.url,
                "keys": part,
                "chats": 3,
                "settle_s": 1.0,
                "hard_s": 300,
            }
            for part in shards(keys, z.generators)
        ]
        results = await run_load(work, specs, LOAD_TIMEOUT_S)
        exit_code, _ = await sw.terminate()
    errors = stats.merge_counts(*(r["errors"] for r in results))
    progress = stats.merge_counts(*(r["progress"] for r in results))
    prolonged = {k: v for r in results for k, v in r["prolonged"].items()}
    saturated = sum(r["saturated_sessions"] for r in results)
    busy = errors.get("busy", 0)
    timeouts = sum(n for code, n in errors.items() if "timeout" in code.lower())
    other = {k: v for k, v in errors.items() if k != "busy"}
    checks = {
        "busy_not_timeouts": busy > 0 and timeouts == 0,
        "zero_errors": not other,
        "one_prolonged_per_session": saturated == len(keys)
        and all(v == 1 for v in prolonged.values()),
        "counters_end_0": sum(r["counters_nonzero"] for r in results) == 0,
        "all_finished": sum(r["unfinished"] for r in results) == 0,
        "exit_0": exit_code == 0,
    }
    measured = {
        "sessions": len(keys),
        "busy": busy,
        "timeouts": timeouts,
        "errors": errors,
        "saturated_sessions": saturated,
        "prolonged_per_session": _histogram(prolonged.values()),
        "progress": progress,
    }
    figures = [
        figure("P8 busy replies", float(busy), "frames", "timeouts", None),
        figure("P8 timeouts", float(timeouts), "frames"),
    ]
    return verdict("P8", checks, measured, figures)


def _histogram(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


# -- P9 --------------------------------------------------------------------------------------
async def ram_caps(url: str, keys: list[str]) -> dict[str, int]:
    """Largest RAM active/tombstone/summary counts over ``keys`` (from ``memory.query``)."""
    worst = {"active": 0, "tombstone": 0, "summary": 0}
    for key in keys:
        conn = await Conn.open(stream_url(url, key), key)
        try:
            await conn.recv(10.0)
            for kind in ("entry", "summary"):
                reply = await conn.request(
                    {"type": "memory.query", "id": f"q-{kind}", "kind": kind, "limit": 128},
                    "memory.query",
                    30.0,
                )
                ram = [i for i in reply.get("items", []) if i.get("source") == "ram"]
                if kind == "summary":
                    worst["summary"] = max(worst["summary"], len(ram))
                else:
                    for state in ("active", "tombstone"):
                        n = sum(1 for i in ram if i.get("state") == state)
                        worst[state] = max(worst[state], n)
        finally:
            await conn.close()
    return worst


def snapshots_per_session(data: Path) -> int:
    db = data / ".spiderweb-ltm" / "memory.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute(
            "SELECT COALESCE(MAX(n), 0) FROM "
            "(SELECT COUNT(*) AS n FROM ram_snapshots GROUP BY session_id)"
        ).fetchone()
        return int(row[0])
    finally:
        con.close()


async def p9(work: Path, z: Sizes) -> Result:
    """Soak: 200 active clients; RSS growth after warm-up, RAM caps, snapshot cap, flat counts."""
    data = work / "p9-data"
    keys = [f"p9-{i}" for i in range(z.p9_clients)]
    samples: list[tuple[float, int, dict[str, int]]] = []
    async with spiderweb(work, data, bench_config()) as sw:
        specs = turn_specs("spiderweb", sw.url, keys, z.generators, duration_s=z.p9_seconds)
        run = await LoadRun.start(work, specs)
        await run.wait_connected(LOAD_TIMEOUT_S)
        t0 = time.perf_counter()
        finishing = asyncio.ensure_future(run.finish(z.p9_seconds + LOAD_TIMEOUT_S))
        while not finishing.done():
            samples.append((time.perf_counter() - t0, sw.rss(), sw.counts()))
            await asyncio.wait({finishing}, timeout=z.p9_sample_s)
        result = merged(finishing.result())
        caps = await ram_caps(sw.url, keys[:10])
        snaps = snapshots_per_session(data)
        exit_code, _ = await sw.terminate()
    warm = [s for s in samples if s[0] >= z.p9_warmup_s]
    start = warm[0] if warm else samples[-1]
    end = samples[-1]
    growth = stats.growth_pct(start[1], end[1])
    lat = latency_summary(result["latencies_ms"])
    checks = {
        "zero_errors": not result["errors"],
        "zero_closes": not result["closes"],
        "ram_within_caps": max(caps.values()) <= 64,
        "snapshots_within_cap": snaps <= 24,
        "exit_0": exit_code == 0,
        "rss_growth_le_10pct": growth <= 10.0,
        "threads_flat": end[2]["threads"] <= start[2]["threads"] + 2,
    }
    measured = {
        "clients": z.p9_clients,
        "seconds": z.p9_seconds,
        "warmup_s": z.p9_warmup_s,
        "turns": result["turns"],
        "rss_start_mib": start[1] / 2**20,
        "rss_end_mib": end[1] / 2**20,
        "rss_growth_pct": growth,
        "threads": [start[2]["threads"], end[2]["threads"]],
        "fds": [start[2]["fds"], end[2]["fds"]],
        "ram_caps": caps,
        "max_snapshots_per_session": snaps,
        **lat,
        "errors": result["errors"],
        "error_samples": result["error_samples"],
        "task_count": "asyncio task count is not observable from outside; threads/fds reported",
    }
    figures = [
        figure("P9 RSS growth after warm-up", growth, "%"),
        figure("P9 turn p99", lat["p99_ms"], "ms"),
    ]
    return verdict("P9", checks, measured, figures)


SCENARIOS: dict[str, Callable[[Path, Sizes], Awaitable[Result]]] = {
    "P1": p1,
    "P2": p2,
    "P3": p3,
    "P4": p4,
    "P5": p5,
    "P6": p6,
    "P7": p7,
    "P8": p8,
    "P9": p9,
}


async def run_one(sid: str, work: Path, z: Sizes) -> Result:
    """Run one scenario; a crash of the harness or server is reported, never hidden."""
    scenario_dir = work / sid
    scenario_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        result = await SCENARIOS[sid](scenario_dir, z)
    except Exception as exc:
        result = {
            "id": sid,
            "status": "not-run",
            "reason": f"{type(exc).__name__}: {exc}",
            "figures": [],
        }
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result
