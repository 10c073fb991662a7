"""Sandboxed file tools (§9, §17.11) on a real tree."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from groundwork.proc.cancel import CancelToken
from spiderweb.tools.base import Tool, ToolContext, ToolResult, call_tool
from spiderweb.tools.files import (
    ListFilesTool,
    ReadFileTool,
    SearchTool,
    WriteFileTool,
    glob_regex,
)
from spiderweb.tools.memory import MemoryQueryTool
from spiderweb.tools.registry import default_tools, make_context, workspace_root
from spiderweb.tools.settings import ToolsConfig


def _ctx(root: Path | None, **kw: Any) -> ToolContext:
    return ToolContext(root, **kw)


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("../secret.txt", "path_escape"),
        ("/etc/passwd", "path_escape"),
        ("escape.txt", "path_escape"),
        ("escdir/secret.txt", "path_escape"),
        ("src/../../secret.txt", "path_escape"),
        (".git/config", "hidden"),
        ("gitlink/config", "hidden"),
        (".spiderweb-ltm/x.json", "hidden"),
        ("blob.bin", "binary"),
        ("big.txt", "too_large"),
        ("nope.txt", "not_found"),
        ("src", "not_a_file"),
    ],
)
async def test_read_file_refusals(workspace: Path, path: str, code: str) -> None:
    res = await call_tool(ReadFileTool(), {"path": path}, _ctx(workspace))
    assert not res.ok and res.error_code == code


async def test_read_file_ok_and_offsets(workspace: Path) -> None:
    res = await call_tool(ReadFileTool(), {"path": "src/pkg/core.py"}, _ctx(workspace))
    assert res.ok and "NEEDLE" in res.output
    assert res.data is not None and res.data["bytes"] == 37
    part = await call_tool(
        ReadFileTool(), {"path": "README.md", "offset": 6, "max_bytes": 4}, _ctx(workspace)
    )
    assert part.output == "work"


async def test_invalid_args(workspace: Path) -> None:
    res = await call_tool(ReadFileTool(), {"path": 5}, _ctx(workspace))
    assert res.error_code == "invalid_args"
    res = await call_tool(ListFilesTool(), {"limit": "5"}, _ctx(workspace))
    assert res.error_code == "invalid_args"


async def test_no_workspace() -> None:
    cases: list[tuple[Tool, dict[str, Any]]] = [
        (ReadFileTool(), {"path": "a"}),
        (ListFilesTool(), {}),
        (SearchTool(), {"query": "x"}),
    ]
    for tool, args in cases:
        res = await call_tool(tool, args, _ctx(None))
        assert res.error_code == "no_workspace"


async def test_list_files_hides_and_skips_escapes(workspace: Path) -> None:
    res = await call_tool(ListFilesTool(), {}, _ctx(workspace))
    assert res.data is not None
    assert res.data["paths"] == [
        "README.md",
        "big.txt",
        "blob.bin",
        "docs/guide.md",
        "src/pkg/core.py",
        "src/pkg/util.py",
    ]
    py = await call_tool(ListFilesTool(), {"glob": "**/*.py", "limit": 1}, _ctx(workspace))
    assert py.data is not None and py.data["paths"] == ["src/pkg/core.py"] and py.data["truncated"]


def test_glob_regex() -> None:
    assert glob_regex("**/*").match("a.txt")
    assert glob_regex("*.py").match("a.py") and not glob_regex("*.py").match("d/a.py")
    assert glob_regex("src/**").match("src/a/b.c")
    assert glob_regex("d?c/*.md").match("doc/x.md")


async def test_search_finds_planted_string(workspace: Path) -> None:
    res = await call_tool(SearchTool(), {"query": "needle"}, _ctx(workspace))
    assert res.ok and res.data is not None
    paths = [m["path"] for m in res.data["matches"]]
    assert paths == ["docs/guide.md", "src/pkg/core.py"]  # no hidden, binary, big, escapes
    assert "src/pkg/core.py:2: return 'NEEDLE here'" in res.output
    only_md = await call_tool(SearchTool(), {"query": "NEEDLE", "glob": "**/*.md"}, _ctx(workspace))
    assert only_md.data is not None and len(only_md.data["matches"]) == 1
    none = await call_tool(SearchTool(), {"query": "zzzz"}, _ctx(workspace))
    assert none.output == "no matches"


async def test_write_file_only_when_allowed(workspace: Path) -> None:
    tool = WriteFileTool()
    denied = await call_tool(tool, {"path": "new.txt", "content": "x"}, _ctx(workspace))
    assert denied.error_code == "write_disabled"
    ok = await call_tool(
        tool, {"path": "out/new.txt", "content": "hé"}, _ctx(workspace, allow_write=True)
    )
    assert ok.ok and (workspace / "out" / "new.txt").read_text() == "hé"
    for path, code in [("../x", "path_escape"), (".git/x", "hidden"), ("escdir/x", "path_escape")]:
        res = await call_tool(
            tool, {"path": path, "content": "x"}, _ctx(workspace, allow_write=True)
        )
        assert res.error_code == code
    assert "write_file" not in default_tools()
    assert "write_file" in default_tools(ToolsConfig(allow_write=True))


class _HangingTool:
    name = "hang"
    description = "never returns"
    params: Mapping[str, Any] = {}

    def __init__(self) -> None:
        self.token_fired = threading.Event()

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        def block() -> None:
            ctx.cancel.wait(30)
            self.token_fired.set()

        await asyncio.to_thread(block)
        return ToolResult(True, "late")


async def test_hanging_tool_times_out_and_its_thread_stops() -> None:
    tool = _HangingTool()
    res = await call_tool(tool, {}, _ctx(None), timeout_s=0.1)
    assert res.error_code == "timeout"
    assert await asyncio.to_thread(tool.token_fired.wait, 5)


async def test_cancel_token_stops_running_call() -> None:
    tool = _HangingTool()
    token = CancelToken()
    task = asyncio.create_task(call_tool(tool, {}, _ctx(None, cancel=token), timeout_s=30))
    await asyncio.sleep(0.05)
    token.cancel()
    await asyncio.to_thread(tool.token_fired.wait, 5)
    res = await asyncio.wait_for(task, 5)
    assert res.ok  # the tool itself decided what to return once told to stop
    assert (await call_tool(tool, {}, _ctx(None, cancel=token))).error_code == "cancelled"


async def test_output_capped() -> None:
    class Loud:
        name = "loud"
        description = "big output"
        params: Mapping[str, Any] = {}

        async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
            return ToolResult(True, "é" * 10000)

    res = await call_tool(Loud(), {}, _ctx(None))
    assert len(res.output.encode()) <= 8192 and res.output.endswith("[output truncated]")


async def test_memory_query_tool() -> None:
    async def query(topic: str, limit: int) -> list[dict[str, Any]]:
        return [{"kind": "summary", "source": "ram", "id": 3, "text": f"{topic}:{limit}"}]

    res = await call_tool(MemoryQueryTool(), {"topic": "cats"}, _ctx(None, memory_query=query))
    assert res.output == "[ram summary 3] cats:10"
    res = await call_tool(MemoryQueryTool(), {"topic": "cats"}, _ctx(None))
    assert res.error_code == "unavailable"


def test_registry_context(workspace: Path, tmp_path: Path) -> None:
    cfg = ToolsConfig(workspace=str(workspace))
    assert workspace_root(cfg) == workspace.resolve()
    assert workspace_root(ToolsConfig(workspace=str(tmp_path / "missing"))) is None
    ctx = make_context(cfg)
    assert ctx.workspace == workspace.resolve() and not ctx.allow_write
