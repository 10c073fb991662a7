"""Path containment: join and resolve relative paths without leaving a root.

Stored paths (meld node paths, pairofcleats artifact paths) are relative, POSIX,
NFC and free of empty, ``.`` and ``..`` segments. ``safe_join`` turns such a path
back into a real location and refuses anything that would escape the root,
including through a symlink. Backslashes and ``C:`` are ordinary name characters
on POSIX, so they are kept as they are.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from groundwork.errors import PathEscape

__all__ = ["PathEscape", "normalize_relpath", "resolve_within", "safe_join"]

StrPath = str | os.PathLike[str]


def _segments(root: str, rel: str) -> list[str]:
    """Split ``rel`` on ``/``, dropping ``.`` and empty segments; raise on escapes."""
    if "\x00" in rel:
        raise PathEscape(root, rel, "nul")
    if rel.startswith("/"):
        raise PathEscape(root, rel, "absolute")
    parts = [part for part in rel.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathEscape(root, rel, "dotdot")
    return parts


def _is_within(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def safe_join(root: StrPath, rel: StrPath) -> Path:
    """``root / rel``, refusing absolute, ``..``, NUL and symlink escapes.

    The result is the lexical join (the on-disk names the caller asked for);
    it is returned only after ``realpath`` of it is checked to lie inside
    ``realpath(root)``, so a symlink pointing out of the tree raises
    ``PathEscape(reason="symlink")``. Paths that do not exist yet are allowed,
    which lets callers join a file they are about to create.
    """
    root_s = os.fspath(root)
    rel_s = os.fspath(rel)
    parts = _segments(root_s, rel_s)
    joined = Path(root_s, *parts)
    real_root = os.path.realpath(root_s)
    if not _is_within(os.path.realpath(joined), real_root):
        raise PathEscape(root_s, rel_s, "symlink")
    return joined


def resolve_within(root: StrPath, path: StrPath, *, cwd: StrPath | None = None) -> tuple[Path, str]:
    """Resolve user input to ``(real_path, rel_posix)`` inside ``root``.

    ``path`` may be absolute or relative to ``cwd`` (default: the process's
    working directory), as a user typing a path expects. Both sides go through
    ``realpath``; outside the real root raises ``PathEscape(reason="outside")``.
    ``rel_posix`` is NFC and ``"."`` for the root itself, ready to be stored.
    """
    root_s = os.fspath(root)
    path_s = os.fspath(path)
    if "\x00" in path_s:
        raise PathEscape(root_s, path_s, "nul")
    base = os.fspath(cwd) if cwd is not None else os.getcwd()
    real_root = os.path.realpath(root_s)
    real = os.path.realpath(os.path.join(base, path_s))
    if not _is_within(real, real_root):
        raise PathEscape(root_s, path_s, "outside")
    rel = os.path.relpath(real, real_root)
    rel_posix = unicodedata.normalize("NFC", rel.replace(os.sep, "/"))
    return Path(real), rel_posix


def normalize_relpath(rel: StrPath) -> str:
    """The stored form of a relative path: NFC, ``/``-separated, no ``.``/empty segment.

    ``..``, an absolute path or NUL raise ``PathEscape`` (root ``"."``) instead of
    being collapsed, because collapsing ``a/../b`` lexically is wrong when ``a``
    is a symlink. A path with no segments left is the root, ``"."``.
    """
    rel_s = unicodedata.normalize("NFC", os.fspath(rel))
    parts = _segments(".", rel_s)
    return "/".join(parts) if parts else "."
