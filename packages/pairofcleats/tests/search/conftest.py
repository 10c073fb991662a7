"""A fixture index built once per session by the real build pipeline (stub embeddings)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pairofcleats import config, paths
from pairofcleats.build.pipeline import BuildRequest, promote, run_build
from poc_fixtures.repo import make_fixture_repo


@dataclass(frozen=True)
class BuiltIndex:
    repo: Path
    cache: Path
    env: dict[str, str]

    def copy(self, dest: Path) -> BuiltIndex:
        """An independent copy (repo + cache) for tests that modify state."""
        repo = dest / "repo"
        cache = dest / "cache"
        shutil.copytree(self.repo, repo, symlinks=True)
        env = {"PAIROFCLEATS_CACHE_ROOT": str(cache)}
        build(repo, env)
        return BuiltIndex(repo.resolve(), cache, env)


def build(repo: Path, env: dict[str, str], *, embeddings: str | None = "stub") -> None:
    cfg = config.load(repo, env)
    layout = paths.RepoLayout.for_repo(repo.resolve(), paths.default_cache_root(None, env))
    req = BuildRequest(
        layout=layout,
        cfg=cfg,
        modes=["code", "prose", "extracted-prose"],
        env=env,
        embeddings=embeddings,
    )
    promote(req, run_build(req))


@pytest.fixture(scope="session")
def search_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    root = tmp_path_factory.mktemp("search-index")
    repo = make_fixture_repo(root / "repo")
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    build(repo, env)
    return BuiltIndex(repo.resolve(), root / "cache", env)
