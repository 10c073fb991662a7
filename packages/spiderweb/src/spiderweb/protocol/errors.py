"""Error codes of spec §4.2 and the exception that carries one to the wire.

::

    FrameError          an inbound frame answered with ``error{code}`` (connection kept)
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every ``error.code`` the server sends; clients switch on these strings."""

    BAD_JSON = "bad_json"
    NOT_OBJECT = "not_object"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    UNSUPPORTED_FRAME = "unsupported_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    UNSUPPORTED_ACTION = "unsupported_action"
    INVALID_GOAL = "invalid_goal"
    NOT_FOUND = "not_found"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_TIMEOUT = "provider_timeout"
    INTERNAL = "internal"


#: Codes a client may simply retry later (the same frame can succeed).
RETRYABLE_CODES = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.BUSY, ErrorCode.PROVIDER_TIMEOUT, ErrorCode.INTERNAL}
)

MESSAGE_TOO_LARGE_TEXT = "Message too large for active context"
UNSUPPORTED_ACTION_TEXT = "agent.control unsupported action"


class FrameError(Exception):
    """An inbound frame that gets ``error{code, message, request}`` instead of a reply.

    ``request`` is the frame's own ``id`` when one could be read, so the client
    can match the error to what it sent.
    """

    def __init__(self, code: ErrorCode, message: str, request: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request = request
