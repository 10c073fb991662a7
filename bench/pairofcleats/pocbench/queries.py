"""Query latency: warm in-process ``Searcher`` and cold ``pairofcleats search`` processes.

Warm queries use a distinct term each time, so the searcher's result LRU never answers;
the first query (index load) is a warm-up and is not timed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pocbench.procs import ProcResult, check, run_measured

#: Identifiers found in both the quick and the full medium corpus (groundwork + site-packages).
TERMS = (
    "atomic_write", "hash_file", "FileLock", "safe_join", "iter_jsonl", "dumps", "loads",
    "config", "timeout", "encode", "decode", "parse", "stream", "socket", "request",
    "response", "session", "cache", "buffer", "token", "header", "schema", "validate",
    "retry", "thread", "logger", "registry", "context", "iterator", "serialize", "deadline",
    "checksum", "signature", "manifest", "heartbeat", "provider", "fixture", "snapshot",
    "template", "pattern",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Latencies:
    """Per-query seconds plus the hit counts seen (a query that finds nothing is suspect)."""

    seconds: list[float]
    hits: list[int]


def warm_latencies(
    repo: Path, env: Mapping[str, str], backend: str, terms: list[str], warmup: str
) -> Latencies:
    """Time ``Searcher.search`` per term on an already-loaded searcher (sparse only)."""
    from pairofcleats.api import Searcher
    from pairofcleats.search.searcher import SearchRequest

    searcher = Searcher(repo, env=env)
    searcher.search(SearchRequest(query=warmup, backend=backend, ann=False))
    seconds: list[float] = []
    hits: list[int] = []
    for term in terms:
        req = SearchRequest(query=term, backend=backend, ann=False)
        t0 = time.perf_counter()
        result = searcher.search(req)
        seconds.append(time.perf_counter() - t0)
        hits.append(sum(len(result[k]) for k in ("code", "prose", "extractedProse")))
    return Latencies(seconds, hits)


def cold_search(
    cli: Path, repo: Path, env: Mapping[str, str], backend: str, term: str
) -> ProcResult:
    """One ``pairofcleats search <term> --json --backend B --no-ann`` process."""
    argv = [str(cli), "search", term, "--repo", str(repo), "--json", "--backend", backend]
    return check(run_measured([*argv, "--no-ann"], env=env))
