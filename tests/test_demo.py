"""The groundwork demo runs a real supervised job and reports it in every mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "groundwork_demo.py"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_demo_plain_reports_tasks_and_verifies_manifest(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    out = _run("--progress", "plain", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "manifest of 2 files verified" in out.stdout
    assert "Hashing (blake3 + xxh3)" in out.stderr
    assert "< Hashing (blake3 + xxh3) ok" in out.stderr
    assert "2 files, 0.0 MB hashed" in out.stderr


def test_demo_jsonl_is_pure_protocol_with_rising_seq(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    out = _run("--progress", "jsonl", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stderr.splitlines() if line]
    assert events, out.stderr
    assert all(e["proto"] == "poc.progress@2" for e in events)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "job:start" and kinds[-1] == "job:end"
    assert {"job:spawn", "task:start", "task:progress", "task:end", "log"} <= set(kinds)
    seqs = [e["seq"] for e in events if e.get("jobId") == "groundwork-demo"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert events[-1]["status"] == "ok" and events[-1]["exitCode"] == 0


def test_spiderweb_demo_restores_the_session_after_a_restart() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "spiderweb_demo.py")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plan (deterministic): 1." in out.stdout
    assert "server stopped by SIGTERM, exit 0" in out.stdout
    assert "re-attached: restored=True key=demo-session" in out.stdout
    assert "history after restart: 4 messages" in out.stdout
