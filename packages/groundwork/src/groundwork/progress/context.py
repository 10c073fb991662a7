"""Progress context: the fields (``runId``, ``jobId``, …) a parent hands its children.

A supervisor puts a JSON object in ``GROUNDWORK_PROGRESS_CONTEXT``; every event
the child emits carries those fields, so the parent can attribute the child's
lines without rewriting them. Upstream's ``PAIROFCLEATS_PROGRESS_CONTEXT`` is
read as an alias; when both are set groundwork's keys win, and only
groundwork's variable is passed on. The environment is always passed in:
groundwork never reads ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from groundwork import jsonio
from groundwork.errors import JsonError, ProgressError

from .events import ENVELOPE_KEYS

__all__ = [
    "CONTEXT_ALIASES",
    "CONTEXT_ENV",
    "child_env",
    "context_from_env",
    "has_context",
]

CONTEXT_ENV = "GROUNDWORK_PROGRESS_CONTEXT"
CONTEXT_ALIASES: tuple[str, ...] = ("PAIROFCLEATS_PROGRESS_CONTEXT",)


def _read(env: Mapping[str, str], name: str) -> dict[str, Any]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return {}
    try:
        value = jsonio.loads(raw)
    except JsonError as exc:
        raise ProgressError(f"{name} is not valid JSON ({exc}); set it to a JSON object") from exc
    if not isinstance(value, dict):
        raise ProgressError(f"{name} must hold a JSON object, got {type(value).__name__}")
    return {k: v for k, v in value.items() if k not in ENVELOPE_KEYS}


def has_context(env: Mapping[str, str], aliases: Sequence[str] = CONTEXT_ALIASES) -> bool:
    """Whether a parent set a progress context (``auto`` mode then means jsonl)."""
    return any(env.get(name, "").strip() for name in (CONTEXT_ENV, *aliases))


def context_from_env(
    env: Mapping[str, str], aliases: Sequence[str] = CONTEXT_ALIASES
) -> dict[str, Any]:
    """The merged context object (empty when unset).

    Aliases are read first, then ``GROUNDWORK_PROGRESS_CONTEXT`` over them. The
    envelope keys (``proto``, ``event``, ``ts``, ``seq``) are dropped: a context
    adds fields, it never restamps events. A value that is not a JSON object
    raises ProgressError naming the variable.
    """
    merged: dict[str, Any] = {}
    for name in (*aliases, CONTEXT_ENV):
        merged.update(_read(env, name))
    return merged


def child_env(
    env: Mapping[str, str],
    context: Mapping[str, Any],
    aliases: Sequence[str] = CONTEXT_ALIASES,
) -> dict[str, str]:
    """A copy of ``env`` for a child process that carries ``context``.

    The alias variables are removed so the child sees exactly one context.
    """
    out = {k: v for k, v in env.items() if k not in aliases}
    clean = {k: v for k, v in context.items() if k not in ENVELOPE_KEYS}
    out[CONTEXT_ENV] = jsonio.dumps(clean).decode("utf-8")
    return out
