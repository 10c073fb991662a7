"""Process supervision: run with timeouts, spawn and stream, kill whole trees, cancel.

- ``runner``: ``run`` → ``Completed`` (bounded capture, timeout, cancel).
- ``child``: ``spawn`` → ``Child`` (own process group, ``lines()``), the registry
  and ``kill_leftovers``.
- ``tree``: ``kill_tree`` → ``Termination``.
- ``identity``: ``process_alive``, ``self_identity``.
- ``cancel``: ``CancelToken``; ``signals``: ``handle_signals``; ``codes``: ``EXIT_*``.
- ``lines``: ``LineSplitter``, the pure chunk-to-line logic behind ``Child.lines()``.
"""

from __future__ import annotations

from groundwork.proc.cancel import Cancelled, CancelToken
from groundwork.proc.child import Child, OutputLine, kill_leftovers, live_children, spawn
from groundwork.proc.codes import EXIT_CANCELLED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from groundwork.proc.identity import Identity, hostname, process_alive, self_identity
from groundwork.proc.runner import Completed, run
from groundwork.proc.signals import DEFAULT_EXIT_CODES, SignalHandling, handle_signals
from groundwork.proc.tree import Termination, kill_tree

__all__ = [
    "DEFAULT_EXIT_CODES",
    "EXIT_CANCELLED",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "CancelToken",
    "Cancelled",
    "Child",
    "Completed",
    "Identity",
    "OutputLine",
    "SignalHandling",
    "Termination",
    "handle_signals",
    "hostname",
    "kill_leftovers",
    "kill_tree",
    "live_children",
    "process_alive",
    "run",
    "self_identity",
    "spawn",
]
