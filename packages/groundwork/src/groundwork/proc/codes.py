"""Process exit codes shared by every CLI in the repository."""

from __future__ import annotations

__all__ = ["EXIT_CANCELLED", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
#: 128 + SIGINT, what shells report for Ctrl-C; also used for SIGTERM by most commands.
EXIT_CANCELLED = 130
