"""``index watch`` with a real watchfiles watcher, polling (§6 Watch; §16 item 24)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.build.api import build_index, watch_index
from pairofcleats.paths import RepoLayout


def _layout(repo: Path, env: dict[str, str]) -> RepoLayout:
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def _watch(repo: Path, env: dict[str, str], edit: Path, text: str) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    first = threading.Event()
    out: dict[str, Any] = {}

    def on_result(res: dict[str, Any]) -> None:
        results.append(res)
        first.set()

    def run() -> None:
        out["summary"] = watch_index(
            repo,
            poll_ms=100,
            debounce_ms=100,
            on_result=on_result,
            max_batches=1,
            env=env,
            stub_embeddings=True,
        )

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert first.wait(60)
    time.sleep(0.5)
    edit.write_text(text)
    t.join(90)
    assert not t.is_alive()
    out["results"] = results
    return out


def test_edit_yields_a_promoted_build_with_the_new_text(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    out = _watch(
        fixture_repo,
        build_env,
        fixture_repo / "src" / "watched.py",
        "def watched_function_name():\n    return 42\n",
    )
    results = out["results"]
    assert len(results) == 2
    assert results[0]["ok"] and results[1]["ok"] and results[1]["promoted"]
    layout = _layout(fixture_repo, build_env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None and ptr.buildId == results[1]["buildId"]
    chunks = IndexReader(layout.repo_dir / ptr.buildRoot / "index-code").chunk_meta()
    assert "watched_function_name" in {c["name"] for c in chunks}
    assert (layout.repo_dir / ptr.buildRoot).parent == layout.builds_dir
    assert not list(layout.attempts_dir.iterdir()), list(layout.attempts_dir.rglob("*"))


def test_failed_attempt_keeps_previous_build(fixture_repo: Path, build_env: dict[str, str]) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    before = layout.current_json.read_bytes()
    env = {**build_env, "PAIROFCLEATS_TEST_FAIL_VALIDATION": "1"}
    out = _watch(fixture_repo, env, fixture_repo / "src" / "greet.py", "def changed():\n    pass\n")
    results = out["results"]
    assert results[0].get("unchanged") and results[0]["buildId"] == first["buildId"]
    assert results[1]["ok"] is False and results[1]["code"] == "VALIDATION_FAILED"
    assert layout.current_json.read_bytes() == before
    assert out["summary"]["failures"] == 1
    attempts = list(layout.attempts_dir.iterdir())
    assert len(attempts) == 1 and attempts[0].name.endswith("-002")


def test_an_edit_made_during_the_initial_build_is_built_next(
    fixture_repo: Path, build_env: dict[str, str], monkeypatch: Any
) -> None:
    """The watcher runs before the initial build starts: a file saved while that build is
    running (after it read the tree) gets a build of its own. It used to be lost until some
    later change, leaving the index stale."""
    import pairofcleats.build.pipeline as pipeline

    real_run_build = pipeline.run_build
    edit = fixture_repo / "src" / "during_first_build.py"
    calls: list[int] = []

    def run_build_then_edit(req: Any) -> dict[str, Any]:
        res = real_run_build(req)
        calls.append(1)
        if len(calls) == 1:  # the initial build has read the tree: save a file now
            edit.write_text("def saved_during_first_build():\n    return 7\n")
        return res

    monkeypatch.setattr(pipeline, "run_build", run_build_then_edit)
    stopped = threading.Event()
    results: list[dict[str, Any]] = []
    out: dict[str, Any] = {}

    def run() -> None:
        out["summary"] = watch_index(
            fixture_repo,
            poll_ms=100,
            debounce_ms=100,
            on_result=results.append,
            stop=stopped.is_set,
            max_batches=1,
            env=build_env,
            stub_embeddings=True,
        )

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    stopped.set()  # the old behaviour waited for a change that had already happened
    t.join(10)
    assert not t.is_alive()
    assert len(results) == 2, results
    assert results[1]["ok"] and results[1]["promoted"]
    layout = _layout(fixture_repo, build_env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None and ptr.buildId == results[1]["buildId"]
    chunks = IndexReader(layout.repo_dir / ptr.buildRoot / "index-code").chunk_meta()
    assert "saved_during_first_build" in {c["name"] for c in chunks}


def test_watch_keeps_the_embeddings_it_is_given(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    # a watch that ignored --embeddings resolved the config's (auto: MiniLM) and rebuilt,
    # embedding every chunk, an index built with --embeddings off
    built = build_index(fixture_repo, embeddings="off", dims=8, env=build_env)
    results: list[dict[str, Any]] = []
    watch_index(
        fixture_repo,
        poll_ms=100,
        debounce_ms=100,
        on_result=results.append,
        stop=lambda: True,
        env=build_env,
        embeddings="off",
        dims=8,
    )
    assert results and results[0]["ok"]
    assert results[0].get("unchanged") is True
    assert results[0]["buildId"] == built["buildId"]
