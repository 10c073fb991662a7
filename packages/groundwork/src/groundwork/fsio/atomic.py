"""Crash-safe file replacement: a reader sees the old bytes or the new, never a mix.

The recipe is the classic one: write a temp file in the *same* directory (so the
rename cannot cross filesystems), fsync it, ``os.replace`` it over the target,
then fsync the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_MARKER",
    "atomic_write",
    "atomic_writer",
    "fsync_dir",
    "fsync_tree",
    "remove_temp_files",
]

#: Every temp file this module creates contains this marker, so recovery code can
#: recognise (and remove) leftovers of a writer killed mid-write.
TEMP_MARKER = ".gwtmp-"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory entry table, making earlier renames/creates durable."""
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike[str]) -> None:
    """fsync every regular file and directory under ``root`` (deepest first).

    Call it before publishing a freshly built directory with ``rename_noreplace``:
    the rename is only as durable as the contents it exposes.
    """
    for dirpath, _dirnames, filenames in os.walk(os.fspath(root), topdown=False):
        for name in filenames:
            full = Path(dirpath, name)
            if full.is_symlink() or not full.is_file():
                continue
            fd = os.open(full, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


def _temp_path(target: Path) -> Path:
    return target.with_name(f"{target.name}{TEMP_MARKER}{secrets.token_hex(6)}")


def _target_mode(target: Path, mode: int | None) -> int | None:
    """The mode to give the new file: explicit, else the existing file's, else None."""
    if mode is not None:
        return mode
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: int | None = None) -> Iterator[BinaryIO]:
    """Stream into a temp file that replaces ``path`` only when the block exits cleanly.

    On an exception the temp file is removed and ``path`` is untouched. ``mode=None``
    keeps the existing file's permission bits (new files get the umask default).
    """
    target = Path(path)
    final_mode = _target_mode(target, mode)
    tmp = _temp_path(target)
    # create with the final mode (a secret never sits in a wider-mode file), then
    # fchmod, because the umask may have narrowed it
    create_mode = 0o666 if final_mode is None else final_mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, create_mode)
    committed = False
    try:
        with os.fdopen(fd, "wb") as fh:
            if final_mode is not None:
                os.fchmod(fh.fileno(), final_mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
        committed = True
        fsync_dir(target.parent)
    finally:
        if not committed:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see module docstring)."""
    with atomic_writer(path, mode) as fh:
        fh.write(data)


def remove_temp_files(directory: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Delete temp files left in ``directory`` by writers killed mid-write.

    Only call this when no writer can be active (e.g. while holding the
    directory's ``FileLock``): a live writer's temp file would be removed too and
    its commit would fail. ``name`` limits the sweep to one target's temps.
    Returns the removed paths.
    """
    prefix = f"{name}{TEMP_MARKER}" if name is not None else None
    removed: list[Path] = []
    for entry in os.scandir(directory):
        if TEMP_MARKER not in entry.name:
            continue
        if prefix is not None and not entry.name.startswith(prefix):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return sorted(removed)
