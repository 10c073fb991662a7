"""A usage error under ``--json`` still prints the §10 error object on stdout (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "pairofcleats.cli"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["search", "greet", "--json", "--no-such-flag"], "--no-such-flag"),
        (["search", "greet", "--json", "-n", "abc"], "-n"),
        (["index", "status", "--json", "--no-such-flag"], "--no-such-flag"),
    ],
)
def test_usage_error_under_json_is_one_error_object(
    tmp_path: Path, args: list[str], names: str
) -> None:
    env = {**os.environ, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [*CLI, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    body = json.loads(lines[0])
    assert body["ok"] is False and body["code"] == "INVALID_REQUEST"
    assert names in body["message"] and "--help" in body["hint"]
    assert not (tmp_path / "cache").exists()


def test_json_after_double_dash_is_the_query_not_the_flag(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CLI, "search", "--no-such-flag", "--", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
