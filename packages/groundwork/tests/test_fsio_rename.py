"""rename_noreplace on files and directories, native and fallback paths."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from groundwork.fsio import rename as rename_mod
from groundwork.fsio import rename_noreplace


@pytest.fixture(params=["native", "fallback"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fallback":
        monkeypatch.setattr(rename_mod, "_native", None)
    elif rename_mod._native is None:  # pragma: no cover - non-Linux/macOS hosts
        pytest.skip("no native no-replace rename on this platform")
    return str(request.param)


def test_file_moves_when_free(tmp_path: Path, mode: str) -> None:
    (tmp_path / "a").write_bytes(b"a")
    rename_noreplace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"a"
    assert not (tmp_path / "a").exists()


def test_file_refuses_existing(tmp_path: Path, mode: str) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == b"a"
    assert (tmp_path / "b").read_bytes() == b"b"


def test_directory_publish(tmp_path: Path, mode: str) -> None:
    staging = tmp_path / "build.staging"
    (staging / "x").mkdir(parents=True)
    (staging / "x" / "f").write_bytes(b"f")
    rename_noreplace(staging, tmp_path / "build")
    assert (tmp_path / "build" / "x" / "f").read_bytes() == b"f"
    # an existing (even empty) directory is never replaced
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileExistsError):
        rename_noreplace(other, tmp_path / "empty")
    assert other.is_dir()


def test_missing_source(tmp_path: Path, mode: str) -> None:
    with pytest.raises(FileNotFoundError):
        rename_noreplace(tmp_path / "nope", tmp_path / "dst")


def test_symlink_moves_itself(tmp_path: Path, mode: str) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "ln").symlink_to(tmp_path / "target")
    rename_noreplace(tmp_path / "ln", tmp_path / "ln2")
    assert (tmp_path / "ln2").is_symlink()
    assert (tmp_path / "target").is_dir()


def test_fallback_when_kernel_rejects_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EINVAL from the native call (e.g. a filesystem without the flag) falls back."""
    monkeypatch.setattr(rename_mod, "_native", lambda src, dst: -1)
    monkeypatch.setattr(rename_mod.ctypes, "get_errno", lambda: errno.EINVAL)
    (tmp_path / "a").write_bytes(b"a")
    rename_noreplace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"a"


def test_fallback_without_hardlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Filesystems that refuse link() still get a (check-then-rename) publish."""
    monkeypatch.setattr(rename_mod, "_native", None)

    def no_link(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(rename_mod.os, "link", no_link)
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "c").write_bytes(b"c")
    rename_noreplace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"a"
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "b", tmp_path / "c")


def test_native_other_error_is_raised(tmp_path: Path) -> None:
    if rename_mod._native is None:  # pragma: no cover
        pytest.skip("no native call")
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError) as info:
        rename_noreplace(tmp_path / "d", tmp_path / "f" / "inside")
    assert info.value.errno == errno.ENOTDIR
