"""Helpers for the acceptance audit (§15, §16): CLI subprocesses, cache layouts, private copies.

The session-wide ``built_fixture`` (tests/conftest.py) is read-only; tests that corrupt or
rebuild an index take a private copy with ``copy_built``, so they never disturb each other.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats.artifacts import read_current
from pairofcleats.paths import RepoLayout

CLI = [sys.executable, "-m", "pairofcleats.cli"]
MODES = ("code", "prose", "extracted-prose")


def run_cli(
    args: list[str], env: dict[str, str], *, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``pairofcleats <args>`` as a real subprocess with ``env`` over a minimal base."""
    full = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", **env}
    return subprocess.run(
        [*CLI, *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


InProcess = Callable[[list[str], dict[str, str]], tuple[int, str, str]]


@pytest.fixture
def cli_main(monkeypatch: pytest.MonkeyPatch) -> InProcess:
    """``pairofcleats.cli.main(args)`` in this process: (exit code, stdout, stderr).

    The same entry point as the console script, minus interpreter start-up (about a second
    per call), for tests that make many calls; ``env`` is applied to ``os.environ``.
    """
    from pairofcleats.cli import main

    def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        out, err = io.StringIO(), io.StringIO()
        code: Any = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code
        return int(code or 0), out.getvalue(), err.getvalue()

    return run


def layout_for(repo: Path, env: dict[str, str]) -> RepoLayout:
    """The repo's cache layout under ``env``'s ``PAIROFCLEATS_CACHE_ROOT``."""
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def build_root(repo: Path, env: dict[str, str]) -> Path:
    """The promoted build directory named by ``current.json``."""
    layout = layout_for(repo, env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None, "no promoted build"
    return layout.repo_dir / ptr.buildRoot


def copy_built(built: Any, dest: Path) -> tuple[Path, dict[str, str]]:
    """A private copy (repo + cache) of the session's built fixture, safe to corrupt.

    The repoId hashes the repo's realpath, so the copied cache dir is renamed to the new one.
    """
    base = dest / "copy"
    shutil.copytree(built.repo.parent, base, symlinks=True)
    env = dict(built.env)
    env["PAIROFCLEATS_CACHE_ROOT"] = str(base / "cache")
    env["HOME"] = str(base / "home")
    old = layout_for(built.repo, built.env).repo_dir
    new = layout_for(base / "repo", env).repo_dir
    (base / "cache" / "cache-v1" / "repos" / old.name).rename(new)
    return (base / "repo").resolve(), env


def rewrite_piece(index_dir: Path, name: str, data: bytes) -> None:
    """Replace piece ``name`` with ``data`` and re-record its bytes and checksum.

    This gets past the checksum check so the validator's deeper (semantic) checks are what
    the test exercises.
    """
    from groundwork.hashing import hash_bytes

    mpath = index_dir / "pieces" / "manifest.json"
    man = jsonio.read_json(mpath)
    entry = next(p for p in man["pieces"] if p["name"] == name)
    (index_dir / entry["path"]).write_bytes(data)
    entry["bytes"] = len(data)
    entry["checksum"] = "xxh64:" + hash_bytes(data, "xxh64").hex
    mpath.write_bytes(jsonio.dumps(man))
