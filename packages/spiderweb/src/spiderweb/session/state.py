"""One session's state and its state-v2 form (spec §6), owned by the session actor.

``to_v2`` writes M10's keys (so an M10 reader still understands the file)
plus ours; ``from_v2`` is forgiving about what it can default and strict
about what would corrupt RAM (it raises ``ValueError``, the caller skips the
session with a warning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from spiderweb.brain.goals import Goal, Mode
from spiderweb.memory.ram import Ram, RamLimits
from spiderweb.session import dedup

STATE_VERSION = 2
#: Seq numbers are reserved in blocks: a crash may skip up to this many, never reuse one.
SEQ_BLOCK = 1000
MODES = frozenset({"running", "paused", "cancelled"})


@dataclass(slots=True)
class SessionState:
    """Everything the actor mutates for one session."""

    key: str
    agent_id: str
    ram: Ram
    mode: Mode = "running"
    goal: Goal | None = None
    last_goal: str = ""
    last_saturation_ms: int = 0
    backpressure_notified: bool = False
    #: Next seq to stamp (protocol 2) and the exclusive end of the reserved block.
    seq: int = 1
    seq_reserved: int = 0
    created_at_ms: int = 0
    last_active_ms: int = 0
    message_count: int = 0
    #: Turns that were running when the process stopped; reported on next attach.
    interrupted_turns: list[str] = field(default_factory=list)
    #: Replies to recent session-changing requests, by request id (duplicates re-get them).
    replies: dedup.Replies = field(default_factory=dict)

    # -- live counters (derived from the goal, never stored separately) -------------------
    @property
    def queued(self) -> int:
        return self.goal.queued if self.goal else 0

    @property
    def active(self) -> int:
        return self.goal.active if self.goal else 0

    @property
    def dropped(self) -> int:
        return self.goal.dropped if self.goal and not self.goal.finished else 0

    @property
    def goal_state(self) -> str | None:
        return self.goal.state if self.goal else None

    def needs_seq_block(self) -> bool:
        return self.seq >= self.seq_reserved

    def reserve_seq_block(self) -> None:
        self.seq_reserved = max(self.seq_reserved, self.seq) + SEQ_BLOCK

    def take_seq(self) -> int:
        """The next seq; the caller persists a new block first when :meth:`needs_seq_block`."""
        value = self.seq
        self.seq += 1
        return value

    # -- state v2 ---------------------------------------------------------------------------
    def _v2_head(self) -> dict[str, Any]:
        """The state-v2 object without its RAM arrays (``entries``, ``summaries``)."""
        return {
            "session_id": self.key,
            "next_id": self.ram.next_id,
            "workerQueueDepth": self.queued,
            "workerActiveTasks": self.active,
            "workerMode": self.mode,
            "workerDroppedTasks": self.dropped,
            "workerLastSaturationMs": self.last_saturation_ms,
            "workerBackpressureNotified": self.backpressure_notified,
            "workerLastGoal": self.last_goal,
            "agentId": self.agent_id,
            "seqReserved": self.seq_reserved,
            "goal": self.goal.to_dict() if self.goal else None,
            "createdAtMs": self.created_at_ms,
            "lastActiveMs": self.last_active_ms,
            "messageCount": self.message_count,
            "interruptedTurns": list(self.interrupted_turns),
            **({"controlReplies": dedup.to_v2(self.replies)} if self.replies else {}),
        }

    def to_v2(self) -> dict[str, Any]:
        ram = self.ram.to_state()
        return {**self._v2_head(), "entries": ram["entries"], "summaries": ram["summaries"]}

    def to_json(self) -> bytes | None:
        """``to_v2()`` as JSON bytes for the per-commit write-through, cheaply.

        The RAM arrays come from per-entry caches (:meth:`Ram.state_json_parts`)
        and the rest is one small orjson call; keys are not sorted (readers
        parse the object, nothing hashes it). ``None`` when orjson refuses a
        value: the caller then commits ``to_v2()`` through the canonical path.
        """
        try:
            entries, summaries = self.ram.state_json_parts()
            head = orjson.dumps(self._v2_head())
        except (orjson.JSONEncodeError, TypeError):
            return None
        return head[:-1] + b',"entries":' + entries + b',"summaries":' + summaries + b"}"

    @classmethod
    def from_v2(
        cls, raw: Mapping[str, Any], *, default_agent: str, limits: RamLimits | None = None
    ) -> SessionState:
        key = raw.get("session_id")
        if not isinstance(key, str) or not key:
            raise ValueError("session_id missing")
        ram = Ram.from_state(raw, limits)
        mode = raw.get("workerMode", "running")
        goal_raw = raw.get("goal")
        goal = Goal.from_dict(goal_raw) if isinstance(goal_raw, Mapping) else None
        seq_reserved = _int(raw.get("seqReserved"), 0)
        agent = raw.get("agentId")
        turns = raw.get("interruptedTurns", [])
        return cls(
            key=key,
            agent_id=agent if isinstance(agent, str) and agent else default_agent,
            ram=ram,
            mode=cast(Mode, mode) if mode in MODES else "running",
            goal=goal,
            last_goal=_str(raw.get("workerLastGoal")),
            last_saturation_ms=_int(raw.get("workerLastSaturationMs"), 0),
            backpressure_notified=raw.get("workerBackpressureNotified") is True,
            # A restarted process continues after the whole reserved block.
            seq=max(1, seq_reserved),
            seq_reserved=seq_reserved,
            created_at_ms=_int(raw.get("createdAtMs"), 0),
            last_active_ms=_int(raw.get("lastActiveMs"), 0),
            message_count=_int(raw.get("messageCount"), 0),
            interrupted_turns=[t for t in turns if isinstance(t, str)]
            if isinstance(turns, list)
            else [],
            replies=dedup.from_v2(raw.get("controlReplies")),
        )


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
