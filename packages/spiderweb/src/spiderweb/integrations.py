"""Optional integrations with the other systems, through their public ``api`` only.

``optional_tools(workspace)`` adds an ``index_search`` worker tool backed by
``pairofcleats.api.search`` when PairOfCleats is installed and offers it;
otherwise it returns nothing and spiderweb works as before. The import happens
here, lazily, and nowhere else. (The tool is named ``index_search`` so the
built-in literal ``search`` tool keeps its §9 semantics.)
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spiderweb.tools.base import Tool, ToolContext, ToolFailure, ToolResult, arg_int, arg_str

_REPO_NAMES = ("repo", "repo_root", "root")
_QUERY_NAMES = ("query", "q")
_TOP_NAMES = ("top", "limit", "n")


def _pairofcleats_search() -> Callable[..., Any] | None:
    try:
        api = importlib.import_module("pairofcleats.api")
    except ImportError:
        return None
    fn = getattr(api, "search", None)
    return fn if callable(fn) else None


def _call_kwargs(fn: Callable[..., Any], root: Path, query: str, top: int) -> dict[str, Any]:
    """Map our three inputs onto whichever parameter names the API uses."""
    try:
        names = set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = set()
    kwargs: dict[str, Any] = {}
    for group, value in ((_REPO_NAMES, str(root)), (_QUERY_NAMES, query), (_TOP_NAMES, top)):
        name = next((n for n in group if n in names), None)
        if name is not None:
            kwargs[name] = value
    if not any(n in kwargs for n in _QUERY_NAMES):
        raise ToolFailure("unavailable", "pairofcleats.api.search has no query parameter")
    return kwargs


def format_hits(result: Mapping[str, Any], limit: int) -> tuple[str, list[dict[str, Any]]]:
    """Text lines ``file:startLine-endLine kind name headline`` from a §9.6 result object."""
    if result.get("ok") is False:
        raise ToolFailure("search_failed", f"{result.get('code')}: {result.get('message')}")
    hits: list[dict[str, Any]] = []
    for mode in ("code", "prose", "extractedProse"):
        items = result.get(mode)
        if isinstance(items, list):
            hits.extend(h for h in items if isinstance(h, dict))
    hits = hits[:limit]
    lines = [
        f"{h.get('file')}:{h.get('startLine')}-{h.get('endLine')} "
        f"{h.get('kind') or ''} {h.get('name') or ''} {h.get('headline') or ''}".rstrip()
        for h in hits
    ]
    return "\n".join(lines) or "no matches", hits


@dataclass(frozen=True, slots=True)
class IndexSearchTool:
    """Ranked code/prose search of the workspace through PairOfCleats' index."""

    search_fn: Callable[..., Any]
    name: str = "index_search"
    description: str = "Ranked code and prose search of the workspace index (PairOfCleats)."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            },
            "required": ["query"],
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        if ctx.workspace is None:
            raise ToolFailure("no_workspace", "no workspace is configured (tools.workspace)")
        query = arg_str(args, "query")
        limit = arg_int(args, "limit", 10, 1, 50)
        kwargs = _call_kwargs(self.search_fn, ctx.workspace, query, limit)
        result = await asyncio.to_thread(self.search_fn, **kwargs)
        if not isinstance(result, Mapping):
            raise ToolFailure("search_failed", "pairofcleats returned no result object")
        text, hits = format_hits(result, limit)
        return ToolResult(True, text, data={"hits": hits})


def optional_tools() -> list[Tool]:
    """Tools whose system is installed; pass to ``tools.registry.default_tools(extra=...)``."""
    fn = _pairofcleats_search()
    return [IndexSearchTool(fn)] if fn is not None else []
