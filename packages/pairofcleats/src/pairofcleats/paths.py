"""Repo root, cache root, repoId, buildId and the cache layout (§1).

Pure functions over explicit inputs (``env`` is passed in, never read here),
except ``resolve_repo_root`` which asks git.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CONFIG_FILE = ".pairofcleats.json"
CACHE_VERSION_DIR = "cache-v1"
BUILD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MODES = ("code", "prose", "extracted-prose")


def resolve_repo_root(
    repo: str | os.PathLike[str] | None, cwd: Path, env: Mapping[str, str] | None = None
) -> Path:
    """``--repo``; else the git toplevel; else the nearest ``.pairofcleats.json``; else cwd."""
    if repo is not None:
        return Path(os.path.realpath(Path(cwd, repo)))
    from pairofcleats.scm import git_text  # subprocess only when git is asked

    top = git_text(["rev-parse", "--show-toplevel"], cwd, env)
    if top:
        return Path(os.path.realpath(top))
    here = Path(os.path.realpath(cwd))
    for cand in (here, *here.parents):
        if (cand / CONFIG_FILE).is_file():
            return cand
    return here


def default_cache_root(
    configured: str | None, env: Mapping[str, str], home: Path | None = None
) -> Path:
    """Config ``cache.root`` as given; else ``$PAIROFCLEATS_CACHE_ROOT/cache-v1``; else per-OS."""
    if configured:
        return Path(configured).expanduser()
    if env.get("PAIROFCLEATS_CACHE_ROOT"):
        return Path(env["PAIROFCLEATS_CACHE_ROOT"]).expanduser() / CACHE_VERSION_DIR
    if env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "PairOfCleats" / CACHE_VERSION_DIR
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "pairofcleats" / CACHE_VERSION_DIR
    base = home if home is not None else Path(env.get("HOME") or Path.home())
    return base / ".cache" / "pairofcleats" / CACHE_VERSION_DIR


def repo_slug(repo_root: Path) -> str:
    """Basename lowercased, runs of ``[^a-z0-9]`` → ``-``, trimmed, ≤ 24 chars, else ``repo``."""
    slug = re.sub(r"[^a-z0-9]+", "-", repo_root.name.lower()).strip("-")[:24].strip("-")
    return slug or "repo"


def repo_id(repo_root: Path) -> str:
    """``<slug>-<sha1(repoRoot)[:12]>`` of the realpath."""
    digest = hashlib.sha1(str(repo_root).encode("utf-8")).hexdigest()
    return f"{repo_slug(repo_root)}-{digest[:12]}"


def build_id_base(now: datetime, scm_head: str | None, config_hash: str) -> str:
    """``YYYYMMDDTHHMMSSZ_<head[:7]|noscm>_<configHash[:8]>``."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    head = scm_head[:7] if scm_head else "noscm"
    return f"{stamp}_{head}_{config_hash[:8]}"


def build_id_sort_key(build_id: str) -> tuple[str, int]:
    """Order buildIds by time, then by their ``-N`` suffix (``X`` < ``X-2`` < ``X-10``)."""
    base, sep, suffix = build_id.rpartition("-")
    if sep and suffix.isdigit() and "_" in base:
        return base, int(suffix)
    return build_id, 1


def new_build_id(now: datetime, scm_head: str | None, config_hash: str, builds_dir: Path) -> str:
    """A buildId above every existing one with the same base (``-2``, ``-3``…; §15 B6)."""
    base = build_id_base(now, scm_head, config_hash)
    taken = [0]
    for root in (builds_dir, builds_dir / "attempts"):
        if root.is_dir():
            for p in root.iterdir():
                name = p.name
                if name == base:
                    taken.append(1)
                elif name.startswith(base + "-") and name[len(base) + 1 :].isdigit():
                    taken.append(int(name[len(base) + 1 :]))
    n = max(taken) + 1
    cand = base if n == 1 else f"{base}-{n}"
    if not BUILD_ID_RE.match(cand):
        raise ValueError(f"invalid buildId {cand!r}")
    return cand


@dataclass(frozen=True, slots=True)
class RepoLayout:
    """Every path of one repo's cache directory (§1 tree)."""

    repo_root: Path
    cache_root: Path
    repo_id: str

    @classmethod
    def for_repo(cls, repo_root: Path, cache_root: Path) -> RepoLayout:
        return cls(repo_root, cache_root, repo_id(repo_root))

    @property
    def repo_dir(self) -> Path:
        return self.cache_root / "repos" / self.repo_id

    @property
    def builds_dir(self) -> Path:
        return self.repo_dir / "builds"

    @property
    def current_json(self) -> Path:
        return self.builds_dir / "current.json"

    @property
    def attempts_dir(self) -> Path:
        return self.builds_dir / "attempts"

    @property
    def lock_path(self) -> Path:
        return self.repo_dir / "locks" / "index.lock"

    def build_dir(self, build_id: str) -> Path:
        return self.builds_dir / build_id

    def incremental_dir(self, mode: str) -> Path:
        return self.repo_dir / "incremental" / mode

    @property
    def models_dir(self) -> Path:
        return self.cache_root / "models"


def index_dir(build_root: Path, mode: str) -> Path:
    """``<buildRoot>/index-<mode>``."""
    return build_root / f"index-{mode}"


def sqlite_dir(build_root: Path) -> Path:
    """``<buildRoot>/index-sqlite``."""
    return build_root / "index-sqlite"
