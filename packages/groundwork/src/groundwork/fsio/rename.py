"""Publish a file or directory under a new name only if that name is free.

``os.rename`` silently replaces an existing file (and an empty directory), which
would let two publishers of the same build clobber each other. The kernel can
refuse atomically: ``renameat2(RENAME_NOREPLACE)`` on Linux, ``renamex_np
(RENAME_EXCL)`` on macOS. Elsewhere (or on filesystems that reject the flag) a
file is published with ``link`` + ``unlink`` (``link`` fails atomically on an
existing name) and a directory with check-then-rename, which has a small race
window that the callers' lock closes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["rename_noreplace"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1  # linux/fs.h
_RENAME_EXCL = 0x4  # macOS sys/stdio.h

_Native = Callable[[bytes, bytes], int]


def _load_native() -> _Native | None:
    """The platform's no-replace rename as ``f(src, dst) -> 0 | -1``, if libc has one."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - every POSIX libc loads
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        fn = libc.renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int

        def linux(src: bytes, dst: bytes) -> int:
            return int(fn(_AT_FDCWD, src, _AT_FDCWD, dst, _RENAME_NOREPLACE))

        return linux
    if sys.platform == "darwin" and hasattr(libc, "renamex_np"):  # pragma: no cover - macOS
        fnx = libc.renamex_np
        fnx.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        fnx.restype = ctypes.c_int

        def darwin(src: bytes, dst: bytes) -> int:
            return int(fnx(src, dst, _RENAME_EXCL))

        return darwin
    return None  # pragma: no cover - platforms without either call


_native: _Native | None = _load_native()

# errnos meaning "this kernel/filesystem cannot do it", not "the rename failed"
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


def _fallback(src: str, dst: str) -> None:
    if Path(src).is_dir() and not Path(src).is_symlink():
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
        os.rename(src, dst)
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Rename ``src`` to ``dst``; raise ``FileExistsError`` if ``dst`` exists.

    Works for files and directories. The caller should ``fsync_tree`` a directory
    before publishing it and ``fsync_dir`` the parent afterwards if the new name
    must survive a crash.
    """
    src_s, dst_s = os.fspath(src), os.fspath(dst)
    native = _native
    if native is not None:
        if native(os.fsencode(src_s), os.fsencode(dst_s)) == 0:
            return
        err = ctypes.get_errno()
        if err not in _UNSUPPORTED:
            if err == errno.EEXIST:
                raise FileExistsError(err, os.strerror(err), dst_s)
            raise OSError(err, os.strerror(err), src_s, None, dst_s)
    _fallback(src_s, dst_s)
