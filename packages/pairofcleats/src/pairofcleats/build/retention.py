"""Retention (§1.1): keep the current build and the newest ``keepBuilds`` promoted ones.

Dead (failed, cancelled, running-but-unlocked) build dirs are removed; a build in
the *protected set* is never removed (later phases pass snapshot-referenced ids).
Only called with the index lock held.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from groundwork import jsonio
from groundwork.errors import GroundworkError

from pairofcleats.artifacts.reader import read_current
from pairofcleats.paths import BUILD_ID_RE, RepoLayout, build_id_sort_key


def apply_retention(layout: RepoLayout, keep_builds: int, protected: Iterable[str]) -> list[str]:
    """Delete old and dead build dirs; returns the removed buildIds."""
    keep = set(protected)
    cur = read_current(layout.current_json)
    if cur.pointer is not None:
        keep.add(cur.pointer.buildId)
        for root in cur.pointer.buildRoots.values():
            keep.add(root.rsplit("/", 1)[-1])
    promoted: list[str] = []
    dead: list[str] = []
    if not layout.builds_dir.is_dir():
        return []
    for p in sorted(layout.builds_dir.iterdir()):
        if not p.is_dir() or not BUILD_ID_RE.match(p.name) or p.name == "attempts":
            continue
        try:
            status = jsonio.loads((p / "build_state.json").read_bytes()).get("status")
        except (OSError, GroundworkError, ValueError, AttributeError):
            status = None
        if status == "promoted":
            promoted.append(p.name)
        elif status in ("failed", "cancelled", "running", None):
            dead.append(p.name)
    removed: list[str] = []
    for bid in sorted(promoted, key=build_id_sort_key, reverse=True)[keep_builds:]:
        if bid not in keep:
            shutil.rmtree(layout.builds_dir / bid, ignore_errors=True)
            removed.append(bid)
    for bid in sorted(dead, reverse=True):
        if bid in keep:
            continue
        shutil.rmtree(layout.builds_dir / bid, ignore_errors=True)
        removed.append(bid)
    return sorted(removed)
