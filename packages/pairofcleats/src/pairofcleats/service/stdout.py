"""The ``--json`` stdout guard (§10, roadmap §7.1): stdout carries only the final object.

While the guard is active ``sys.stdout`` is replaced by a writer that refuses every write, so
a stray ``print`` anywhere (ours or a library's) fails the command with ``ERR_STDOUT_GUARD``
(exit 1) instead of corrupting the JSON a tool is parsing. The final document is written to
the real stdout through :meth:`StdoutGuard.emit`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from groundwork import jsonio

from pairofcleats.errors import StdoutGuardError

__all__ = ["StdoutGuard", "stdout_guard"]


class _Refusing(io.TextIOBase):
    """A text stream whose every non-empty write raises ``StdoutGuardError``."""

    def __init__(self, real: TextIO) -> None:
        self._real = real
        self.violation: str | None = None

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if s:
            self.violation = s[:80]
            raise StdoutGuardError(
                f"unexpected write to stdout under --json: {s[:40]!r}",
                hint="report this as a bug; stdout must carry only the JSON result",
            )
        return 0

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._real, "encoding", "utf-8") or "utf-8"


class StdoutGuard:
    """Handle for the guarded section: ``emit`` writes the one JSON document."""

    def __init__(self, real: TextIO, refusing: _Refusing | None) -> None:
        self._real = real
        self._refusing = refusing
        self.emitted = False

    @property
    def violated(self) -> bool:
        return self._refusing is not None and self._refusing.violation is not None

    def emit(self, value: Any) -> None:
        """Write ``value`` as one JSON line (canonical bytes) to the real stdout."""
        text = jsonio.dumps(value).decode("utf-8") + "\n"
        self._real.write(text)
        self._real.flush()
        self.emitted = True

    def write_text(self, text: str) -> None:
        """Write human output (only when the guard is inactive)."""
        self._real.write(text if text.endswith("\n") else text + "\n")
        self._real.flush()


@contextmanager
def stdout_guard(active: bool) -> Iterator[StdoutGuard]:
    """Replace ``sys.stdout`` by a refusing stream while ``active``; restore it afterwards."""
    real = sys.stdout
    if not active:
        yield StdoutGuard(real, None)
        return
    refusing = _Refusing(real)
    sys.stdout = refusing
    try:
        yield StdoutGuard(real, refusing)
    finally:
        sys.stdout = real
