"""Shared pairofcleats fixtures: the multi-language fixture repo and a built index.

``tests/fixtures/`` is registered as the importable package ``poc_fixtures`` (a
unique name, since pytest runs with ``--import-mode=importlib`` and other
packages have their own ``fixtures``).
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_FIXTURES = Path(__file__).parent / "fixtures"
if "poc_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "poc_fixtures", _FIXTURES / "__init__.py", submodule_search_locations=[str(_FIXTURES)]
    )
    assert _spec is not None and _spec.loader is not None
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["poc_fixtures"] = _mod
    _spec.loader.exec_module(_mod)


_repo_mod = importlib.import_module("poc_fixtures.repo")
make_fixture_repo = _repo_mod.make_fixture_repo
make_env = _repo_mod.make_env


@dataclass(frozen=True)
class BuiltFixture:
    """A fixture repo with a promoted index (three modes, stub embeddings, SQLite).

    ``env`` points ``PAIROFCLEATS_CACHE_ROOT`` at ``cache_root``'s parent, so pass it
    to every API call (``build_index(repo, env=built.env)``) and to CLI subprocesses.
    """

    repo: Path
    cache_root: Path
    env: dict[str, str]
    result: dict[str, Any]


@pytest.fixture(scope="session")
def _fixture_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fixture_repo(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def fixture_repo(_fixture_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the committed multi-language fixture repo (with its .git)."""
    dst = tmp_path / "repo"
    shutil.copytree(_fixture_template, dst, symlinks=True)
    return dst


@pytest.fixture
def build_env(tmp_path: Path) -> dict[str, str]:
    """An env with a per-test cache root."""
    return make_env(tmp_path)


@pytest.fixture(scope="session")
def built_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltFixture]:
    """The fixture repo built once per session (read-only for tests)."""
    from pairofcleats.build.api import build_index

    base = tmp_path_factory.mktemp("built")
    repo = make_fixture_repo(base / "repo")
    env = make_env(base)
    result = build_index(repo, stub_embeddings=True, env=env, threads=1)
    yield BuiltFixture(repo, base / "cache" / "cache-v1", env, result)
