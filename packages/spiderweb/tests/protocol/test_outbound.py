"""Golden wire shapes of outbound frames (spec §4.2, acceptance 2)."""

from __future__ import annotations

import json

from spiderweb.protocol import ErrorCode, encode
from spiderweb.protocol import outbound as out


def wire(frame: out.OutFrame, **kw: int) -> dict[str, object]:
    value = json.loads(encode(frame, **kw))
    assert isinstance(value, dict)
    return value


def test_session_ack_and_receive() -> None:
    ack = wire(out.SessionAck("k1", "a", 1, ["history", "restore"], restored=False))
    assert ack == {
        "type": "session.ack",
        "sessionKey": "k1",
        "agentId": "a",
        "protocol": 1,
        "capabilities": ["history", "restore"],
        "restored": False,
    }
    rec = wire(out.SessionReceive("hi", 3, "r", 17))
    assert rec == {
        "type": "session.receive",
        "content": "hi",
        "memoryId": 3,
        "request": "r",
        "timestamp": 17,
    }


def test_protocol_two_stamps_seq_and_ts() -> None:
    frame = wire(out.ChatAck("r", "k", 2), seq=5, ts=99)
    assert frame == {
        "type": "chat.ack",
        "request": "r",
        "sessionKey": "k",
        "memoryId": 2,
        "seq": 5,
        "ts": 99,
    }


def test_memory_query_without_topic_is_null() -> None:
    raw = encode(out.MemoryQueryReply("r", "k", None, []))
    assert json.loads(raw)["topic"] is None
    assert '"topic":null' in raw


def test_progress_with_backlog_and_suggestion() -> None:
    frame = out.progress(
        "heartbeat-sweep",
        "k",
        "heartbeat",
        "blocked",
        "msg",
        backlog=out.Backlog(accepted=4, total=5, dropped=1, queued=3, active=1),
        suggestion=out.Suggestion("resume", "paused"),
    )
    w = wire(frame)
    assert w["accepted"] == 4 and w["total"] == 5 and w["dropped"] == 1
    assert w["queued"] == 3 and w["active"] == 1
    assert w["suggestion"] == {"action": "resume", "reason": "paused"}
    assert out.is_droppable(frame)
    plain = wire(out.progress("r", "k", "planner", "received", "m"))
    assert set(plain) == {"type", "request", "sessionKey", "phase", "status", "message"}


def test_agent_state_and_plan_and_status() -> None:
    state = wire(out.AgentState("r", "k", "workers.ready", 0, 0, "g", "running", None, 0))
    assert state == {
        "type": "agent.state",
        "request": "r",
        "sessionKey": "k",
        "phase": "workers.ready",
        "queuedTasks": 0,
        "activeTasks": 0,
        "lastGoal": "g",
        "mode": "running",
        "goalState": None,
        "droppedTasks": 0,
    }
    plan = wire(
        out.AgentPlan("r", "k", "g", [out.PlanTask(1, "t", "queued", "research").to_wire()], "llm")
    )
    assert plan["tasks"] == [{"id": 1, "title": "t", "status": "queued", "kind": "research"}]
    status = wire(out.AgentStatus("r", "k", 1, "research", "complete", "done"))
    assert status["taskId"] == 1 and status["worker"] == "research"


def test_error_defaults_retryable_from_code() -> None:
    busy = wire(out.error(ErrorCode.BUSY, "busy", "r"))
    assert busy == {
        "type": "error",
        "message": "busy",
        "code": "busy",
        "request": "r",
        "retryable": True,
    }
    bad = wire(out.error(ErrorCode.BAD_JSON, "bad"))
    assert bad == {"type": "error", "message": "bad", "code": "bad_json", "retryable": False}
    limited = wire(out.error(ErrorCode.RATE_LIMITED, "slow", retry_after_ms=50))
    assert limited["retryAfterMs"] == 50


def test_snake_case_m10_fields() -> None:
    info = wire(out.AgentInfo("r", "a", ["SOUL.md"], []))
    assert info == {
        "type": "agent.info",
        "request": "r",
        "agent_id": "a",
        "identity_files": ["SOUL.md"],
        "sessions": [],
    }
    restore = wire(out.SessionRestoreResponse("r", False, None))
    assert restore == {
        "type": "session.restore.response",
        "request": "r",
        "found": False,
        "session": None,
    }
    reset = wire(out.SessionResetReply("session.new", "r", "k", True))
    assert reset == {"type": "session.new", "request": "r", "sessionKey": "k", "archived": True}


def test_memory_event_and_history() -> None:
    ev = wire(out.MemoryEvent("r", "k", "summarize", "summarized", 2, "m", 40, 900, 2, 2, "llm"))
    assert ev["activeCount"] == 40 and ev["tombstoneCount"] == 2 and ev["summarizer"] == "llm"
    assert "snapshotId" not in ev
    item = out.HistoryItem(1, "user", "hi", 3, "r", 10).to_wire()
    assert item == {
        "id": 1,
        "role": "user",
        "content": "hi",
        "memoryId": 3,
        "request": "r",
        "createdAtMs": 10,
    }


def test_encode_pair_is_both_encodings_byte_for_byte() -> None:
    frames: list[out.OutFrame] = [
        out.SessionReceive('h\u00e9llo "quoted" \u2603', 3, "r", 17),
        out.SessionAck("k1", "a", 1, ["history"], restored=True, replay="full"),
        out.error(ErrorCode.BUSY, "busy", "r9"),
        out.MemoryEvent("memory-manager", "k", "evict", "evicted", 2, "m", 1, 10, 0, 3),
    ]
    for frame in frames:
        plain, stamped = out.encode_pair(frame, 41, 1_700_000_000_123)
        assert plain == encode(frame)
        assert stamped == encode(frame, seq=41, ts=1_700_000_000_123)
