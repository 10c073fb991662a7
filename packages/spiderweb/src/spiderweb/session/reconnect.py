"""What a reattaching client gets (spec §4, §6): the replay ring and restore telemetry.

Pure values and functions, used by the actor on ``Attach``: the protocol-2
ring answers ``resume_from=N`` with the missed frames and an honest
``replay`` status, and :func:`restore_progress` builds the
``agent.progress{phase:"reconnect"}`` frame.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from spiderweb.protocol import outbound as out
from spiderweb.session.state import SessionState

RESTORE_REQUEST = "session-restore"
Replay = Literal["full", "partial", "none"]


class ReplayRing:
    """The last ``size`` stamped frames of a session (heartbeat telemetry excluded).

    ``floor`` is the lowest seq the ring can still answer for: frames below
    it were evicted, or sent by an earlier process or an unloaded actor.
    """

    __slots__ = ("_frames", "floor", "size")

    def __init__(self, size: int, start_seq: int) -> None:
        self.size = size
        self.floor = start_seq
        self._frames: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, seq: int, text: str) -> None:
        if self.size <= 0:
            self.floor = seq + 1
            return
        if len(self._frames) >= self.size:
            evicted, _ = self._frames.popleft()
            self.floor = evicted + 1
        self._frames.append((seq, text))

    def replay(self, resume_from: int | None, next_seq: int) -> tuple[Replay, list[str]]:
        """Frames with ``seq > resume_from`` and whether that is everything the client missed."""
        if resume_from is None:
            return "none", []
        if resume_from >= next_seq - 1:
            return "full", []
        missed = [text for seq, text in self._frames if seq > resume_from]
        if resume_from + 1 >= self.floor:
            return "full", missed
        return ("partial" if missed else "none"), missed


def restore_progress(state: SessionState, source: str) -> out.AgentProgress:
    """``reconnect/backpressure_resumed`` when work is pending, else ``state_restored``."""
    q, a, d = state.queued, state.active, state.dropped
    if q or a or d:
        status = "backpressure_resumed"
        message = f"Session restored with backlog: {q} queued, {a} active, {d} dropped tasks."
    else:
        status = "state_restored"
        message = f"Session restored from previous process state: {state.last_goal}"
    return out.progress(
        RESTORE_REQUEST,
        state.key,
        "reconnect",
        status,
        message,
        backlog=out.Backlog(accepted=q + a, total=q + a + d, dropped=d, queued=q, active=a),
        source=source,
        restored_entries=state.ram.active_count,
        restored_summaries=state.ram.summary_count,
    )


def interrupted_progress(
    request: str,
    session_key: str,
    message: str = "The turn was interrupted by a server shutdown; send it again.",
) -> out.AgentProgress:
    """A turn cut off by the last shutdown (reported once, on the next attach), or by a
    reset/clear (reported at once)."""
    return out.progress(request, session_key, "execution", "interrupted", message)
