"""Stable JSON: one canonical byte form for hashing, diffing and JSONL.

(Minimal first cut: ``dumps``/``loads``; the full module follows.)
"""

from __future__ import annotations

import json
from typing import Any

from groundwork.errors import JsonError

__all__ = ["JsonError", "dumps", "loads"]


def dumps(value: Any) -> bytes:
    """Canonical bytes: sorted keys, compact separators, UTF-8, no NaN."""
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise JsonError(str(exc)) from exc


def loads(data: bytes | str) -> Any:
    """Parse JSON, rejecting NaN/Infinity."""

    def _no_const(name: str) -> Any:
        raise JsonError(f"{name} is not valid JSON")

    try:
        return json.loads(data, parse_constant=_no_const)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg, line=exc.lineno, col=exc.colno) from exc
    except UnicodeDecodeError as exc:
        raise JsonError(f"invalid UTF-8: {exc}") from exc
