"""The LLM error tree: whether to retry *is* the class.

::

    LLMError (GroundworkError)      code, message, retryable, http_status, retry_after,
    │                               partial_text (text streamed before a mid-stream failure)
    ├── RetryableError              retryable=True: try again later
    │   ├── LLMTimeout              phase: connect, first_token, idle, total, read, write, pool
    │   ├── LLMConnectionError      refused, reset, DNS, a cut stream
    │   ├── RateLimited             any 429; retry_after from Retry-After (seconds or HTTP-date)
    │   ├── ServerError             5xx (and errors a server reports inside a stream)
    │   └── MalformedResponse       a body or stream we cannot parse
    ├── FinalError                  retryable=False: the same call fails the same way
    │   ├── BadRequest              400
    │   ├── AuthenticationError     401
    │   ├── PermissionDenied        403
    │   ├── NotFound                404
    │   └── LLMConfigError          a spec that cannot make a provider
    │       └── MissingAPIKey       names the environment variable to set
    └── HTTPStatusError             any other status; retryable=None until ``classify``

Providers raise these and never retry; meld and spiderweb own the retry loops
and use ``classify`` to add their own statuses (408, 422). API keys never
appear in a message: text from a server is passed through ``scrub`` first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from groundwork.errors import GroundworkError


def mask_secret(secret: str | None) -> str:
    """Show a key as ``sk-…abcd``: its short prefix and last four characters only."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "…"
    head = ""
    dash = secret.find("-")
    if 0 < dash <= 4:
        head = secret[: dash + 1]
    return f"{head}…{secret[-4:]}"


def scrub(text: str, *secrets: str | None) -> str:
    """Replace every occurrence of each secret in ``text`` by its mask."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, mask_secret(s))
    return text


class LLMError(GroundworkError):
    """Root of every provider error; ``code`` is a stable snake_case name for wire/JSON use."""

    default_code: ClassVar[str] = "llm_error"
    default_retryable: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        partial_text: str | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.http_status = http_status
        self.retry_after = retry_after
        self.partial_text = partial_text
        self.provider = provider

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        return f"{prefix}{self.message}"

    def __repr__(self) -> str:
        extra = "".join(
            f", {k}={v!r}"
            for k, v in (
                ("http_status", self.http_status),
                ("retry_after", self.retry_after),
                ("provider", self.provider),
            )
            if v is not None
        )
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}{extra})"

    def as_dict(self) -> dict[str, Any]:
        """The shape meld and spiderweb put on the wire: ``{code, message, retryable, ...}``."""
        return {
            "code": self.code,
            "message": str(self),
            "retryable": self.retryable,
            "http_status": self.http_status,
            "retry_after": self.retry_after,
        }


class RetryableError(LLMError):
    """The same request may succeed later."""

    default_retryable = True


class FinalError(LLMError):
    """Retrying the same request cannot help; fix the request, key or config."""

    default_retryable = False


_PHASE_TEXT = {
    "connect": "connecting",
    "first_token": "waiting for the first token",
    "idle": "waiting for the next chunk (stream idle)",
    "total": "the whole call (total time)",
    "read": "reading the response",
    "write": "sending the request",
    "pool": "waiting for a free connection",
}


class LLMTimeout(RetryableError, TimeoutError):
    """A phase ran past its limit; ``phase`` says which one, ``limit_s`` its length."""

    default_code = "timeout"

    def __init__(
        self, phase: str, limit_s: float | None = None, message: str | None = None, **kw: Any
    ) -> None:
        limit = f" after {limit_s:g} s" if limit_s is not None else ""
        what = _PHASE_TEXT.get(phase, phase)
        super().__init__(message or f"timed out {what}{limit}", **kw)
        self.phase = phase
        self.limit_s = limit_s


class LLMConnectionError(RetryableError):
    """The connection failed or broke (refused, reset, cut mid-stream)."""

    default_code = "connection_error"


class RateLimited(RetryableError):
    """HTTP 429; wait ``retry_after`` seconds (when the server said) before retrying."""

    default_code = "rate_limited"


class ServerError(RetryableError):
    """HTTP 5xx, or a server-side failure reported inside a stream."""

    default_code = "server_error"


class MalformedResponse(RetryableError):
    """The server answered with something that is not the API's shape."""

    default_code = "malformed_response"


class BadRequest(FinalError):
    default_code = "bad_request"


class AuthenticationError(FinalError):
    default_code = "authentication_error"


class PermissionDenied(FinalError):
    default_code = "permission_denied"


class NotFound(FinalError):
    default_code = "not_found"


class LLMConfigError(FinalError):
    """A ``ProviderSpec`` that cannot make a working provider."""

    default_code = "config_error"


class MissingAPIKey(LLMConfigError):
    """No key given and ``env_var`` is unset; the message says which variable to set."""

    default_code = "missing_api_key"

    def __init__(self, env_var: str, provider: str) -> None:
        super().__init__(f"provider {provider!r} needs environment variable {env_var}")
        self.env_var = env_var
        self.provider_name = provider


class HTTPStatusError(LLMError):
    """A status outside the table; the caller decides with ``classify(exc, overrides)``."""

    default_code = "http_status_error"


_BY_STATUS: dict[int, type[LLMError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
}


def error_for_status(
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    provider: str | None = None,
    partial_text: str | None = None,
) -> LLMError:
    """The status table; every HTTP failure (and every mock fault) goes through here."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if 500 <= status <= 599 else HTTPStatusError
    return cls(
        f"HTTP {status}: {message}" if message else f"HTTP {status}",
        http_status=status,
        retry_after=retry_after,
        provider=provider,
        partial_text=partial_text,
    )


def classify(exc: BaseException, overrides: Mapping[int, bool] | None = None) -> bool | None:
    """Is ``exc`` retryable? ``True``/``False``, or ``None`` when nobody knows.

    ``overrides`` maps HTTP statuses to a decision and wins over the tree, so
    ``classify(e, {408: True, 422: False})`` extends the table for one caller.
    Errors that are not ``LLMError`` are unknown (``None``).
    """
    if not isinstance(exc, LLMError):
        return None
    if overrides and exc.http_status is not None and exc.http_status in overrides:
        return overrides[exc.http_status]
    return exc.retryable


_STATUS_BY_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def error_for_type(kind: str | None, message: str) -> LLMError:
    """An error a server reports inside a 200 stream, by its ``type`` (Anthropic/OpenAI words).

    Unknown or missing types are ``ServerError``: the server failed mid-reply.
    """
    status = _STATUS_BY_TYPE.get(kind or "", 500)
    return error_for_status(status, f"{kind}: {message}" if kind else message)
