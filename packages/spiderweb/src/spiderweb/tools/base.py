"""The tool seam (spec §9): ``Tool`` protocol, ``ToolResult``, ``ToolContext``, ``call_tool``.

Workers only ever call ``call_tool``: it applies the per-call timeout
(``tools.call_timeout_s``), gives the tool a per-call cancel token that fires
on timeout or when the worker's token fires (so a tool thread stops reading
files), caps the output at 8 KiB, and turns every failure into a
``ToolResult`` with an ``error_code`` instead of an exception.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from groundwork.proc.cancel import Cancelled, CancelToken

from spiderweb.memory.ram import truncate_utf8, utf8_len

log = logging.getLogger("spiderweb.tools")

MAX_OUTPUT_BYTES = 8192

MemoryQueryFn = Callable[[str, int], Awaitable[list[dict[str, Any]]]]


class ToolFailure(Exception):
    """Raised inside a tool to answer ``ToolResult(ok=False, error_code=code)``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer; ``output`` is text for the model, ``data`` structured for workers."""

    ok: bool
    output: str
    error_code: str | None = None
    data: Mapping[str, Any] | None = None

    @classmethod
    def fail(cls, code: str, message: str) -> ToolResult:
        return cls(False, message, code)

    def capped(self) -> ToolResult:
        """The same result with ``output`` cut to 8 KiB at a character boundary."""
        if utf8_len(self.output) <= MAX_OUTPUT_BYTES:
            return self
        marker = "\n…[output truncated]"
        cut = truncate_utf8(self.output, MAX_OUTPUT_BYTES - utf8_len(marker)) + marker
        return dataclasses.replace(self, output=cut)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "output": self.output, "error_code": self.error_code}


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may use: the real workspace root (or none), a cancel token, callbacks."""

    workspace: Path | None
    cancel: CancelToken = field(default_factory=CancelToken)
    allow_write: bool = False
    memory_query: MemoryQueryFn | None = None


@runtime_checkable
class Tool(Protocol):
    """A worker tool. ``params`` is a JSON schema of ``args``, shown to LLM workers."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult: ...


async def call_tool(
    tool: Tool, args: Mapping[str, Any], ctx: ToolContext, *, timeout_s: float = 10.0
) -> ToolResult:
    """Run one tool call with timeout, cancellation and output cap; never raises on failure.

    ``asyncio.CancelledError`` (the worker task was cancelled) still propagates,
    after the call's token has fired so a tool thread winds down.
    """
    if ctx.cancel.cancelled:
        return ToolResult.fail("cancelled", "cancelled")
    call_token = CancelToken()

    def forward() -> None:
        call_token.cancel("cancelled")

    remove = ctx.cancel.add_callback(forward)
    call_ctx = dataclasses.replace(ctx, cancel=call_token)
    try:
        result = await asyncio.wait_for(tool.run(args, call_ctx), timeout_s)
    except TimeoutError:
        call_token.cancel("timeout")
        return ToolResult.fail("timeout", f"{tool.name} timed out after {timeout_s:g} s")
    except asyncio.CancelledError:
        call_token.cancel("cancelled")
        raise
    except ToolFailure as exc:
        return ToolResult.fail(exc.code, exc.message)
    except Cancelled:
        return ToolResult.fail("cancelled", f"{tool.name} cancelled")
    except Exception as exc:
        log.exception("tool %s failed", tool.name)
        return ToolResult.fail("tool_error", f"{tool.name} failed: {type(exc).__name__}")
    finally:
        remove()
    return result.capped()


def arg_str(args: Mapping[str, Any], name: str, default: str | None = None) -> str:
    """A required (or defaulted) string argument; wrong type → ``invalid_args``."""
    value = args.get(name, default)
    if not isinstance(value, str):
        raise ToolFailure("invalid_args", f"argument {name!r} must be a string")
    return value


def arg_int(args: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    """An int argument within ``lo..hi``; wrong type or range → ``invalid_args``."""
    value = args.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ToolFailure("invalid_args", f"argument {name!r} must be an int in {lo}..{hi}")
    return value
