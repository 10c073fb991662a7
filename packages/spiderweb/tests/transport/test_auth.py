"""Bearer token, query token and Origin checks."""

from __future__ import annotations

from spiderweb.transport.auth import AuthPolicy, check_upgrade


def test_no_token_allows_everyone() -> None:
    assert check_upgrade(AuthPolicy(), None, None, None) is None


def test_bearer_token() -> None:
    policy = AuthPolicy(token="s3cret")
    assert check_upgrade(policy, "Bearer s3cret", None, None) is None
    denied = check_upgrade(policy, "Bearer wrong", None, None)
    assert denied is not None and denied.status == 401
    missing = check_upgrade(policy, None, None, None)
    assert missing is not None and missing.status == 401


def test_query_token_only_when_allowed() -> None:
    assert check_upgrade(AuthPolicy(token="t"), None, None, "t") is not None
    assert check_upgrade(AuthPolicy(token="t", allow_query_token=True), None, None, "t") is None


def test_origin_allow_list() -> None:
    policy = AuthPolicy(allowed_origins=frozenset({"https://ok.example"}))
    assert check_upgrade(policy, None, "https://ok.example", None) is None
    denied = check_upgrade(policy, None, "https://evil.example", None)
    assert denied is not None and denied.status == 403
    assert check_upgrade(policy, None, None, None) is None
