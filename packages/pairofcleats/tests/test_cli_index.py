"""The ``index`` sub-app as real subprocesses: exit codes, --json, --progress jsonl (§10).

Covers §16 items 19 (stdout is one object, stderr only protocol events), 20 (help
builds nothing, unknown flag exits 2) and 22 (config errors exit 2 naming file and key).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from groundwork.progress import parse_event

CLI = [sys.executable, "-c", "from pairofcleats.cli_index import index_app; index_app()"]


def _run(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_help_builds_nothing(fixture_repo: Path, build_env: dict[str, str]) -> None:
    for args in (["--help"], ["build", "--help"], ["build", "--help", "--stage", "2"]):
        res = _run(args, build_env, cwd=fixture_repo)
        assert res.returncode == 0, res.stderr
        assert "Usage" in res.stdout
    assert not Path(build_env["PAIROFCLEATS_CACHE_ROOT"]).exists()


def test_unknown_flag_exits_2(build_env: dict[str, str]) -> None:
    res = _run(["build", "--no-such-flag"], build_env)
    assert res.returncode == 2
    assert "no-such-flag" in res.stderr


def test_json_and_progress_jsonl(fixture_repo: Path, build_env: dict[str, str]) -> None:
    res = _run(
        [
            "build",
            "--repo",
            str(fixture_repo),
            "--stub-embeddings",
            "--json",
            "--progress",
            "jsonl",
        ],
        build_env,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["ok"] and out["promoted"]
    events = [parse_event(line) for line in res.stderr.splitlines()]
    kinds = [e.event for e in events]
    assert kinds[0] == "job:start" and kinds[-1] == "job:end"
    assert "task:start" in kinds and "task:end" in kinds
    assert events[-1]["status"] == "ok" and events[-1]["exitCode"] == 0
    starts = {(e["stage"], e.fields.get("mode")) for e in events if e.event == "task:start"}
    for stage in ("stage1", "stage2", "stage3"):
        for mode in ("code", "prose", "extracted-prose"):
            assert (stage, mode) in starts
    # the two long waits count: files through the stage-1 workers, chunks embedded
    progress = {e["taskId"]: e for e in events if e.event == "task:progress"}
    files = progress["stage1"]
    assert files["unit"] == "files" and files["current"] == files["total"]
    assert files["total"] >= out["discovery"]["indexed"] > 0
    embedded = progress["stage3:code"]
    assert embedded["unit"] == "chunks"
    assert embedded["current"] == embedded["total"] == out["counts"]["code"]["chunks"]
    assert events[0]["args"][0] == "--repo"  # the command's own words are not repeated


def test_progress_log_lines(fixture_repo: Path, build_env: dict[str, str]) -> None:
    """``--progress log``: one human line per task start/end and throttled counts."""
    res = _run(
        ["build", "--repo", str(fixture_repo), "--stub-embeddings", "--progress", "log"],
        build_env,
    )
    assert res.returncode == 0, res.stderr
    err = res.stderr.splitlines()
    assert err[0].startswith("job index-") and "started: index build --repo " in err[0]
    assert "> stage1 [stage1]" in err
    assert any(line.startswith("  stage1: ") and line.endswith("files (100%)") for line in err)
    assert any(line.startswith("  stage3:code: ") and "chunks (100%)" in line for line in err)
    assert any(line.startswith("< validate ok") for line in err)
    assert err[-1].startswith("job index-") and ", exit 0 in " in err[-1]
    assert res.stdout.startswith("promoted build ")


def test_status_and_validate(fixture_repo: Path, build_env: dict[str, str]) -> None:
    res = _run(["status", "--repo", str(fixture_repo), "--json"], build_env)
    assert res.returncode == 0
    assert json.loads(res.stdout)["current"] is None
    assert (
        _run(["build", "--repo", str(fixture_repo), "--progress", "off"], build_env).returncode == 0
    )
    res = _run(["validate", "--repo", str(fixture_repo), "--json"], build_env)
    assert res.returncode == 0 and json.loads(res.stdout)["ok"]
    st = json.loads(_run(["status", "--repo", str(fixture_repo), "--json"], build_env).stdout)
    assert st["modes"]["code"]["chunks"] > 0
    text = _run(["status", "--repo", str(fixture_repo)], build_env).stdout.splitlines()
    assert (
        text[1]
        == f"current build: {st['current']['buildId']} (promoted {st['current']['promotedAt']})"
    )
    code = next(line for line in text if line.startswith("  code: "))
    emb = st["modes"]["code"]["embeddings"]
    assert f"{st['modes']['code']['chunks']} chunks" in code
    assert f"embeddings {emb['model']} {emb['dims']}-d" in code and "; sqlite " in code
    build_root = Path(st["cacheRoot"]) / "repos" / st["repoId"] / st["current"]["buildRoot"]
    victim = build_root / "index-prose" / "chunk_meta.json"
    victim.write_bytes(victim.read_bytes()[:-3] + b"]]]")
    res = _run(["validate", "--repo", str(fixture_repo)], build_env)
    assert res.returncode == 1
    assert "chunk_meta" in res.stderr
    res = _run(["validate", "--repo", str(fixture_repo), "--json"], build_env)
    rep = json.loads(res.stdout)
    assert res.returncode == 1 and not rep["ok"]
    assert any(i["artifact"] == "chunk_meta" and i["mode"] == "prose" for i in rep["issues"])
    res = _run(["validate", "--repo", str(fixture_repo), "--json", "--threads", "3"], build_env)
    assert res.returncode == 1 and json.loads(res.stdout) == rep
    assert (
        _run(["validate", "--repo", str(fixture_repo), "--threads", "0"], build_env).returncode == 2
    )


def test_config_errors_exit_2_naming_file_and_key(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    (fixture_repo / ".pairofcleats.json").write_text('{"indexing": {"unknownThing": true}}')
    res = _run(["build", "--repo", str(fixture_repo), "--progress", "off"], build_env)
    assert res.returncode == 2
    assert ".pairofcleats.json" in res.stderr and "indexing.unknownThing" in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    (fixture_repo / ".pairofcleats.json").write_text('{"threads": "lots"}')
    res = _run(["build", "--repo", str(fixture_repo), "--json", "--progress", "off"], build_env)
    assert res.returncode == 2
    err = json.loads(res.stdout)
    assert err["ok"] is False and err["code"] == "CONFIG_INVALID"
    assert "threads" in json.dumps(err)


def test_records_mode_exits_2(fixture_repo: Path, build_env: dict[str, str]) -> None:
    res = _run(["build", "--repo", str(fixture_repo), "--mode", "records"], build_env)
    assert res.returncode == 2
    assert "records" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_status_lines_name_the_lock_and_a_failed_last_build() -> None:
    from pairofcleats.cli_index import status_lines

    st = {
        "repo": "/r",
        "repoId": "r-1",
        "current": None,
        "modes": {},
        "lock": {"held": True, "holder": {"pid": 42, "command": "index watch"}, "stale": True},
        "lastBuild": {"buildId": "b2", "status": "failed"},
    }
    assert status_lines(st) == [
        "repo /r (r-1)",
        "current build: none",
        "  build one with: pairofcleats index build",
        "lock: held by pid 42 (index watch) (stale)",
        "last build: b2 failed",
    ]
