"""``memory_query(topic, limit)``: the session's own recall, through a callback.

The tool cannot touch RAM (only the session actor may); the caller supplies
``ToolContext.memory_query``, which posts a query to the actor (or reads LTM)
and returns §4.1 items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spiderweb.tools.base import ToolContext, ToolFailure, ToolResult, arg_int, arg_str


@dataclass(frozen=True, slots=True)
class MemoryQueryTool:
    name: str = "memory_query"
    description: str = "Search this session's memory (RAM and archives) for a topic."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "topic": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 128, "default": 10},
            },
            "required": ["topic"],
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        if ctx.memory_query is None:
            raise ToolFailure("unavailable", "memory is not available to this worker")
        topic = arg_str(args, "topic")
        limit = arg_int(args, "limit", 10, 1, 128)
        items = await ctx.memory_query(topic, limit)
        lines = []
        for item in items:
            body = item.get("text") if item.get("kind") == "summary" else item.get("content")
            lines.append(f"[{item.get('source')} {item.get('kind')} {item.get('id')}] {body}")
        return ToolResult(True, "\n".join(lines) or "no memory matches", data={"items": items})
