import pytest
from groundwork.errors import GroundworkError
from groundwork.llm.errors import (
    AuthenticationError,
    BadRequest,
    FinalError,
    HTTPStatusError,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    MissingAPIKey,
    NotFound,
    PermissionDenied,
    RateLimited,
    RetryableError,
    ServerError,
    classify,
    error_for_status,
    error_for_type,
    mask_secret,
    scrub,
)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, BadRequest, False),
        (401, AuthenticationError, False),
        (403, PermissionDenied, False),
        (404, NotFound, False),
        (429, RateLimited, True),
        (500, ServerError, True),
        (503, ServerError, True),
        (529, ServerError, True),
        (408, HTTPStatusError, None),
        (422, HTTPStatusError, None),
        (302, HTTPStatusError, None),
    ],
)
def test_status_table(status: int, cls: type[LLMError], retryable: bool | None) -> None:
    err = error_for_status(status, "boom", retry_after=1.5 if status == 429 else None)
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.http_status == status
    assert f"HTTP {status}" in str(err)
    assert isinstance(err, GroundworkError)


def test_tree_shape() -> None:
    retryable: list[type[LLMError]] = [
        LLMTimeout,
        LLMConnectionError,
        RateLimited,
        ServerError,
        MalformedResponse,
    ]
    final: list[type[LLMError]] = [
        BadRequest,
        AuthenticationError,
        PermissionDenied,
        NotFound,
        LLMConfigError,
    ]
    assert all(issubclass(c, RetryableError) for c in retryable)
    assert all(issubclass(c, FinalError) for c in final)
    assert issubclass(MissingAPIKey, LLMConfigError)
    assert not issubclass(HTTPStatusError, RetryableError | FinalError)
    assert issubclass(LLMTimeout, TimeoutError)


def test_classify_with_overrides() -> None:
    e408 = error_for_status(408, "")
    e422 = error_for_status(422, "")
    assert classify(e408) is None
    overrides = {408: True, 422: False}
    assert classify(e408, overrides) is True
    assert classify(e422, overrides) is False
    assert classify(error_for_status(429, ""), overrides) is True
    assert classify(error_for_status(401, "")) is False
    assert classify(ValueError("x")) is None
    assert classify(error_for_status(500, ""), {500: False}) is False


def test_timeout_phase_and_dict() -> None:
    err = LLMTimeout("first_token", provider="openai")
    assert err.phase == "first_token"
    assert err.retryable is True
    assert str(err) == "openai: timed out waiting for the first token"
    d = err.as_dict()
    assert d["code"] == "timeout" and d["retryable"] is True
    assert "LLMTimeout" in repr(err)


def test_missing_key_names_variable() -> None:
    err = MissingAPIKey("OPENAI_API_KEY", "main")
    assert str(err) == "provider 'main' needs environment variable OPENAI_API_KEY"
    assert err.env_var == "OPENAI_API_KEY"
    assert err.retryable is False
    assert err.code == "missing_api_key"


def test_mask_secret() -> None:
    assert mask_secret("sk-abcdefghijklmnop1234") == "sk-…1234"
    assert mask_secret("sk-proj-abcdefghijklmnopqrstuvwxyzWXYZ") == "sk-…WXYZ"
    assert mask_secret("abcdefghijklmnopqrstuvwxyz") == "…wxyz"
    assert mask_secret("short") == "…"
    assert mask_secret("") == ""
    assert mask_secret(None) == ""


def test_scrub_removes_secret() -> None:
    key = "sk-secretsecretsecret9876"
    assert scrub(f"bad key {key} given", key) == "bad key sk-…9876 given"
    assert scrub("nothing", None) == "nothing"


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("overloaded_error", ServerError),
        ("rate_limit_error", RateLimited),
        ("invalid_request_error", BadRequest),
        ("authentication_error", AuthenticationError),
        (None, ServerError),
        ("weird", ServerError),
    ],
)
def test_error_for_type(kind: str | None, cls: type[LLMError]) -> None:
    assert type(error_for_type(kind, "m")) is cls
