"""The optional PairOfCleats tool appears only when its API offers ``search``."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from spiderweb import integrations
from spiderweb.tools.base import ToolContext, call_tool
from spiderweb.tools.registry import default_tools


def _fake_api(monkeypatch: pytest.MonkeyPatch, fn: Any) -> None:
    mod = types.ModuleType("pairofcleats.api")
    if fn is not None:
        mod.search = fn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pairofcleats.api", mod)


def test_absent_search_gives_no_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_api(monkeypatch, None)
    assert integrations.optional_tools() == []


async def test_index_search_tool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def search(query: str, *, repo: str, top: int = 5) -> dict[str, Any]:
        seen.update(query=query, repo=repo, top=top)
        hit = {
            "file": "a.py",
            "startLine": 1,
            "endLine": 3,
            "kind": "function",
            "name": "f",
            "headline": "def f()",
        }
        return {"ok": True, "query": query, "code": [hit], "prose": [], "extractedProse": []}

    _fake_api(monkeypatch, search)
    tools = integrations.optional_tools()
    assert [t.name for t in tools] == ["index_search"]
    registry = default_tools(extra=tools)
    assert registry["search"].name == "search" and "index_search" in registry
    res = await call_tool(tools[0], {"query": "f", "limit": 3}, ToolContext(tmp_path))
    assert res.ok and res.output == "a.py:1-3 function f def f()"
    assert seen == {"query": "f", "repo": str(tmp_path), "top": 3}
    no_ws = await call_tool(tools[0], {"query": "f"}, ToolContext(None))
    assert no_ws.error_code == "no_workspace"


async def test_index_search_error_object(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def search(query: str, repo: str) -> dict[str, Any]:
        return {"ok": False, "code": "NO_INDEX", "message": "build the index first"}

    _fake_api(monkeypatch, search)
    res = await call_tool(integrations.optional_tools()[0], {"query": "x"}, ToolContext(tmp_path))
    assert res.error_code == "search_failed" and "NO_INDEX" in res.output
