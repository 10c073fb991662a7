"""spiderweb benchmarks P1-P9 (spec §16) against a bare websockets echo server, same run.

Each scenario starts its own processes on 127.0.0.1: the server (``spiderweb
serve --port 0 --json --provider mock``, or ``swbench.mockserve`` where mock
latency is needed), the echo baseline (``async for m in ws: await ws.send(m)``)
and 1-2 load generator processes, all with ``RLIMIT_NOFILE`` at the hard limit
and the rate limit off. ``ctx["quick"]`` runs CI sizes; ``ctx["only"]`` or the
environment variable ``SPIDERWEB_BENCH_ONLY=P2,P9`` may name a subset. A subset
run merges into the existing ``bench/results/spiderweb.json`` (same size class):
the scenarios it ran are replaced, every other scenario keeps its figures. A
scenario that cannot run is recorded as ``{"status": "not-run", "reason": ...}``,
never as a pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "spiderweb.json"
ONLY_ENV = "SPIDERWEB_BENCH_ONLY"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from swbench.procutil import raise_nofile_limit  # noqa: E402
from swbench.scenarios import SCENARIOS, Sizes, run_one  # noqa: E402


async def _run_all(ids: list[str], sizes: Sizes) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="spiderweb-bench-") as tmp:
        for sid in ids:
            results[sid] = await run_one(sid, Path(tmp), sizes)
    return results


def _selected(ctx: dict[str, Any]) -> list[str] | None:
    """Scenario ids asked for (``ctx["only"]``, else ``$SPIDERWEB_BENCH_ONLY``), or all."""
    only = ctx.get("only")
    if not only:
        env = os.environ.get(ONLY_ENV, "")
        only = [part.strip().upper() for part in env.split(",") if part.strip()]
    if not only:
        return None
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; have {list(SCENARIOS)}")
    return [s for s in SCENARIOS if s in only]


def _previous(quick: bool) -> dict[str, Any]:
    """Scenarios of the last full (or quick) run, to keep beside a subset run."""
    try:
        old = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict) or bool(old.get("quick")) != quick:
        return {}
    scenarios = old.get("scenarios")
    return scenarios if isinstance(scenarios, dict) else {}


def run(ctx: dict[str, Any]) -> dict[str, Any]:
    quick = bool(ctx.get("quick"))
    sizes = Sizes.quick() if quick else Sizes.full()
    chosen = _selected(ctx)
    ids = chosen or list(SCENARIOS)
    nofile = raise_nofile_limit()
    fresh = asyncio.run(_run_all(ids, sizes))
    scenarios = fresh
    if chosen is not None:
        kept = {k: v for k, v in _previous(quick).items() if k in SCENARIOS and k not in fresh}
        scenarios = {
            sid: fresh.get(sid) or kept[sid] for sid in SCENARIOS if sid in fresh or sid in kept
        }
    figures = [f for r in scenarios.values() for f in r.get("figures", [])]
    echo = _echo_figures(scenarios)
    statuses = {sid: r["status"] for sid, r in scenarios.items()}
    return {
        "figures": figures,
        "echo": echo,
        "scenarios": scenarios,
        "status": statuses,
        "passed": sum(1 for s in statuses.values() if s == "pass"),
        "failed": sum(1 for s in statuses.values() if s == "fail"),
        "notRun": sum(1 for s in statuses.values() if s == "not-run"),
        "quick": quick,
        "lastRun": sorted(fresh),
        "sizes": {k: getattr(sizes, k) for k in sizes.__dataclass_fields__},
        "nofile": nofile,
    }


def _echo_figures(scenarios: dict[str, Any]) -> dict[str, Any]:
    """The baseline's own numbers from the same run, side by side."""
    out: dict[str, Any] = {}
    m1 = scenarios.get("P1", {}).get("measured", {})
    if m1:
        out["P1"] = {
            "connect_s": m1.get("echo_connect_s"),
            "rss_per_session_kib": m1.get("echo_rss_per_session_kib"),
        }
    m2 = scenarios.get("P2", {}).get("measured", {})
    if m2:
        out["P2"] = m2.get("echo")
    m3 = scenarios.get("P3", {}).get("measured", {})
    if m3:
        out["P3"] = {"msgs_per_s": m3.get("echo_msgs_per_s"), **(m3.get("echo") or {})}
    return out
