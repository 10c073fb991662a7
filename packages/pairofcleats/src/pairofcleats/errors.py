"""The pairofcleats error tree: one root, each class carrying its §10 code, exit and HTTP status.

The CLI, the API server and the MCP server all turn errors into output in one place, by reading
``code``, ``exit_code`` and ``http_status`` off the class, so a new failure needs only a new
subclass here (or a subclass of one of these in the module that raises it).

::

    PairOfCleatsError            INTERNAL            1 / 500
    ├── InvalidRequest           INVALID_REQUEST     2 / 400   bad query, flag, body or mode
    │   ├── ConfigInvalid        CONFIG_INVALID      2 / 400   unknown key or wrong type
    │   └── PayloadTooLarge      PAYLOAD_TOO_LARGE   2 / 413   request body over maxBodyBytes
    ├── NoIndex                  NO_INDEX            1 / 409   no promoted build, bad current
    ├── IndexIncompatible        INDEX_INCOMPATIBLE  1 / 409   compatibilityKey mismatch
    ├── IndexInvalid             INDEX_INVALID       1 / 409   artifacts missing or corrupt
    ├── IndexLocked              INDEX_LOCKED        1 / 409   another writer holds locks/index.lock
    ├── ValidationFailed         VALIDATION_FAILED   1 / 409   the validation gate refused a build
    ├── CapabilityMissing        CAPABILITY_MISSING  1 / 409   e.g. explicit --ann without a model
    ├── Cancelled                CANCELLED         130 / 499   SIGINT/SIGTERM or client cancel
    ├── QueueOverloaded          QUEUE_OVERLOADED    1 / 503   MCP queue above queueMax
    ├── Unauthorized             UNAUTHORIZED        1 / 401   missing or wrong bearer token
    ├── Forbidden                FORBIDDEN           1 / 403   repoPath outside allowed roots
    ├── ToolTimeout              TOOL_TIMEOUT        1 / 504   an MCP tool ran past its deadline
    ├── StdoutGuardError         ERR_STDOUT_GUARD    1 / 500   a stray stdout write under --json
    └── Internal                 INTERNAL            1 / 500   a bug; traceback only with --verbose
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "CODES",
    "Cancelled",
    "CapabilityMissing",
    "ConfigInvalid",
    "Forbidden",
    "IndexIncompatible",
    "IndexInvalid",
    "IndexLocked",
    "Internal",
    "InvalidRequest",
    "NoIndex",
    "PairOfCleatsError",
    "PayloadTooLarge",
    "QueueOverloaded",
    "StdoutGuardError",
    "ToolTimeout",
    "Unauthorized",
    "ValidationFailed",
    "error_class_for",
    "exit_code_for",
    "http_status_for",
]


class PairOfCleatsError(Exception):
    """Root of every error pairofcleats raises on purpose.

    ``message`` is the one line a user sees; ``hint`` says how to fix it (e.g. the command to
    run); ``errors`` holds structured details (config issues, validation issues) for JSON output.
    """

    code: ClassVar[str] = "INTERNAL"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    default_hint: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.errors = errors

    def to_json(self) -> dict[str, Any]:
        """The wire/JSON shape ``{ok:false, code, message, hint?, errors?}`` of §9.6 / §10."""
        out: dict[str, Any] = {"ok": False, "code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.errors:
            out["errors"] = self.errors
        return out

    def one_line(self) -> str:
        """The single line the CLI prints: the problem, then the fix."""
        return f"{self.code}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class InvalidRequest(PairOfCleatsError):
    """Bad input: a malformed query (with its position), an unknown backend, mode or value."""

    code = "INVALID_REQUEST"
    exit_code = 2
    http_status = 400

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        position: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint, errors=errors)
        self.position = position

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.position is not None:
            out["position"] = self.position
        return out


class ConfigInvalid(InvalidRequest):
    """``.pairofcleats.json`` has an unknown key or a wrong type; ``errors`` lists every issue."""

    code = "CONFIG_INVALID"


class PayloadTooLarge(InvalidRequest):
    """An API request body larger than ``service.api.maxBodyBytes``."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class NoIndex(PairOfCleatsError):
    """No promoted build for the repo (or ``current.json`` is invalid)."""

    code = "NO_INDEX"
    http_status = 409
    default_hint = "build one with: pairofcleats index build"


