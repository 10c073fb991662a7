"""Duplicate requests are answered, never executed twice (spec §6 idempotency).

§6 makes a re-sent ``chat.send`` with a stored ``id`` re-send its stored reply
(the transcript holds it). The other requests that change a session get the
same treatment here: ``/new``, ``session.new``/``session.reset`` and the
``pause``/``resume``/``cancel``/``clear`` actions of ``agent.control``. Their
replies are kept by request id in the session state, committed with the change
they report (so a duplicate sent after a crash is still recognised), and a
duplicate gets those replies again and changes nothing. Without an explicit
``id`` there is nothing to match, so nothing is kept.

Goals (``/goal``, ``agent.control`` ``goal``/``plan``) are matched through the
transcript and the current goal by the actor; read-only requests (recall,
query, history, state, ping, heartbeat, restore) are answered afresh because
running them again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spiderweb.protocol import inbound as inb
from spiderweb.protocol.outbound import JsonObject, OutFrame

#: Replies kept per session, oldest dropped first (a retry follows its original closely).
RECENT_REPLIES = 32
#: ``agent.control`` actions whose effect a duplicate must not repeat.
MUTATING_ACTIONS = frozenset({"pause", "resume", "cancel", "clear"})
#: ``agent.control`` actions that plan a goal (deduplicated like ``/goal``).
GOAL_ACTIONS = frozenset({"goal", "plan"})

Replies = dict[str, list[JsonObject]]


@dataclass(frozen=True, slots=True)
class StoredReply(OutFrame):
    """A reply re-sent to a duplicate: its stored wire fields, stamped afresh (protocol 2)."""

    wire: JsonObject

    def to_wire(self) -> JsonObject:
        return dict(self.wire)


def is_mutation(frame: inb.InboundFrame) -> bool:
    """Does this request change the session in a way a duplicate must not repeat?"""
    if frame.id is None:
        return False
    if isinstance(frame, inb.SessionReset):
        return True
    if isinstance(frame, inb.ChatSend):
        return frame.body == "/new"
    if isinstance(frame, inb.AgentControl):
        return frame.verb in MUTATING_ACTIONS
    return False


def is_goal_control(frame: inb.InboundFrame) -> bool:
    """An ``agent.control`` goal/plan with an explicit ``id``."""
    return (
        frame.id is not None and isinstance(frame, inb.AgentControl) and frame.verb in GOAL_ACTIONS
    )


def stored(replies: Mapping[str, list[JsonObject]], rid: str) -> list[StoredReply] | None:
    """The replies kept for ``rid``, or ``None`` if it was never answered."""
    wires = replies.get(rid)
    if wires is None:
        return None
    return [StoredReply(wire) for wire in wires]


def remember(replies: Replies, rid: str, frames: Iterable[tuple[object, bool]]) -> bool:
    """Keep the frames emitted for ``rid`` (echoing it as ``request``); ``True`` if kept."""
    wires = [
        wire
        for frame, _ in frames
        if isinstance(frame, OutFrame) and (wire := frame.to_wire()).get("request") == rid
    ]
    if not wires:
        return False
    replies.pop(rid, None)
    replies[rid] = wires
    while len(replies) > RECENT_REPLIES:
        del replies[next(iter(replies))]
    return True


def to_v2(replies: Mapping[str, list[JsonObject]]) -> list[JsonObject]:
    """State-v2 form (``controlReplies``), oldest first."""
    return [{"request": rid, "frames": wires} for rid, wires in replies.items()]


def from_v2(raw: Any) -> Replies:
    """Parse ``controlReplies`` forgivingly: malformed items are skipped."""
    replies: Replies = {}
    if not isinstance(raw, list):
        return replies
    for item in raw[-RECENT_REPLIES:]:
        if not isinstance(item, Mapping):
            continue
        rid, frames = item.get("request"), item.get("frames")
        if not isinstance(rid, str) or not isinstance(frames, list):
            continue
        wires = [
            dict(f) for f in frames if isinstance(f, Mapping) and isinstance(f.get("type"), str)
        ]
        if wires:
            replies[rid] = wires
    return replies
