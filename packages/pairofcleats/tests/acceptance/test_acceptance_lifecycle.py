"""Index life cycle (§16 items 4, 5, 23, 24, 27; §15 B6): crash, cancel, lock, incremental,
watch, repair. Real CLI subprocesses held at a stage by the test-only hook.

These overlap tests/build/, which pytest's default ``norecursedirs`` (it lists ``build``)
leaves out of a plain ``pytest``/``make test`` run, so these are what runs there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from groundwork import jsonio
from groundwork.fsio import FileLock
from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.build.api import build_index, watch_index
from pairofcleats.errors import NoIndex
from pairofcleats.search.searcher import Searcher, SearchRequest

from .conftest import CLI, build_root, copy_built, layout_for, run_cli


def _start_held(repo: Path, env: dict[str, str], stage: str) -> tuple[subprocess.Popen[str], Path]:
    """A CLI build parked at ``stage`` by PAIROFCLEATS_TEST_HOLD_STAGE, and its build dir."""
    layout = layout_for(repo, env)
    before = set(layout.builds_dir.iterdir()) if layout.builds_dir.exists() else set()
    proc = subprocess.Popen(
        [*CLI, "index", "build", "--repo", str(repo), "--stub-embeddings", "--json",
         "--progress", "off"],
        env={"PATH": os.environ.get("PATH", os.defpath), **env,
             "PAIROFCLEATS_TEST_HOLD_STAGE": stage},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if layout.builds_dir.exists():
            for p in set(layout.builds_dir.iterdir()) - before:
                if (p / f".hold-{stage}").exists():
                    return proc, p
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the build never reached {stage}")


# -- item 4 -------------------------------------------------------------------------------
def test_item4_kill_9_in_stage2_then_the_next_build_takes_over(
    built_fixture: Any, tmp_path: Path
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    before = layout.current_json.read_bytes()
    (repo / "src" / "late.py").write_text("def late_addition():\n    return 3\n")
    proc, build_dir = _start_held(repo, env, "stage2")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert layout.current_json.read_bytes() == before
    assert jsonio.read_json(build_dir / "build_state.json")["status"] == "running"
    assert layout.lock_path.exists()
    res = run_cli(
        ["index", "build", "--repo", str(repo), "--stub-embeddings", "--json", "--progress", "off"],
        env,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["promoted"] is True
    assert "LOCK_TAKEOVER" in {w["code"] for w in out["warnings"]}
    names = {c["name"] for c in IndexReader(build_root(repo, env) / "index-code").chunk_meta()}
    assert "late_addition" in names


def test_item4_sigint_exits_130_and_removes_the_build_dir(
    built_fixture: Any, tmp_path: Path
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    before = layout.current_json.read_bytes()
    (repo / "src" / "late.py").write_text("def late_addition():\n    return 3\n")
    proc, build_dir = _start_held(repo, env, "stage2")
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert json.loads(out)["code"] == "CANCELLED"
    assert not build_dir.exists()
    assert not layout.lock_path.exists()
    assert layout.current_json.read_bytes() == before


# -- item 5 -------------------------------------------------------------------------------
def test_item5_build_while_the_lock_is_held_exits_1_index_locked(
    built_fixture: Any, tmp_path: Path
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    (repo / "src" / "late.py").write_text("def late_addition():\n    return 3\n")
    with FileLock(layout.lock_path, {"command": "acceptance"}, heartbeat_s=None):
        res = run_cli(["index", "build", "--repo", str(repo), "--json", "--progress", "off"], env)
    assert res.returncode == 1
    assert json.loads(res.stdout)["code"] == "INDEX_LOCKED"


# -- item 23 ------------------------------------------------------------------------------
def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))


def test_item23_incremental_touch_corrupt_delete(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    _bump(repo / "src" / "util.js", "export function sumEvery(xs) { return xs.length; }\n")
    one = build_index(repo, stub_embeddings=True, env=env)
    assert one["incremental"]["processed"] == 1
    names = {c["name"] for c in IndexReader(build_root(repo, env) / "index-code").chunk_meta()}
    assert "sumEvery" in names and "clamp" not in names

    man = jsonio.read_json(layout.incremental_dir("code") / "manifest.json")
    bundle = layout.incremental_dir("code") / man["files"]["src/greet.py"]["bundle"]
    raw = bytearray(bundle.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    bundle.write_bytes(bytes(raw))
    (repo / "src" / "lib.rs").unlink()
    again = build_index(repo, stub_embeddings=True, env=env)
    assert again["incremental"]["removed"] >= 1
    refused = [w for w in again["warnings"] if "src/greet.py" in w.get("message", "")]
    assert refused, again["warnings"]
    chunks = IndexReader(build_root(repo, env) / "index-code").chunk_meta()
    assert not [c for c in chunks if c["file"] == "src/lib.rs"]
    assert {"greet", "add_numbers"} <= {c["name"] for c in chunks}


# -- item 24 ------------------------------------------------------------------------------
def _watch_once(repo: Path, env: dict[str, str], edit: Path, text: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    ready = threading.Event()

    def on_result(res: dict[str, Any]) -> None:
        results.append(res)
        ready.set()

    worker = threading.Thread(
        target=lambda: watch_index(
            repo, poll_ms=100, debounce_ms=100, on_result=on_result, max_batches=1, env=env,
            stub_embeddings=True,
        ),
        daemon=True,
    )  # fmt: skip
    worker.start()
    assert ready.wait(90), "the watcher never reported its first build"
    time.sleep(0.4)
    edit.write_text(text)
    worker.join(120)
    assert not worker.is_alive()
    return results


def test_item24_watch_edit_is_promoted_and_found(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    results = _watch_once(
        repo, env, repo / "src" / "watched.py", "def zebra_watch_marker():\n    return 1\n"
    )
    assert results[-1]["ok"] and results[-1]["promoted"]
    res = Searcher(repo, env=env).search(SearchRequest("zebra_watch_marker", mode="code"))
    assert [h["name"] for h in res["code"]][:1] == ["zebra_watch_marker"]


def test_item24_failed_attempt_keeps_the_previous_build(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    current = layout_for(repo, env).current_json
    before = current.read_bytes()
    failing = {**env, "PAIROFCLEATS_TEST_FAIL_VALIDATION": "1"}
    results = _watch_once(repo, failing, repo / "src" / "greet.py", "def changed():\n    pass\n")
    assert results[-1]["ok"] is False and results[-1]["code"] == "VALIDATION_FAILED"
    assert current.read_bytes() == before


# -- item 27 ------------------------------------------------------------------------------
def test_item27_invalid_current_json_end_to_end(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    layout.current_json.write_text("{ torn")
    status = run_cli(["index", "status", "--repo", str(repo), "--json"], env)
    assert "CURRENT_INVALID" in status.stdout
    search = run_cli(["search", "greet", "--repo", str(repo), "--json"], env)
    assert search.returncode == 1 and json.loads(search.stdout)["code"] == "NO_INDEX"
    assert "CURRENT_INVALID" in search.stdout
    try:
        Searcher(repo, env=env).search(SearchRequest("greet"))
    except NoIndex:
        pass
    else:
        raise AssertionError("an invalid current.json must read as no index")
    res = build_index(repo, stub_embeddings=True, env=env)
    assert res["promoted"] and read_current(layout.current_json).valid


# -- B6 -----------------------------------------------------------------------------------
def test_b6_build_ids_are_distinct_within_one_second(fixture_repo: Path, tmp_path: Path) -> None:
    from poc_fixtures.repo import make_env

    env = make_env(tmp_path)
    ids = [
        build_index(fixture_repo, env=env, stage=1, incremental=False, embeddings="off")["buildId"]
        for _ in range(3)
    ]
    assert len(set(ids)) == 3