class IndexIncompatible(PairOfCleatsError):
    """The index was built with different code constants or mixed compatibility keys."""

    code = "INDEX_INCOMPATIBLE"
    http_status = 409
    default_hint = "rebuild with: pairofcleats index build"


class IndexInvalid(PairOfCleatsError):
    """A promoted index whose pieces are missing or corrupt."""

    code = "INDEX_INVALID"
    http_status = 409
    default_hint = "rebuild with: pairofcleats index build"


class IndexLocked(PairOfCleatsError):
    """Another writer holds ``locks/index.lock``."""

    code = "INDEX_LOCKED"
    http_status = 409
    default_hint = "wait for the other build or pass --wait-lock SECONDS"


class ValidationFailed(PairOfCleatsError):
    """The validation gate found issues (``errors``); nothing was promoted."""

    code = "VALIDATION_FAILED"
    http_status = 409


class CapabilityMissing(PairOfCleatsError):
    """A feature that was asked for explicitly is unavailable (e.g. the embedding model)."""

    code = "CAPABILITY_MISSING"
    http_status = 409


class Cancelled(PairOfCleatsError):
    """The operation was cancelled by a signal or by the client."""

    code = "CANCELLED"
    exit_code = 130
    http_status = 499


class QueueOverloaded(PairOfCleatsError):
    """More than ``service.mcp.queueMax`` requests are pending."""

    code = "QUEUE_OVERLOADED"
    http_status = 503
    default_hint = "retry later"


class Unauthorized(PairOfCleatsError):
    """A missing or wrong ``Authorization: Bearer`` token."""

    code = "UNAUTHORIZED"
    http_status = 401
    default_hint = "send Authorization: Bearer <token>"


class Forbidden(PairOfCleatsError):
    """``repoPath`` does not resolve under an allowed repo root."""

    code = "FORBIDDEN"
    http_status = 403


class ToolTimeout(PairOfCleatsError):
    """An MCP tool call exceeded its time budget."""

    code = "TOOL_TIMEOUT"
    http_status = 504


class StdoutGuardError(PairOfCleatsError):
    """Something other than the final JSON object tried to write to stdout under ``--json``."""

    code = "ERR_STDOUT_GUARD"


class Internal(PairOfCleatsError):
    """An unexpected failure (a bug); the traceback is shown only with ``--verbose``."""

    code = "INTERNAL"


_ALL: tuple[type[PairOfCleatsError], ...] = (
    InvalidRequest,
    ConfigInvalid,
    PayloadTooLarge,
    NoIndex,
    IndexIncompatible,
    IndexInvalid,
    IndexLocked,
    ValidationFailed,
    CapabilityMissing,
    Cancelled,
    QueueOverloaded,
    Unauthorized,
    Forbidden,
    ToolTimeout,
    StdoutGuardError,
    Internal,
)

CODES: dict[str, type[PairOfCleatsError]] = {cls.code: cls for cls in _ALL}
"""Error code -> class, for decoding ``{code, message}`` objects back into exceptions."""


def error_class_for(code: str) -> type[PairOfCleatsError]:
    """The class for ``code``; unknown codes map to :class:`Internal`."""
    return CODES.get(code, Internal)


def exit_code_for(code: str) -> int:
    """The CLI exit status for an error code (§10)."""
    return error_class_for(code).exit_code


def http_status_for(code: str) -> int:
    """The HTTP status for an error code (§10)."""
    return error_class_for(code).http_status
