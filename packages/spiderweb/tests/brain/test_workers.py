"""Workers (§9, §17.10-11): deterministic over a real tree, LLM via the mock provider."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from groundwork.llm import Message, MockProvider
from groundwork.llm.faults import status
from spiderweb.brain.settings import WorkersConfig
from spiderweb.brain.workers import (
    WorkerRunner,
    WorkItem,
    deterministic_worker,
    llm_worker,
    m10_text,
    parse_step,
    result_entry,
    title_terms,
)
from spiderweb.tools.base import Tool, ToolContext, ToolResult
from spiderweb.tools.registry import default_tools


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "parser.py").write_text("# the PLANTED_MARKER lives here\nparse = 1\n")
    (root / "notes.md").write_text("planted_marker again\nparser notes\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("planted_marker hidden\n")
    return root


def _tools() -> dict[str, Tool]:
    return default_tools()


def test_title_terms_and_texts() -> None:
    assert title_terms("Find the Parser and fix it, parser!") == [
        "find",
        "the",
        "parser",
        "and",
        "fix",
    ]
    assert m10_text("research", "look at the code") == "research: found 4 research terms"
    assert m10_text("execution", "do it") == "execution: found 2 execution steps"
    assert m10_text("status", "check") == "status: found 1 status checks"
    entry = result_entry(3, "research", "complete", "x" * 5000)
    assert entry.startswith("[task 3 research complete] x") and len(entry.encode()) <= 1024


async def test_research_finds_planted_string(ws: Path) -> None:
    item = WorkItem(1, "Locate planted_marker", "research")
    res = await deterministic_worker(item, _tools(), ToolContext(ws))
    assert res.status == "complete"
    assert (
        res.detail
        == 'research: found 2 matches for "locate planted_marker"; top: notes.md, src/parser.py'
    )


async def test_execution_reads_matching_file(ws: Path) -> None:
    item = WorkItem(2, "Update the parser", "execution")
    res = await deterministic_worker(item, _tools(), ToolContext(ws))
    assert res.detail == "execution: read src/parser.py (42 bytes)"
    none = await deterministic_worker(
        WorkItem(2, "zzz qqq", "execution"), _tools(), ToolContext(ws)
    )
    assert none.detail == 'execution: no files match "zzz qqq"'


async def test_status_and_no_workspace(ws: Path) -> None:
    item = WorkItem(3, "Report status now", "status", completed=2, total=4)
    assert (await deterministic_worker(item, _tools(), ToolContext(ws))).detail == (
        "status: 2 of 4 tasks complete"
    )
    for kind, text in [
        ("research", "research: found 3 research terms"),
        ("execution", "execution: found 3 execution steps"),
        ("status", "status: found 3 status checks"),
    ]:
        res = await deterministic_worker(WorkItem(1, "a b c", kind), _tools(), ToolContext(None))  # type: ignore[arg-type]
        assert (res.status, res.detail) == ("complete", text)


def _scripted(replies: Sequence[str]) -> MockProvider:
    queue = list(replies)

    def reply(_messages: Sequence[Message]) -> str:
        return queue.pop(0)

    return MockProvider(reply=reply)


async def test_llm_worker_uses_tools_then_finishes(ws: Path) -> None:
    provider = _scripted(
        [
            json.dumps({"tool": "search", "args": {"query": "planted_marker"}}),
            json.dumps({"tool": "read_file", "args": {"path": "../escape"}}),
            json.dumps({"final": "marker is in src/parser.py"}),
        ]
    )
    res = await llm_worker(
        WorkItem(1, "find it", "research", goal="g"), provider, _tools(), ToolContext(ws)
    )
    assert (res.status, res.detail, res.worker, res.steps) == (
        "complete",
        "marker is in src/parser.py",
        "llm",
        3,
    )
    second_call = provider.calls[1]
    assert "Tool search result (ok)" in second_call[-1].content
    assert "src/parser.py:1" in second_call[-1].content
    assert "error path_escape" in provider.calls[2][-1].content


async def test_llm_worker_one_corrective_retry(ws: Path) -> None:
    ok = _scripted(["sure, I will search", json.dumps({"final": "done"})])
    res = await llm_worker(WorkItem(1, "t", "research"), ok, _tools(), ToolContext(ws))
    assert res.status == "complete" and "not one valid JSON" in ok.calls[1][-1].content
    bad = _scripted(["nope", "still nope"])
    res = await llm_worker(WorkItem(1, "t", "research"), bad, _tools(), ToolContext(ws))
    assert res.status == "failed" and "invalid worker reply" in res.detail


async def test_llm_worker_step_limit_and_errors(ws: Path) -> None:
    loop = _scripted([json.dumps({"tool": "list_files"})] * 10)
    res = await llm_worker(WorkItem(1, "t", "status"), loop, _tools(), ToolContext(ws), max_steps=3)
    assert res.status == "failed" and res.detail == "status: no final answer after 3 steps"
    assert len(loop.calls) == 3
    unknown = _scripted([json.dumps({"tool": "rm", "args": {}}), json.dumps({"final": "ok"})])
    res = await llm_worker(WorkItem(1, "t", "status"), unknown, _tools(), ToolContext(ws))
    assert res.status == "complete" and "unknown_tool" in unknown.calls[1][-1].content
    failing = MockProvider(script=[status(500)])
    res = await llm_worker(WorkItem(1, "t", "status"), failing, _tools(), ToolContext(ws))
    assert res.status == "failed" and "provider error" in res.detail


def test_parse_step() -> None:
    assert parse_step('{"final": "x"}') == ("final", "x", {})
    assert parse_step('{"tool": "search", "args": {"query": "q"}}') == (
        "tool",
        "search",
        {"query": "q"},
    )
    for bad in ["[]", '{"tool": 1}', '{"tool": "a", "args": []}', "text"]:
        with pytest.raises(ValueError):
            parse_step(bad)


async def test_runner_modes(ws: Path) -> None:
    mock = MockProvider(reply=json.dumps({"final": "llm said"}))
    item = WorkItem(1, "Report", "status", completed=0, total=1)
    auto = WorkerRunner(mock, _tools())
    assert auto.mode == "deterministic"
    assert (await auto.run(item, ToolContext(ws))).detail == "status: 0 of 1 tasks complete"
    forced = WorkerRunner(mock, _tools(), WorkersConfig(mode="llm"))
    assert (await forced.run(item, ToolContext(ws))).detail == "llm said"


class _Blocking:
    name = "search"
    description = "blocks until cancelled"
    params: Mapping[str, Any] = {}

    def __init__(self) -> None:
        self.stopped = threading.Event()

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        def block() -> None:
            ctx.cancel.wait(30)
            self.stopped.set()

        await asyncio.to_thread(block)
        return ToolResult(True, "")


async def test_cancel_running_task_stops_tool_thread(ws: Path) -> None:
    blocking = _Blocking()
    tools: dict[str, Tool] = {**_tools(), "search": blocking}
    task = asyncio.create_task(
        deterministic_worker(WorkItem(1, "find things", "research"), tools, ToolContext(ws))
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(blocking.stopped.wait, 5)
