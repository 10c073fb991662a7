"""Crash, cancel and lock takeover with real CLI subprocesses (§1.1; §16 items 4, 5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from groundwork import jsonio
from pairofcleats.build.api import build_index
from pairofcleats.paths import RepoLayout

CLI = [sys.executable, "-c", "from pairofcleats.cli_index import index_app; index_app()"]


def _layout(repo: Path, env: dict[str, str]) -> RepoLayout:
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def _start_held(
    repo: Path, env: dict[str, str], stage: str
) -> tuple[subprocess.Popen[bytes], Path]:
    layout = _layout(repo, env)
    before = set(layout.builds_dir.iterdir()) if layout.builds_dir.exists() else set()
    proc = subprocess.Popen(
        [*CLI, "build", "--repo", str(repo), "--stub-embeddings", "--json", "--progress", "off"],
        env={**env, "PAIROFCLEATS_TEST_HOLD_STAGE": stage},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if layout.builds_dir.exists():
            for p in set(layout.builds_dir.iterdir()) - before:
                if (p / f".hold-{stage}").exists():
                    return proc, p
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("build never reached the hold point")


def test_kill_9_during_stage2_keeps_current_and_next_build_takes_over(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    before = layout.current_json.read_bytes()
    (fixture_repo / "src" / "extra.py").write_text("def extra_thing():\n    return 2\n")
    proc, build_dir = _start_held(fixture_repo, build_env, "stage2")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert layout.current_json.read_bytes() == before
    assert jsonio.read_json(build_dir / "build_state.json")["status"] == "running"
    assert layout.lock_path.exists()  # the dead holder's lock is left behind
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["promoted"] and res["buildId"] != first["buildId"]
    assert any(w["code"] == "LOCK_TAKEOVER" for w in res["warnings"])
    assert not build_dir.exists()  # retention removed the dead build dir


def test_sigint_exits_130_and_removes_the_build_dir(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    proc, build_dir = _start_held(fixture_repo, build_env, "stage2")
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads(out)["code"] == "CANCELLED"
    assert not build_dir.exists()
    layout = _layout(fixture_repo, build_env)
    assert not layout.current_json.exists()
    assert not layout.lock_path.exists()


def test_sigterm_also_cancels(fixture_repo: Path, build_env: dict[str, str]) -> None:
    proc, build_dir = _start_held(fixture_repo, build_env, "stage1")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert not build_dir.exists()


def test_second_writer_gets_index_locked(fixture_repo: Path, build_env: dict[str, str]) -> None:
    proc, _ = _start_held(fixture_repo, build_env, "stage1")
    try:
        other = subprocess.run(
            [*CLI, "build", "--repo", str(fixture_repo), "--json", "--progress", "off"],
            env=build_env,
            capture_output=True,
            timeout=60,
        )
        assert other.returncode == 1
        assert json.loads(other.stdout)["code"] == "INDEX_LOCKED"
    finally:
        proc.kill()
        proc.wait()
