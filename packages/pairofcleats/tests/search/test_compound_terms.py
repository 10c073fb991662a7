"""An identifier typed in lower case without separators finds the identifier.

Chunks hold sub-words (``super``, ``refine``), so ``superrefine`` had no posting and no typo
expansion reached it: agents that lower-case names (``asyncclient``, ``raiseforstatus``) got
nothing back, where ``rg -i`` finds them. Such a sub-word is now read as the identifier's
sub-words when every piece is in the vocabulary and the pieces occur consecutively (one
phrase n-gram); engine, sqlite and the cold CLI path agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats import api, cli_search
from pairofcleats.build.api import build_index
from pairofcleats.search import lite

SCHEMAS = """export function superRefine(fn) {
  return check(fn);
}

export function refineValue(value) {
  return value;
}

export function makeSuper(base) {
  return base;
}
"""
CLIENT = '''class AsyncClient:
    """An asynchronous client."""

    def raise_for_status(self):
        return self.status
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("compound")
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "schemas.js").write_text(SCHEMAS)
    (repo / "src" / "client.py").write_text(CLIENT)
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    res = build_index(repo, stub_embeddings=True, env=env)
    assert res["validation"]["ok"]
    return repo.resolve(), env


def _search(repo: tuple[Path, dict[str, str]], query: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ann", False)
    kw.setdefault("backend", "memory")
    return api.search(query, repo=repo[0], mode="code", top=3, env=repo[1], **kw)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("superrefine", "superRefine"),
        ("asyncclient", "AsyncClient"),
        ("raiseforstatus", "AsyncClient.raise_for_status"),
    ],
)
def test_a_lowercased_identifier_finds_it(
    repo: tuple[Path, dict[str, str]], backend: str, query: str, name: str
) -> None:
    out = _search(repo, query, backend=backend, explain=True)
    assert out["code"] and out["code"][0]["name"] == name, [h["name"] for h in out["code"]]
    warned = [w for w in out["warnings"] if w["code"] == "QUERY_TERM_EXPANDED"]
    assert warned and "matched as the sub-words" in warned[0]["message"]
    modes = out["stats"]["explain"]["modes"]["code"]
    assert "split" in modes["relaxed"]["steps"]
    assert query in modes["splits"]
    # ranked as the camel-cased query would be, definition-name boost included
    assert out["code"][0]["scoreBreakdown"]["symbol"]["name"] == "subwords"


def test_pieces_that_never_meet_are_no_split(repo: tuple[Path, dict[str, str]]) -> None:
    # refine and super are both words of the index, but never consecutive as "refine super"
    out = _search(repo, "refinesuper", explain=True)
    assert out["stats"]["explain"]["modes"]["code"]["splits"] == {}
    assert not any("sub-words" in w["message"] for w in out["warnings"])


def test_strict_and_negation_do_not_split(repo: tuple[Path, dict[str, str]]) -> None:
    assert _search(repo, "superrefine", strict=True)["code"] == []
    out = _search(repo, "refine -superrefine")  # a negated term stays as written
    assert "superRefine" in [h["name"] for h in out["code"]]


@pytest.mark.parametrize("query", ["superrefine", "raiseforstatus"])
def test_the_cold_cli_path_agrees(repo: tuple[Path, dict[str, str]], query: str) -> None:
    argv = [query, "--repo", str(repo[0]), "--json", "--backend", "sqlite", "--no-ann"]
    p = cli_search.parse([*argv, "--mode", "code", "-n", "3"])
    assert p is not None
    got = lite.search(p, repo[1])
    assert got is not None  # answered by the lite path
    want = _search(repo, query, backend="sqlite")
    assert jsonio.dumps(got) == jsonio.dumps(want)
    assert got["code"] and got["code"][0]["name"] != ""
