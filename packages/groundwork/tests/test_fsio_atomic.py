"""atomic_write / atomic_writer / fsync helpers on real files."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from groundwork.fsio import (
    TEMP_MARKER,
    atomic_write,
    atomic_writer,
    fsync_dir,
    fsync_tree,
    remove_temp_files,
)


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


def test_atomic_write_mode_wider_than_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "shared", b"x", mode=0o644)
        atomic_write(tmp_path / "fresh", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "shared") == 0o644
    assert _mode(tmp_path / "fresh") == 0o600  # new file without a mode: umask applies


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


HELPERS = Path(__file__).parent / "helpers"
SIZE = 4 * 1024 * 1024


def _check_whole(data: bytes) -> int:
    """The payload number of a whole atomic_write_loop payload; fail on a mix."""
    assert len(data) == SIZE, f"torn file: {len(data)} bytes"
    n = int(data[:12])
    letter = bytes([65 + n % 26])
    assert data[13:] == letter * (SIZE - 13), f"mixed content in payload {n}"
    return n


def test_atomic_write_survives_kill_9(tmp_path: Path) -> None:
    """SIGKILL a writer at random moments: the file is always one whole payload."""
    target = tmp_path / "big.bin"
    target.write_bytes(b"000000000000\n" + b"A" * (SIZE - 13))
    rng = random.Random(1234)
    seen: set[int] = set()
    for attempt in range(15):
        proc = subprocess.Popen(
            [sys.executable, str(HELPERS / "atomic_write_loop.py"), str(target), str(SIZE)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        committed = len(seen)
        deadline = time.monotonic() + rng.uniform(0.0, 0.3)
        # concurrent reader while the writer runs; the first round waits for a commit
        while time.monotonic() < deadline or (attempt == 0 and len(seen) == committed):
            seen.add(_check_whole(target.read_bytes()))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        seen.add(_check_whole(target.read_bytes()))
        remove_temp_files(tmp_path, "big.bin")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]
    assert len(seen) > 1, "the writer never committed a payload"


def test_remove_temp_files(tmp_path: Path) -> None:
    (tmp_path / f"a{TEMP_MARKER}x1").write_bytes(b"")
    (tmp_path / f"b{TEMP_MARKER}x2").write_bytes(b"")
    (tmp_path / f"dir{TEMP_MARKER}x3").mkdir()
    (tmp_path / "a").write_bytes(b"keep")
    assert [p.name for p in remove_temp_files(tmp_path, "a")] == [f"a{TEMP_MARKER}x1"]
    assert [p.name for p in remove_temp_files(tmp_path)] == [f"b{TEMP_MARKER}x2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", f"dir{TEMP_MARKER}x3"]
