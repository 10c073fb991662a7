"""Upgrade routing: paths, agent ids, session key aliases, proto and resume_from."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spiderweb.transport.routing import Healthz, Reject, Stream, route


def test_healthz_and_404() -> None:
    assert route("/healthz") == Healthz()
    assert route("/other") == Reject(404, "not found: connect to /v1/agents/{agentId}/stream")
    assert isinstance(route("/v1/agents/a/stream/x"), Reject)


@pytest.mark.parametrize(
    "alias", ["session", "sessionId", "session_id", "sessionKey", "session-key"]
)
def test_session_key_aliases_are_url_decoded(alias: str) -> None:
    r = route(f"/v1/agents/a/stream?{alias}=team%3Aone")
    assert r == Stream("a", "team:one", 1, None, None)


def test_defaults_and_proto_two() -> None:
    assert route("/v1/agents/a.b_c-1/stream") == Stream("a.b_c-1", None, 1, None, None)
    r = route("/v1/agents/a/stream?proto=2&resume_from=17&access_token=t")
    assert r == Stream("a", None, 2, 17, "t")


@pytest.mark.parametrize(
    "target",
    [
        "/v1/agents/../stream",
        "/v1/agents/./stream",
        "/v1/agents/a%20b/stream",
        "/v1/agents/" + "a" * 65 + "/stream",
        "/v1/agents/a/stream?session=bad%20key",
        "/v1/agents/a/stream?session=",
        "/v1/agents/a/stream?proto=3",
        "/v1/agents/a/stream?resume_from=-1",
        "/v1/agents/a/stream?resume_from=x",
    ],
)
def test_invalid_upgrades_are_400(target: str) -> None:
    r = route(target)
    assert isinstance(r, Reject) and r.status == 400 and "\n" not in r.reason


@given(st.text(max_size=80))
def test_any_target_routes_or_rejects(target: str) -> None:
    assert isinstance(route("/" + target), Healthz | Stream | Reject)


@pytest.mark.parametrize(
    "target", ["//[", "//[x]/v1/agents/a/stream", "/v1/agents/a/stream?x=1#//["]
)
def test_targets_urlsplit_refuses_are_rejected_not_raised(target: str) -> None:
    assert isinstance(route(target), Healthz | Stream | Reject)
