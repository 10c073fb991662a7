"""Process supervision (first cut: identity and exit codes; the rest follows)."""

from __future__ import annotations

from groundwork.proc.codes import EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from groundwork.proc.identity import Identity, hostname, process_alive, self_identity

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "Identity",
    "hostname",
    "process_alive",
    "self_identity",
]
