"""Inbound parsing: every malformed frame maps to its §4.2 code; good frames validate."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spiderweb.protocol import ErrorCode, FrameError, parse_frame
from spiderweb.protocol.inbound import (
    AgentControl,
    AgentGet,
    ChatSend,
    MemoryQuery,
    MemoryRecall,
    SessionHistory,
    SessionReset,
    peek_request_id,
)


def code_of(raw: str, **kw: int) -> ErrorCode:
    with pytest.raises(FrameError) as info:
        parse_frame(raw, **kw)
    return info.value.code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        ("", ErrorCode.BAD_JSON),
        ("NaN", ErrorCode.BAD_JSON),
        ("[1,2]", ErrorCode.NOT_OBJECT),
        ('"chat.send"', ErrorCode.NOT_OBJECT),
        ("{}", ErrorCode.INVALID_FIELD),
        ('{"type": 5}', ErrorCode.INVALID_FIELD),
        ('{"type": "nope"}', ErrorCode.UNKNOWN_TYPE),
        ('{"type": "chat.send"}', ErrorCode.INVALID_FIELD),
        ('{"type": "chat.send", "content": ""}', ErrorCode.INVALID_FIELD),
        ('{"type": "chat.send", "content": 5}', ErrorCode.INVALID_FIELD),
        ('{"type": "memory.recall", "limit": "5"}', ErrorCode.INVALID_FIELD),
        ('{"type": "memory.recall", "limit": true}', ErrorCode.INVALID_FIELD),
        ('{"type": "memory.recall", "include_full": 1}', ErrorCode.INVALID_FIELD),
        ('{"type": "memory.query", "kind": "other"}', ErrorCode.INVALID_FIELD),
        ('{"type": "memory.query", "memoryIds": ["1"]}', ErrorCode.INVALID_FIELD),
        ('{"type": "agent.control", "action": "dance"}', ErrorCode.UNSUPPORTED_ACTION),
        ('{"type": "ping", "id": 7}', ErrorCode.INVALID_FIELD),
        ('{"type": "agent.get"}', ErrorCode.INVALID_FIELD),
        ('{"type": "agent.get", "agentId": ".."}', ErrorCode.INVALID_FIELD),
    ],
)
def test_malformed_frames_get_their_code(raw: str, code: ErrorCode) -> None:
    assert code_of(raw) == code


def test_invalid_field_names_the_field_and_expected_type() -> None:
    with pytest.raises(FrameError) as info:
        parse_frame('{"type":"memory.recall","limit":"5","id":"r1"}')
    assert "limit" in info.value.message
    assert "integer" in info.value.message
    assert info.value.request == "r1"


def test_content_over_limit_is_message_too_large() -> None:
    raw = json.dumps({"type": "chat.send", "content": "é" * 2049, "id": "x"})
    with pytest.raises(FrameError) as info:
        parse_frame(raw)
    assert info.value.code == ErrorCode.MESSAGE_TOO_LARGE
    assert info.value.message == "Message too large for active context"
    assert info.value.request == "x"
    ok = parse_frame(json.dumps({"type": "chat.send", "content": "a" * 4096}))
    assert isinstance(ok.frame, ChatSend)


def test_frame_over_message_limit() -> None:
    raw = json.dumps({"type": "chat.send", "content": "a" * 70_000})
    assert code_of(raw) == ErrorCode.FRAME_TOO_LARGE
    assert code_of('{"type":"ping"}', max_message_bytes=5) == ErrorCode.FRAME_TOO_LARGE


def test_request_id_echoed_or_generated() -> None:
    assert parse_frame('{"type":"ping","id":"abc"}').request_id == "abc"
    generated = parse_frame('{"type":"ping"}').request_id
    assert len(generated) == 16 and generated.isalnum()


def test_chat_text_alias_and_extra_fields_ignored() -> None:
    req = parse_frame('{"type":"session.send","text":"hi","extra":[1,{}]}')
    assert isinstance(req.frame, ChatSend)
    assert req.frame.body == "hi"


def test_defaults() -> None:
    reset = parse_frame('{"type":"session.new"}').frame
    assert isinstance(reset, SessionReset)
    assert reset.archive is True and reset.reason == "manual-reset"
    recall = parse_frame('{"type":"memory.recall"}').frame
    assert isinstance(recall, MemoryRecall)
    assert (recall.effective_limit, recall.include_archived, recall.include_full) == (
        25,
        True,
        False,
    )
    assert isinstance(parse_frame('{"type":"memory.recall","limit":0}').frame, MemoryRecall)
    zero = parse_frame('{"type":"memory.recall","limit":0}').frame
    big = parse_frame('{"type":"memory.recall","limit":500}').frame
    assert isinstance(zero, MemoryRecall) and isinstance(big, MemoryRecall)
    assert zero.effective_limit == 128 and big.effective_limit == 128
    hist = parse_frame('{"type":"session.history","limit":9999,"beforeId":4}').frame
    assert isinstance(hist, SessionHistory)
    assert hist.effective_limit == 500 and hist.before_id == 4
    query = parse_frame('{"type":"memory.query","memoryId":3,"memoryIds":[4,5]}').frame
    assert isinstance(query, MemoryQuery)
    assert query.kind == "all" and query.topic is None and query.id_filter == {3, 4, 5}
    get = parse_frame('{"type":"agent.get","agentId":"a-1"}').frame
    assert isinstance(get, AgentGet) and get.agent_id == "a-1"


def test_agent_control_goal_text_and_default_action() -> None:
    ctl = parse_frame('{"type":"agent.control","goal":"  ","content":" do it "}').frame
    assert isinstance(ctl, AgentControl)
    assert ctl.verb == "plan" and ctl.goal_text == "do it"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
frame_types = st.sampled_from(
    ["chat.send", "agent.control", "memory.recall", "memory.query", "session.history", "x"]
)


@given(st.text(max_size=200))
def test_any_text_is_a_request_or_a_coded_error(raw: str) -> None:
    try:
        parse_frame(raw)
    except FrameError as exc:
        assert isinstance(exc.code, ErrorCode)


@given(frame_types, st.dictionaries(st.text(max_size=12), json_values, max_size=5))
def test_any_object_is_a_request_or_a_coded_error(kind: str, fields: dict[str, object]) -> None:
    raw = json.dumps({**fields, "type": kind})
    try:
        req = parse_frame(raw)
    except FrameError as exc:
        assert isinstance(exc.code, ErrorCode)
    else:
        assert req.frame.type == kind


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50)))
def test_peek_request_id_never_raises(raw: str | bytes) -> None:
    rid = peek_request_id(raw)
    assert rid is None or (isinstance(rid, str) and len(rid) <= 64)


def test_peek_request_id_finds_only_valid_ids() -> None:
    assert peek_request_id('{"type":"ping","id":"r1"}') == "r1"
    assert peek_request_id('{"type":"ping","id":7}') is None
    assert peek_request_id(json.dumps({"id": "x" * 65})) is None
    assert peek_request_id('["id"]') is None
    assert (
        peek_request_id(json.dumps({"id": "big", "pad": "a" * 100}), max_message_bytes=50) is None
    )
