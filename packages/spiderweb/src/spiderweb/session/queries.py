"""Replies to the read-only requests (spec §4.1): recall, query, history, agents.

Pure builders: the actor reads RAM (its own) and the store (in a thread),
then these shape the §4.2 reply frames, so the wire shapes are testable
without a server.
"""

from __future__ import annotations

from collections.abc import Sequence

from spiderweb.memory.ram import Ram
from spiderweb.memory.recall import query_items, recall_items
from spiderweb.memory.snapshot import Snapshot
from spiderweb.memory.store import AgentInfo, MessageRow, SessionMeta
from spiderweb.protocol import inbound as inb
from spiderweb.protocol import outbound as out

#: ``agent.get`` lists the agent's most recent sessions, at most this many.
AGENT_SESSIONS = 10


def recall_reply(
    rid: str, key: str, ram: Ram, snaps: Sequence[Snapshot], f: inb.MemoryRecall
) -> out.MemoryRecallReply:
    items = recall_items(
        ram,
        snaps,
        limit=f.effective_limit,
        include_archived=f.include_archived,
        include_full=f.include_full,
    )
    return out.MemoryRecallReply(rid, key, items)


def query_reply(
    rid: str, key: str, ram: Ram, snaps: Sequence[Snapshot], f: inb.MemoryQuery
) -> out.MemoryQueryReply:
    items = query_items(
        ram,
        snaps,
        limit=f.effective_limit,
        include_archived=f.include_archived,
        kind=f.kind,
        topic=f.topic,
        memory_ids=sorted(f.id_filter),
    )
    return out.MemoryQueryReply(rid, key, f.topic, items)


def history_reply(
    rid: str, key: str, rows: Sequence[MessageRow], has_more: bool
) -> out.SessionHistoryResponse:
    return out.SessionHistoryResponse(rid, key, [r.to_item() for r in rows], has_more)


def agent_list_reply(rid: str, agents: Sequence[AgentInfo]) -> out.AgentListResponse:
    return out.AgentListResponse(
        rid,
        [
            {"agent_id": a.agent_id, "session_count": a.session_count, "last_active": a.last_active}
            for a in agents
        ],
    )


def agent_info_reply(
    rid: str, agent_id: str, files: Sequence[str], metas: Sequence[SessionMeta]
) -> out.AgentInfo:
    return out.AgentInfo(
        rid,
        agent_id,
        list(files),
        [
            {
                "session_key": m.session_id,
                "last_active": m.last_active_ms,
                "message_count": m.message_count,
                "is_active": m.is_active,
            }
            for m in metas
        ],
    )
