"""The groundwork exception tree: one root, so one ``except`` catches them all.

::

    GroundworkError
    ├── JsonError            bad JSON in or out (path, line, col)
    │   └── LineTooLong      a JSONL record over the line cap
    ├── FsError
    │   ├── PathEscape       a relative path that leaves its root
    │   ├── LockHeld         someone else holds a FileLock (holder record)
    │   └── LockLost         our lock was taken over or removed
    ├── ConfigError          all issues of one config load (``issues``)
    ├── ProgressError        a line that is not a ``poc.progress@2`` event
    ├── ProcError
    │   └── Cancelled        a CancelToken fired
    └── LLMError             (``groundwork.llm.errors``: retryable vs final)
"""

from __future__ import annotations

from typing import Any


class GroundworkError(Exception):
    """Root of every error groundwork raises on purpose."""


class JsonError(GroundworkError, ValueError):
    """JSON that cannot be written canonically or read safely."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:"
            if line is not None:
                where += f"{line}:" + (f"{col}:" if col is not None else "")
            where += " "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line
        self.col = col


class LineTooLong(JsonError):
    """A JSONL record whose encoded line exceeds ``max_line_bytes``."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"JSONL line of {length} bytes exceeds the cap of {limit} bytes")
        self.length = length
        self.limit = limit


class FsError(GroundworkError, OSError):
    """Filesystem helpers that refuse an operation."""


class PathEscape(FsError):
    """``rel`` would leave ``root``; ``reason`` is absolute, dotdot, nul or symlink."""

    def __init__(self, root: str, rel: str, reason: str) -> None:
        super().__init__(f"path {rel!r} escapes {root!r} ({reason})")
        self.root = root
        self.rel = rel
        self.reason = reason


class LockHeld(FsError):
    """The lock belongs to a live holder; ``holder`` is its record."""

    def __init__(self, path: str, holder: dict[str, Any]) -> None:
        pid = holder.get("pid", "?")
        host = holder.get("host", "?")
        super().__init__(f"lock {path} is held by pid {pid} on {host}")
        self.path = path
        self.holder = holder


class LockLost(FsError):
    """A refresh found the lock file gone or owned by another token."""

    def __init__(self, path: str, detail: str = "") -> None:
        super().__init__(f"lock {path} is no longer ours" + (f": {detail}" if detail else ""))
        self.path = path


class ProgressError(GroundworkError, ValueError):
    """A line or value that is not a valid ``poc.progress@2`` event."""


class ProcError(GroundworkError):
    """Process supervision failures."""


class Cancelled(ProcError):
    """The operation was cancelled through a ``CancelToken``."""
