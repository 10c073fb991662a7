"""A definition named exactly like the query joins the sparse list (engine and lite alike).

BM25's length normalisation and the chunk weights (a function 2.0, a method 1.2) can leave a
long method named exactly as the query below many short functions that merely share its
sub-words; it then never reached the ranked list, so the name boost could not lift it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats import api, cli_search
from pairofcleats.build.api import build_index
from pairofcleats.search import lite, rank, scoring

SHORT = "class Helpers:\n" + "".join(
    f"    def validate_model_{i}(self, x):\n        return x + {i}\n\n" for i in range(20)
)
LONG_BODY = "".join(f"        step_{i} = self.compute_{i}(value, strict)\n" for i in range(60))
LONG = (
    "class Base:\n"
    "    def model_validate(self, value, strict):\n"
    '        """Check a value."""\n'
    f"{LONG_BODY}"
    "        return value\n"
)


@pytest.fixture
def repo(tmp_path: Path, build_env: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "short.py").write_text(SHORT)
    (root / "src" / "base.py").write_text(LONG)
    res = build_index(root, stub_embeddings=True, env=build_env)
    assert res["validation"]["ok"]
    return root


def _names(result: dict[str, Any]) -> list[str]:
    return [h["name"] for h in result["code"]]


def _search(repo: Path, env: dict[str, str], backend: str, **kw: Any) -> dict[str, Any]:
    return api.search(
        "model_validate", repo=repo, mode="code", top=2, backend=backend, ann=False, env=env, **kw
    )


def test_the_exact_name_reaches_the_results(repo: Path, build_env: dict[str, str]) -> None:
    for backend in ("memory", "sqlite"):
        out = _search(repo, build_env, backend, explain=True)
        assert "Base.model_validate" in _names(out), (backend, _names(out))
        hit = next(h for h in out["code"] if h["name"] == "Base.model_validate")
        assert hit["scoreBreakdown"]["symbol"]["name"] == "exact"
        assert out["stats"]["explain"]["modes"]["code"]["nameMatches"] == 1
    memory, sqlite = (_search(repo, build_env, b) for b in ("memory", "sqlite"))
    assert jsonio.dumps(memory["code"]) == jsonio.dumps(sqlite["code"])


def test_without_the_join_the_method_is_not_returned(
    repo: Path, build_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scenario really needs the join: with no names checked, the method is absent."""
    monkeypatch.setattr(rank, "NAME_MATCH_POOL", 0)
    assert "Base.model_validate" not in _names(_search(repo, build_env, "memory"))


@pytest.mark.parametrize("query", ["model_validate", "validate_model_3", "model_validate()"])
def test_the_cold_cli_path_agrees(repo: Path, build_env: dict[str, str], query: str) -> None:
    p = cli_search.parse(
        [query, "--repo", str(repo), "--json", "--backend", "sqlite", "--no-ann", "-n", "2"]
    )
    assert p is not None
    got = lite.search(p, build_env)
    assert got is not None  # answered by the lite path, not handed to the engine
    want = api.search(
        p["query"], repo=repo, mode=p["mode"], top=2, backend="sqlite", ann=False, env=build_env
    )
    assert jsonio.dumps(got) == jsonio.dumps(want)
    assert scoring.NAME_MATCH_POOL == rank.NAME_MATCH_POOL


def test_the_join_also_works_with_unfielded_bm25(repo: Path, build_env: dict[str, str]) -> None:
    # search.fieldWeights false ranks with plain BM25; the join only needs the name field's
    # postings (built anyway) but was skipped, so an exactly named definition outside the
    # sparse top 3 x top never got its name boost (on a real repo: ``request`` in requests)
    (repo / ".pairofcleats.json").write_text('{"search": {"fieldWeights": false}}')
    outs = []
    for backend in ("memory", "sqlite"):
        out = _search(repo, build_env, backend, explain=True)
        assert out["code"][0]["sparseType"] == "bm25"
        assert out["stats"]["explain"]["modes"]["code"].get("nameMatches") == 1, backend
        outs.append(_search(repo, build_env, backend))
    assert jsonio.dumps(outs[0]["code"]) == jsonio.dumps(outs[1]["code"])
    p = cli_search.parse(
        ["model_validate", "--repo", str(repo), "--json", "--backend", "sqlite", "--no-ann",
         "-n", "2"]
    )  # fmt: skip
    assert p is not None
    got = lite.search(p, build_env)
    assert got is not None
    assert jsonio.dumps(got["code"]) == jsonio.dumps(outs[1]["code"])
