"""atomic_write / atomic_writer / fsync helpers on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from groundwork.fsio import TEMP_MARKER, atomic_write, atomic_writer, fsync_dir, fsync_tree


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_write_explicit_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    atomic_write(target, b"k", mode=0o600)
    assert _mode(target) == 0o600


def test_atomic_write_none_keeps_existing_mode(tmp_path: Path) -> None:
    target = tmp_path / "keep"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write(target, b"new")
    assert _mode(target) == 0o640
    assert target.read_bytes() == b"new"


def test_atomic_write_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write("rel.txt", b"x")
    assert (tmp_path / "rel.txt").read_bytes() == b"x"


def test_atomic_writer_streams_and_commits(tmp_path: Path) -> None:
    target = tmp_path / "s.txt"
    with atomic_writer(target) as fh:
        fh.write(b"part1-")
        assert not target.exists()
        fh.write(b"part2")
    assert target.read_bytes() == b"part1-part2"


def test_atomic_writer_error_leaves_old_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "s.txt"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if TEMP_MARKER in p.name]


def test_fsync_dir_and_tree(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "f.txt").write_bytes(b"f")
    (tmp_path / "d" / "e" / "g.txt").write_bytes(b"g")
    os.symlink(tmp_path / "d" / "f.txt", tmp_path / "d" / "link")
    fsync_dir(tmp_path)
    fsync_tree(tmp_path / "d")
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")
