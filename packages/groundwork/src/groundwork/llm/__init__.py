"""Chat-completion providers (OpenAI, OpenAI-compatible, Anthropic, Ollama, mock).

Build one with ``make_provider(ProviderSpec(...), env)``; call ``complete`` or
``stream``; catch ``LLMError`` and ask ``classify``/``retryable`` whether to
retry (providers never do). ``groundwork.llm.fake`` is a local fake server
speaking all three HTTP APIs for tests.
"""

from groundwork.llm.base import Completer, Provider
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
    mask_secret,
)
from groundwork.llm.factory import PROVIDER_TYPES, ProviderSpec, make_provider, resolve_api_key
from groundwork.llm.mock import MockProvider, deterministic_reply
from groundwork.llm.types import (
    Completion,
    Delta,
    Done,
    Message,
    Options,
    Role,
    StreamEvent,
    Timeouts,
    Usage,
)

__all__ = [
    "PROVIDER_TYPES",
    "AuthenticationError",
    "BadRequest",
    "Completer",
    "Completion",
    "Delta",
    "Done",
    "FinalError",
    "HTTPStatusError",
    "LLMConfigError",
    "LLMConnectionError",
    "LLMError",
    "LLMTimeout",
    "MalformedResponse",
    "Message",
    "MissingAPIKey",
    "MockProvider",
    "NotFound",
    "Options",
    "PermissionDenied",
    "Provider",
    "ProviderSpec",
    "RateLimited",
    "RetryableError",
    "Role",
    "ServerError",
    "StreamEvent",
    "Timeouts",
    "Usage",
    "classify",
    "deterministic_reply",
    "error_for_status",
    "make_provider",
    "mask_secret",
    "resolve_api_key",
]
