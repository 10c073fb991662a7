"""``lastModified``/``lastAuthor`` from one streamed ``git log`` pass (§5).

The pass stops once every indexed path has been seen or after ``maxCommits``;
dirty or unseen files fall back to their mtime and a null author.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pairofcleats.scm import GitError, git_stream


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def dirty_paths(root: Path, env: Mapping[str, str] | None) -> set[str]:
    """Paths with uncommitted changes (``git status --porcelain -z``)."""
    out: set[str] = set()
    try:
        for rec in git_stream(
            ["status", "--porcelain", "-z", "--untracked-files=all"], root, sep=b"\0", env=env
        ):
            if len(rec) > 3:
                out.add(rec[3:].decode("utf-8", "replace"))
    except GitError:
        pass
    return out


def annotate(
    root: Path, bundles: Sequence[dict[str, Any]], max_commits: int, env: Mapping[str, str] | None
) -> dict[str, tuple[str | None, str | None]]:
    """``{path: (lastModified ISO, lastAuthor | None)}`` for every bundle's file."""
    wanted = {b["file"] for b in bundles}
    dirty = dirty_paths(root, env)
    out: dict[str, tuple[str | None, str | None]] = {}
    pending = wanted - dirty
    commits = 0
    when: float | None = None
    author: str | None = None
    try:
        stream = git_stream(
            ["log", "--no-renames", "--name-only", "--format=%x00%ct%x00%an"],
            root,
            sep=b"\n",
            env=env,
        )
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            if line.startswith("\0"):
                parts = line.split("\0")
                commits += 1
                if commits > max_commits or not pending:
                    break
                try:
                    when = float(parts[1])
                except (IndexError, ValueError):
                    when = None
                author = parts[2] if len(parts) > 2 else None
                continue
            if line and line in pending and when is not None:
                out[line] = (_iso(when), author)
                pending.discard(line)
    except GitError:
        pass
    for b in bundles:
        if b["file"] not in out:
            out[b["file"]] = (_iso(b["mtimeMs"] / 1000.0), None)
    return out
