"""A real workspace tree with hidden dirs, a binary, a big file and symlink escapes."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / ".git").mkdir()
    (root / ".spiderweb-ltm").mkdir()
    (root / "src" / "pkg" / "core.py").write_text("def main():\n    return 'NEEDLE here'\n")
    (root / "src" / "pkg" / "util.py").write_text("x = 1\n")
    (root / "docs" / "guide.md").write_text("# Guide\nthe needle is documented\n")
    (root / "README.md").write_text("hello workspace\n")
    (root / ".git" / "config").write_text("needle in git\n")
    (root / ".spiderweb-ltm" / "x.json").write_text("needle in ltm\n")
    (root / "blob.bin").write_bytes(b"needle\x00binary")
    (root / "big.txt").write_bytes(b"needle\n" * 200_000)
    outside = tmp_path / "secret.txt"
    outside.write_text("needle outside\n")
    (root / "escape.txt").symlink_to(outside)
    (root / "escdir").symlink_to(tmp_path)
    (root / "gitlink").symlink_to(root / ".git")
    return root
