"""The MCP server over a real stdio subprocess, driven by the SDK client (acceptance 26)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from pairofcleats.errors import QueueOverloaded
from pairofcleats.service.mcp import McpState


def _params(repo: Path, env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "pairofcleats.cli", "service", "mcp", "--repo", str(repo)],
        env={**env, "PATH": os.environ.get("PATH", "")},
    )


async def _session_run(repo: Path, env: dict[str, str], body: Any) -> Any:
    async with (
        stdio_client(_params(repo, env)) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await body(session)


def _run(repo: Path, env: dict[str, str], body: Any) -> Any:
    async def main() -> Any:
        with anyio.fail_after(120):
            return await _session_run(repo, env, body)

    return anyio.run(main)


def test_tools_search_and_status_round_trip(built_fixture: Any) -> None:
    async def body(session: ClientSession) -> dict[str, Any]:
        tools = await session.list_tools()
        search = await session.call_tool("search", {"query": "greet", "mode": "code", "top": 3})
        compact = await session.call_tool("search", {"query": "greet", "compact": True})
        status = await session.call_tool("index_status", {})
        config = await session.call_tool("config_status", {})
        bad = await session.call_tool("search", {"query": 'greet "x'})
        unknown = await session.call_tool("search", {"query": "x", "nope": 1})
        nested = await session.call_tool("search", {"query": "x", "filters": {"lang": "py"}})
        output = await session.call_tool("search", {"query": "x", "output": "compact"})
        return {
            "tools": [t.name for t in tools.tools],
            "schemas": {t.name: t.input_schema for t in tools.tools},
            "descriptions": {t.name: t.description for t in tools.tools},
            "search": search,
            "compact": compact,
            "status": status,
            "config": config,
            "bad": bad,
            "unknown": unknown,
            "nested": nested,
            "output": output,
        }

    out = _run(built_fixture.repo, built_fixture.env, body)
    assert sorted(out["tools"]) == ["build_index", "config_status", "index_status", "search"]
    # an agent learns the tool from what list_tools says: every argument is described,
    # and the search description names the query syntax, including the 'and' operator
    for name, schema in out["schemas"].items():
        for key, prop in schema["properties"].items():
            assert prop.get("description"), (name, key)
    assert '"exact phrases"' in out["descriptions"]["search"]
    assert "and is an operator" in out["descriptions"]["search"]
    search = out["search"]
    assert search.is_error is False
    text = json.loads(search.content[0].text)
    assert text == search.structured_content
    assert "greet" in [h["name"] for h in text["code"]]
    hit = out["compact"].structured_content["code"][0]
    assert "metaV2" not in hit and "score" in hit
    status = out["status"].structured_content
    assert status["indexed"] is True and status["repo"] == str(built_fixture.repo)
    assert out["config"].structured_content["valid"] is True
    bad = out["bad"]
    assert bad.is_error is True
    assert bad.structured_content["code"] == "INVALID_REQUEST"
    assert json.loads(bad.content[0].text)["code"] == "INVALID_REQUEST"
    assert out["unknown"].is_error is True
    assert out["unknown"].structured_content["hint"].startswith("accepted: ")
    # nested filters and the API's output key: the hint names the MCP spelling
    assert out["nested"].is_error is True
    assert "top-level filter keys" in out["nested"].structured_content["hint"]
    assert out["output"].structured_content["hint"] == "for 'output' use \"compact\": true"


def test_build_index_sends_progress(built_fixture: Any, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(built_fixture.repo, repo, symlinks=True)
    env = {**built_fixture.env, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")}
    seen: list[tuple[float, float | None, str | None]] = []

    async def body(session: ClientSession) -> Any:
        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            seen.append((p, total, message))

        built = await session.call_tool(
            "build_index", {"stubEmbeddings": True}, progress_callback=on_progress
        )
        found = await session.call_tool("search", {"query": "add_numbers", "mode": "code"})
        return built, found

    built, found = _run(repo, env, body)
    assert built.is_error is False, built.content[0].text
    assert built.structured_content["promoted"] is True
    assert seen, "no notifications/progress received"
    assert seen[-1][0] == seen[-1][1] == 5.0
    assert [p for p, _t, _m in seen] == sorted(p for p, _t, _m in seen)
    assert found.structured_content["code"][0]["name"] == "add_numbers"


def test_no_index_is_an_error_result(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    env = {"PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache"), "HOME": str(tmp_path)}

    async def body(session: ClientSession) -> Any:
        return await session.call_tool("search", {"query": "greet"})

    res = _run(repo, env, body)
    assert res.is_error is True
    assert res.structured_content["code"] == "NO_INDEX"
    assert "index build" in res.structured_content["hint"]


def test_queue_overload_is_refused(tmp_path: Path) -> None:
    state = McpState(tmp_path, {}, queue_max=2)
    state.enter()
    state.enter()
    with pytest.raises(QueueOverloaded):
        state.enter()
    state.leave()
    state.enter()


def test_client_cancel_aborts_the_build(tmp_path: Path) -> None:
    from poc_fixtures.repo import make_fixture_repo

    files = {
        f"pkg/mod_{i:03d}.py": "".join(
            f'def func_{i}_{j}(value: int) -> int:\n    """Step {j} of module {i}."""\n'
            f"    return value * {j} + {i}\n\n\n"
            for j in range(30)
        )
        for i in range(300)
    }
    repo = make_fixture_repo(tmp_path / "repo", files)
    cache = tmp_path / "cache"
    env = {"PAIROFCLEATS_CACHE_ROOT": str(cache), "HOME": str(tmp_path)}

    async def body(session: ClientSession) -> Any:
        started = anyio.Event()

        async def on_progress(_p: float, _t: float | None, message: str | None) -> None:
            if message == "stage1 started":
                started.set()

        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await session.call_tool("build_index", {}, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(90):
                await started.wait()
            tg.cancel_scope.cancel()
        # the build stops at its next progress point and releases the lock
        for _ in range(300):
            status = await session.call_tool("index_status", {})
            if not status.structured_content["lock"]["held"]:
                return status
            await anyio.sleep(0.1)
        raise AssertionError("the cancelled build never released the lock")

    status = _run(repo, env, body)
    assert status.structured_content["indexed"] is False
    builds = next(cache.rglob("builds"), None)
    leftovers = [p.name for p in builds.iterdir() if p.is_dir()] if builds else []
    assert [n for n in leftovers if n != "attempts"] == []
