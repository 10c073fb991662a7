"""spiderweb benchmarks P1-P9 (spec §16) against a bare websockets echo server, same run.

Each scenario starts its own processes on 127.0.0.1: the server (``spiderweb
serve --port 0 --json --provider mock``, or ``swbench.mockserve`` where mock
latency is needed), the echo baseline (``async for m in ws: await ws.send(m)``)
and 1-2 load generator processes, all with ``RLIMIT_NOFILE`` at the hard limit
and the rate limit off. ``ctx["quick"]`` runs CI sizes; ``ctx["only"]`` may
name a subset (``["P2", "P3"]``). A scenario that cannot run is recorded as
``{"status": "not-run", "reason": ...}``, never as a pass.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
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


def run(ctx: dict[str, Any]) -> dict[str, Any]:
    quick = bool(ctx.get("quick"))
    sizes = Sizes.quick() if quick else Sizes.full()
    ids = [s for s in ctx.get("only") or list(SCENARIOS) if s in SCENARIOS]
    nofile = raise_nofile_limit()
    scenarios = asyncio.run(_run_all(ids, sizes))
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
