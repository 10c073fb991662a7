"""Index builds through the real CLI (``pairofcleats index build --json``), measured.

Each build is a subprocess so its wall time, exit code and whole-tree peak RSS are the
user's; the build summary and ``build_state.json`` (per-phase durations) come back parsed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pocbench.procs import ProcResult, check, run_measured


@dataclass(frozen=True, slots=True)
class BuildRun:
    """A finished build: the process measurements, summary JSON and build_state."""

    proc: ProcResult
    summary: dict[str, Any]
    state: dict[str, Any] | None

    @property
    def files(self) -> int:
        return int(self.summary.get("discovery", {}).get("indexed", 0))

    @property
    def chunks(self) -> int:
        counts = self.summary.get("counts", {})
        return sum(int(c.get("chunks", 0)) for c in counts.values())

    def phase_seconds(self, phase: str) -> float | None:
        """``build_state.phases[phase].durationMs`` in seconds, if recorded."""
        if self.state is None:
            return None
        ms = (self.state.get("phases", {}).get(phase) or {}).get("durationMs")
        return None if ms is None else ms / 1000


def _state(cache_root: Path, summary: Mapping[str, Any]) -> dict[str, Any] | None:
    repo_id, build_root = summary.get("repoId"), summary.get("buildRoot")
    if not repo_id or not build_root:
        return None
    path = cache_root / "cache-v1" / "repos" / str(repo_id) / str(build_root) / "build_state.json"
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def build(
    cli: Path,
    repo: Path,
    env: Mapping[str, str],
    cache_root: Path,
    flags: Sequence[str] = (),
) -> BuildRun:
    """Run one build and return it measured (raises if it exits non-zero)."""
    argv = [str(cli), "index", "build", "--repo", str(repo), "--json", "--progress", "off"]
    res = check(run_measured([*argv, *flags], env=env, sample_tree=True))
    summary: dict[str, Any] = json.loads(res.stdout)
    return BuildRun(res, summary, _state(cache_root, summary))
