"""Context propagation: env in, env out, alias handling, clear errors."""

from __future__ import annotations

import io
import json

import pytest
from groundwork.progress.context import (
    CONTEXT_ENV,
    child_env,
    context_from_env,
    has_context,
)
from groundwork.progress.emitter import Emitter
from groundwork.progress.events import ProgressError, parse_event

ALIAS = "PAIROFCLEATS_PROGRESS_CONTEXT"


def test_unset_or_blank_means_no_context() -> None:
    assert context_from_env({}) == {}
    assert context_from_env({CONTEXT_ENV: "  "}) == {}
    assert not has_context({CONTEXT_ENV: ""})
    assert not has_context({"OTHER": "{}"})


def test_context_is_merged_into_every_event() -> None:
    env = {CONTEXT_ENV: '{"jobId":"j1","runId":"r1"}'}
    assert has_context(env)
    buf = io.StringIO()
    em = Emitter(buf, context_from_env(env))
    em.log("a")
    em.task_start("code:scan")
    em.task_progress("code:scan", 1, 2)
    em.task_end("code:scan")
    events = [parse_event(x) for x in buf.getvalue().splitlines()]
    assert len(events) == 4
    assert all((e.job_id, e.run_id) == ("j1", "r1") for e in events)
    assert [e.seq for e in events] == [0, 1, 2, 3]  # one counter: the job's


def test_alias_is_accepted_and_groundwork_wins() -> None:
    assert context_from_env({ALIAS: '{"jobId":"up","x":1}'}) == {"jobId": "up", "x": 1}
    assert has_context({ALIAS: '{"jobId":"up"}'})
    both = {ALIAS: '{"jobId":"up","x":1}', CONTEXT_ENV: '{"jobId":"gw"}'}
    assert context_from_env(both) == {"jobId": "gw", "x": 1}
    assert context_from_env(both, aliases=()) == {"jobId": "gw"}


def test_envelope_keys_in_a_context_are_ignored() -> None:
    env = {CONTEXT_ENV: '{"seq":9,"proto":"x","event":"y","ts":"z","runId":"r"}'}
    assert context_from_env(env) == {"runId": "r"}


@pytest.mark.parametrize("raw", ["{not json", "[1,2]", '"str"', "NaN"])
def test_bad_context_names_the_variable(raw: str) -> None:
    with pytest.raises(ProgressError, match=CONTEXT_ENV):
        context_from_env({CONTEXT_ENV: raw})


def test_child_env_passes_only_groundworks_variable() -> None:
    parent = {"PATH": "/bin", ALIAS: '{"jobId":"old"}', CONTEXT_ENV: '{"jobId":"old"}'}
    env = child_env(parent, {"jobId": "job-2", "runId": "r", "seq": 3})
    assert ALIAS not in env
    assert env["PATH"] == "/bin"
    assert json.loads(env[CONTEXT_ENV]) == {"jobId": "job-2", "runId": "r"}
    assert env[CONTEXT_ENV] == '{"jobId":"job-2","runId":"r"}'  # canon form
    assert context_from_env(env) == {"jobId": "job-2", "runId": "r"}
    assert parent[ALIAS] == '{"jobId":"old"}'  # the input mapping is untouched
