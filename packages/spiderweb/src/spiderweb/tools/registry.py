"""The tool set a worker gets (spec §9): read-only tools, ``write_file`` only when allowed."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from groundwork.proc.cancel import CancelToken

from spiderweb.tools.base import MemoryQueryFn, Tool, ToolContext
from spiderweb.tools.files import ListFilesTool, ReadFileTool, SearchTool, WriteFileTool
from spiderweb.tools.memory import MemoryQueryTool
from spiderweb.tools.settings import ToolsConfig


def default_tools(config: ToolsConfig | None = None, extra: Iterable[Tool] = ()) -> dict[str, Tool]:
    """Name → tool; ``extra`` (e.g. ``integrations.optional_tools()``) never replaces a built-in."""
    cfg = config or ToolsConfig()
    tools: dict[str, Tool] = {
        t.name: t for t in (ReadFileTool(), ListFilesTool(), SearchTool(), MemoryQueryTool())
    }
    if cfg.allow_write:
        tools["write_file"] = WriteFileTool()
    for t in extra:
        tools.setdefault(t.name, t)
    return tools


def workspace_root(config: ToolsConfig) -> Path | None:
    """The real workspace directory, or ``None`` when unset or missing (→ ``no_workspace``)."""
    if not config.workspace:
        return None
    root = Path(config.workspace).expanduser().resolve()
    return root if root.is_dir() else None


def make_context(
    config: ToolsConfig,
    *,
    cancel: CancelToken | None = None,
    memory_query: MemoryQueryFn | None = None,
) -> ToolContext:
    """A ``ToolContext`` for ``config``; one per task, so cancelling one task stops only it."""
    return ToolContext(
        workspace_root(config),
        cancel or CancelToken(),
        allow_write=config.allow_write,
        memory_query=memory_query,
    )
