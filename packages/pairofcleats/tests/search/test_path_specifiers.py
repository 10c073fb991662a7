"""A one-separator term without extension names files the way an import specifier does.

``core/buildFullPath`` (``import x from '../core/buildFullPath'``) gives no §9.2 path signal
(one separator, no dot-extension), so it used to rank only on its sub-words: the file's own
chunks hold no ``core``, and the importers (which quote the specifier) came first. It now
matches file paths where no letter or digit precedes it, like the typed paths do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats import api, cli_search
from pairofcleats.build.api import build_index
from pairofcleats.search import lite
from pairofcleats.search.intent import classify_intent, is_segment_path

TARGET = """export function buildFullPath(baseURL, requestedURL) {
  return combine(baseURL, requestedURL);
}
"""
IMPORTER = """import buildFullPath from '../core/buildFullPath';

export function dispatch{i}(config) {{
  const core = config.core;
  return buildFullPath(core.baseURL, config.url);
}}
"""
PRIVATE = """def handle_request(request):
    return request
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("specifiers")
    repo = root / "repo"
    (repo / "lib" / "core").mkdir(parents=True)
    (repo / "lib" / "adapters").mkdir(parents=True)
    (repo / "pkg" / "_transports").mkdir(parents=True)
    (repo / "lib" / "core" / "buildFullPath.js").write_text(TARGET)
    for i in range(6):  # more importers than a page: "all" never relaxes on its own
        (repo / "lib" / "adapters" / f"a{i}.js").write_text(IMPORTER.format(i=i))
    (repo / "pkg" / "_transports" / "default.py").write_text(PRIVATE)
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    res = build_index(repo, stub_embeddings=True, env=env)
    assert res["validation"]["ok"]
    return repo.resolve(), env


def _search(repo: tuple[Path, dict[str, str]], query: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ann", False)
    return api.search(query, repo=repo[0], mode="code", top=3, env=repo[1], **kw)


def test_predicate() -> None:
    for text in ("core/buildFullPath", "locales/en", "transports/default", "core/schemas,"):
        assert is_segment_path(text), text
    for text in ("src/greet.py", "a/b/c", "./x", "core", "/", "a/", "/b", "-/-", "http://x"):
        assert not is_segment_path(text), text
    # no path signal for intent, as §9.2 says (and/or is not a path)
    assert classify_intent("core/schemas").type != "path"
    assert classify_intent("and/or").type != "path"


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("query", "file"),
    [
        ("core/buildFullPath", "lib/core/buildFullPath.js"),
        ("transports/default", "pkg/_transports/default.py"),
    ],
)
def test_a_specifier_ranks_its_file_first(
    repo: tuple[Path, dict[str, str]], backend: str, query: str, file: str
) -> None:
    out = _search(repo, query, backend=backend)
    assert out["code"] and out["code"][0]["file"] == file, [h["file"] for h in out["code"]]
    assert any(w["code"] == "QUERY_RELAXED" for w in out["warnings"])


def test_a_specifier_matches_at_a_segment_start_only(repo: tuple[Path, dict[str, str]]) -> None:
    # "e/buildFullPath" is a substring of lib/core/buildFullPath.js, but not a path segment
    out = _search(repo, "e/buildFullPath")
    assert not any("also matches the chunks" in w["message"] for w in out["warnings"])


def test_strict_and_no_file_keep_the_old_meaning(repo: tuple[Path, dict[str, str]]) -> None:
    # a specifier no file holds is an ordinary term; --strict keeps every term hard
    out = _search(repo, "and/or")
    assert not any("also matches the chunks" in w["message"] for w in out["warnings"])
    strict = _search(repo, "core/buildFullPath", strict=True)
    assert {h["file"] for h in strict["code"]} <= {f"lib/adapters/a{i}.js" for i in range(6)}


def test_the_cold_cli_path_leaves_specifiers_to_the_engine(
    repo: tuple[Path, dict[str, str]],
) -> None:
    argv = ["core/buildFullPath", "--repo", str(repo[0]), "--json", "--backend", "sqlite"]
    p = cli_search.parse([*argv, "--no-ann", "--mode", "code", "-n", "3"])
    assert p is not None
    assert lite.search(p, repo[1]) is None  # handed to the engine
    want = _search(repo, "core/buildFullPath", backend="sqlite")
    assert want["code"][0]["file"] == "lib/core/buildFullPath.js"
    assert jsonio.dumps(want["code"]) == jsonio.dumps(
        _search(repo, "core/buildFullPath", backend="memory")["code"]
    )
