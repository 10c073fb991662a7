"""MCP tool arguments are type-checked against the tool's input schema, as the HTTP API's
strict body is: a wrong type is ``INVALID_REQUEST``, never coerced (``"false"`` is truthy)
and never an ``INTERNAL`` error. Over a real stdio subprocess with the SDK client."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

BAD = [
    ("search", {"query": "greet", "top": "abc"}, "'top' must be integer"),
    ("search", {"query": "greet", "top": "5"}, "'top' must be integer"),
    ("search", {"query": "greet", "top": 1.7}, "'top' must be integer"),
    ("search", {"query": "greet", "top": True}, "'top' must be integer"),
    ("search", {"query": "greet", "top": 0}, "'top' must be at least 1"),
    ("search", {"query": "greet", "strict": "false"}, "'strict' must be boolean"),
    ("search", {"query": "greet", "explain": "no"}, "'explain' must be boolean"),
    ("search", {"query": "greet", "matchMode": "most"}, "'matchMode' must be one of"),
    ("search", {"query": "greet", "ext": ["py", 3]}, "'ext' must be a list of strings"),
    ("search", {"query": "greet", "ext": 5}, "'ext' must be string or array"),
    ("build_index", {"sqlite": "no"}, "'sqlite' must be boolean"),
    ("index_status", {"repoPath": 7}, "'repoPath' must be string"),
]


def test_wrong_argument_types_are_invalid_requests(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "pairofcleats.cli", "service", "mcp", "--repo", str(repo)],
        env=env,
    )

    async def main() -> list[Any]:
        with anyio.fail_after(120):
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                out = [await session.call_tool(tool, args) for tool, args, _ in BAD]
                # null stays "not given": this reaches the index lookup (none built here)
                out.append(await session.call_tool("search", {"query": "greet", "top": None}))
                return out

    results = anyio.run(main)
    for (tool, args, expected), res in zip(BAD, results, strict=False):
        body = res.structured_content
        assert res.is_error is True, (tool, args)
        assert body["code"] == "INVALID_REQUEST", (tool, args, body)
        assert expected in body["message"], (tool, args, body)
    assert results[-1].structured_content["code"] == "NO_INDEX"
