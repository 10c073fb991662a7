"""The strict parser: every upstream example passes, nothing else does."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from groundwork.progress.events import (
    EVENTS,
    PROTO,
    Event,
    ProgressError,
    parse_event,
    task_stage,
    utc_now_iso,
    validate_event,
)
from hypothesis import given
from hypothesis import strategies as st

# The examples of upstream's progress-protocol-v2 spec, verbatim.
UPSTREAM = [
    '{"proto":"poc.progress@2","event":"log","ts":"2026-02-04T12:00:00.000Z","seq":42,"level":"info","stream":"stderr","message":"indexing started","jobId":"job-1"}',  # noqa: E501
    '{"proto":"poc.progress@2","event":"task:start","ts":"2026-02-04T12:00:00.010Z","seq":1,"jobId":"job-1","taskId":"code:scan","name":"Scanning code","stage":"code"}',  # noqa: E501
    '{"proto":"poc.progress@2","event":"task:progress","ts":"2026-02-04T12:00:00.120Z","seq":2,"jobId":"job-1","taskId":"code:scan","current":24,"total":120,"unit":"files","percent":20}',
    '{"proto":"poc.progress@2","event":"task:end","ts":"2026-02-04T12:00:01.200Z","seq":3,"jobId":"job-1","taskId":"code:scan","status":"ok","durationMs":1190}',
    '{"proto":"poc.progress@2","event":"job:start","ts":"2026-02-04T12:00:00.000Z","seq":0,"jobId":"job-1","command":"build_index","args":["--progress","jsonl"],"cwd":"C:/repo"}',
    '{"proto":"poc.progress@2","event":"job:end","ts":"2026-02-04T12:00:10.000Z","seq":500,"jobId":"job-1","status":"ok","exitCode":0,"durationMs":10000,"result":{"summary":{"chunks":120}}}',
    '{"proto":"poc.progress@2","event":"job:artifacts","ts":"2026-02-04T12:00:10.010Z","seq":501,"jobId":"job-1","artifacts":[{"kind":"index","label":"sqlite","path":"...","exists":true,"bytes":12345,"mtime":"2026-02-04T12:00:09.000Z","mime":"application/x-sqlite3"}]}',
]

BASE: dict[str, Any] = {"proto": PROTO, "ts": "2026-02-04T12:00:00.000Z", "seq": 0}

VALID: dict[str, dict[str, Any]] = {
    "log": {"level": "warn", "message": "m", "stream": "stdout", "meta": {"k": 1}},
    "task:start": {"taskId": "a:b", "name": "A", "stage": "a", "mode": "code"},
    "task:progress": {"taskId": "a:b", "current": 1.5, "total": None, "unit": "x"},
    "task:end": {"taskId": "a:b", "status": "cancelled", "error": {"code": "c"}},
    "job:start": {"jobId": "j", "command": "c", "args": [], "cwd": "/", "title": None},
    "job:spawn": {"jobId": "j", "pid": 12, "spawnedAt": "2026-02-04T12:00:00.000+00:00"},
    "job:end": {
        "jobId": "j",
        "status": "cancelled",
        "exitCode": None,
        "signal": "SIGKILL",
        "durationMs": 5,
        "error": {"code": "timeout", "message": "t"},
        "termination": {"terminated": True, "forced": True},
    },
    "job:artifacts": {"jobId": "j", "artifacts": [], "artifactsIndexed": True},
}


def line(kind: str, **fields: Any) -> str:
    return json.dumps({**BASE, "event": kind, **fields})


@pytest.mark.parametrize("text", UPSTREAM)
def test_upstream_examples_parse_and_round_trip(text: str) -> None:
    event = parse_event(text)
    assert event.to_dict() == json.loads(text)
    assert parse_event(event.to_line()) == event
    assert event.to_line().endswith(b"\n") and b"\n" not in event.to_line()[:-1]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_allowed_kind_has_a_valid_example(kind: str) -> None:
    assert kind in EVENTS
    event = parse_event(line(kind, **VALID[kind]))
    assert event.event == kind
    assert event.proto == PROTO


def test_extra_fields_are_kept() -> None:
    event = parse_event(line("task:progress", **VALID["task:progress"], data={"phase": "g"}))
    assert event["data"] == {"phase": "g"}
    assert "data" in event
    assert event.get("nope", 7) == 7


@pytest.mark.parametrize(
    "text",
    [
        '{"ok":true}',
        '{"ok":true,"result":{"hits":3}}',
        "not json",
        "",
        "[]",
        '"str"',
        "42",
        json.dumps({**BASE, "event": "log"}),  # missing fields
        json.dumps({"event": "log", **VALID["log"], "ts": BASE["ts"], "seq": 0}),  # no proto
        line("log", **VALID["log"]).replace(PROTO, "poc.progress@1"),
        line("task:frobnicate", taskId="x"),
        line("supervisor:hello", protoVersion="poc.supervisor@1"),
        line("log", **{**VALID["log"], "level": "loud"}),
        line("log", **{**VALID["log"], "message": 3}),
        line("task:end", **{**VALID["task:end"], "status": "done"}),
        line("task:progress", **{**VALID["task:progress"], "current": -1}),
        line("task:progress", **{**VALID["task:progress"], "current": True}),
        line("task:start", **{**VALID["task:start"], "taskId": ""}),
        line("job:start", **{**VALID["job:start"], "args": ["a", 1]}),
        line("job:spawn", **{**VALID["job:spawn"], "spawnedAt": "yesterday"}),
        line("job:spawn", **{**VALID["job:spawn"], "pid": "12"}),
        line("job:end", **{**VALID["job:end"], "exitCode": 1.5}),
        line("job:artifacts", **{**VALID["job:artifacts"], "artifacts": ["p"]}),
        line("log", **{**VALID["log"], "pid": -3}),
        line("log", **{**VALID["log"], "jobId": ""}),
        json.dumps({**BASE, "event": "log", **VALID["log"], "seq": -1}),
        json.dumps({**BASE, "event": "log", **VALID["log"], "seq": 1.0}),
        json.dumps({**BASE, "event": "log", **VALID["log"], "seq": False}),
        json.dumps({**BASE, "event": "log", **VALID["log"], "ts": "2026-02-04 12:00"}),
        json.dumps({**BASE, "event": 7}),
        '{"proto":"poc.progress@2","event":"log","seq":0,"ts":"2026-02-04T12:00:00Z","level":"info","message":NaN,"stream":"x"}',
        json.dumps({**BASE, "event": "log", **VALID["log"]}, indent=1),  # multi-line
    ],
)
def test_parse_event_rejects_non_events(text: str) -> None:
    with pytest.raises(ProgressError):
        parse_event(text)


def test_extra_events_admit_supervisor_hello_but_still_check_the_envelope() -> None:
    text = line("supervisor:hello", protoVersion="poc.supervisor@1", pid=3)
    event = parse_event(text, extra_events=["supervisor:hello"])
    assert event["protoVersion"] == "poc.supervisor@1"
    with pytest.raises(ProgressError):
        parse_event(line("supervisor:hello", pid="x"), extra_events=["supervisor:hello"])


def test_trailing_newline_and_crlf_and_bytes_are_accepted() -> None:
    text = UPSTREAM[0]
    assert parse_event(text + "\n") == parse_event(text.encode() + b"\r\n") == parse_event(text)


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(ProgressError):
        parse_event(UPSTREAM[0].encode().replace(b"indexing", b"\xff\xfe"))


def test_validate_rejects_non_objects() -> None:
    with pytest.raises(ProgressError, match="JSON object"):
        validate_event(["proto"])


def test_event_accessors_and_with_fields() -> None:
    event = parse_event(UPSTREAM[1])
    assert (event.job_id, event.task_id, event.run_id, event.stream) == (
        "job-1",
        "code:scan",
        None,
        None,
    )
    changed = event.with_fields(jobId="job-2", stage=None, pid=4)
    assert changed.job_id == "job-2" and changed["pid"] == 4 and "stage" not in changed
    assert event.job_id == "job-1"  # the original is unchanged
    assert changed.seq == event.seq and changed.ts == event.ts


def test_task_stage_is_the_prefix() -> None:
    assert task_stage("code:scan") == "code"
    assert task_stage("text:a/gen:3") == "text"
    assert task_stage("plain") == "plain"


def test_utc_now_iso_has_millisecond_z_form() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now_iso())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(min_size=1), json_values, max_size=6))
def test_arbitrary_json_objects_without_proto_are_never_events(obj: dict[str, Any]) -> None:
    obj.pop("proto", None)
    with pytest.raises(ProgressError):
        parse_event(json.dumps(obj))


@given(st.dictionaries(st.text(min_size=1).filter(lambda k: k not in VALID["log"]), json_values))
def test_unknown_extra_fields_survive_a_round_trip(extra: dict[str, Any]) -> None:
    obj = {**BASE, "event": "log", **VALID["log"]}
    reserved = {"proto", "event", "ts", "seq", "runId", "jobId", "pid", "stream", "taskId"}
    obj.update({k: v for k, v in extra.items() if k not in reserved})
    event = parse_event(json.dumps(obj))
    assert event.to_dict() == obj
    assert isinstance(event, Event)
