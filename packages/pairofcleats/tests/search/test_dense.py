"""Dense ranking (§7, §9.4): exact cosine, HNSW above the threshold, MinHash fallback, and
the provider-unavailable paths (R4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pairofcleats import api
from pairofcleats.errors import CapabilityMissing
from pairofcleats.search.filters import Filters
from pairofcleats.search.searcher import Searcher, SearchRequest
from poc_fixtures.repo import make_fixture_repo

from .conftest import BuiltIndex, build


def _built(root: Path, cfg: dict[str, Any], embeddings: str | None) -> BuiltIndex:
    repo = make_fixture_repo(root / "repo")
    (repo / ".pairofcleats.json").write_text(json.dumps(cfg), encoding="utf-8")
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    build(repo, env, embeddings=embeddings)
    return BuiltIndex(repo.resolve(), root / "cache", env)


@pytest.fixture(scope="module")
def hnsw_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    return _built(
        tmp_path_factory.mktemp("hnsw"), {"search": {"ann": {"hnswMinVectors": 1}}}, "stub"
    )


def _dense_only(idx: BuiltIndex, query: str, **kw: Any) -> dict[str, Any]:
    return api.search(query, repo=idx.repo, env=idx.env, mode="code", top=5, ann=True, **kw)


def test_hnsw_is_used_and_agrees_with_exact(hnsw_index: BuiltIndex) -> None:
    code = Searcher(hnsw_index.repo, env=hnsw_index.env).mode_index("code")
    assert code is not None and code.hnsw() is not None
    auto = _dense_only(hnsw_index, "zzqv nothing matches", explain=True)
    exact = _dense_only(hnsw_index, "zzqv nothing matches", ann_backend="exact")
    assert auto["code"] and {h["annSource"] for h in auto["code"]} == {"hnsw"}
    assert {h["annSource"] for h in exact["code"]} == {"dense"}
    assert [h["id"] for h in auto["code"]] == [h["id"] for h in exact["code"]]
    for a, b in zip(auto["code"], exact["code"], strict=True):
        assert a["annScore"] == pytest.approx(b["annScore"], abs=1e-4)
        assert a["scoreType"] == "ann"


def test_a_query_the_graph_answers_builds_no_float_matrix(hnsw_index: BuiltIndex) -> None:
    # building the dequantised matrix before asking the graph cost a cold CLI search on
    # /usr/include (500k vectors) 1.3 GB of RSS and ~2 s
    searcher = Searcher(hnsw_index.repo, env=hnsw_index.env)
    res = searcher.search(SearchRequest(query="zzqv nothing matches", mode="code", ann=True))
    assert res["code"] and {h["annSource"] for h in res["code"]} == {"hnsw"}
    code = searcher.mode_index("code")
    assert code is not None
    assert "dense:merged" not in code._values and "dense-info:merged" in code._values
    filtered = SearchRequest(
        query="zzqv nothing matches",
        mode="code",
        ann=True,
        ann_backend="exact",
        filters=Filters(lang=("go",)),
    )
    assert {h["annSource"] for h in searcher.search(filtered)["code"]} == {"dense"}
    assert "dense:merged" not in code._values and "dense-raw:merged" in code._values
    exact = SearchRequest(query="zzqv nothing matches", mode="code", ann=True, ann_backend="exact")
    assert {h["annSource"] for h in searcher.search(exact)["code"]} == {"dense"}
    assert "dense:merged" in code._values and "dense-raw:merged" not in code._values


def test_filters_gate_dense_ranking(hnsw_index: BuiltIndex) -> None:
    res = _dense_only(hnsw_index, "zzqv nothing", filters={"lang": ["go"]})
    assert res["code"] and all(h["lang"] == "go" for h in res["code"])


def test_dense_rows_are_cosines_of_stub_vectors(search_index: BuiltIndex) -> None:
    res = api.search(
        "greet", repo=search_index.repo, env=search_index.env, mode="code", top=3, ann=True
    )
    for hit in res["code"]:
        if hit["annScore"] is not None:
            assert -1.0 <= hit["annScore"] <= 1.0
            assert hit["annType"] == "merged"


def test_minhash_fallback_without_vectors(tmp_path: Path) -> None:
    idx = _built(tmp_path, {"search": {"ann": {"minhashFallback": True}}}, None)
    # upstream's hash family is nearly linear in the seed, so a chunk's minima mostly come
    # from its smallest token (often punctuation); a query sharing it scores high
    res = api.search(
        "add_numbers(a, b)", repo=idx.repo, env=idx.env, mode="code", ann=True, explain=True
    )
    sources = {h["annSource"] for h in res["code"]}
    assert "minhash" in sources
    assert res["code"][0]["name"] == "add_numbers"
    fused = [h for h in res["code"] if h["annSource"] == "minhash"]
    assert all(0.0 < h["annScore"] <= 1.0 for h in fused)


def test_unavailable_provider_warns_or_fails_when_explicit(
    search_index: BuiltIndex, tmp_path: Path
) -> None:
    idx = search_index.copy(tmp_path)
    code = Searcher(idx.repo, env=idx.env).mode_index("code")
    assert code is not None
    state_path = code.dir / "index_state.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    state["embeddings"]["provider"] = "retired-model"
    state_path.write_text(json.dumps(state), encoding="utf-8")
    res = api.search("greet", repo=idx.repo, env=idx.env, mode="code")
    assert any(w["code"] == "EMBEDDINGS_UNAVAILABLE" for w in res["warnings"])
    assert res["code"] and all(h["annScore"] is None for h in res["code"])
    with pytest.raises(CapabilityMissing):
        api.search("greet", repo=idx.repo, env=idx.env, mode="code", ann=True)


def test_explicit_ann_without_vectors_fails(tmp_path: Path) -> None:
    # an index built with embeddings off: an explicit --ann used to rank sparse-only in
    # silence (R4: never a silent empty dense list); the default ann stays quiet
    import os
    import subprocess
    import sys

    idx = _built(tmp_path, {}, None)
    res = api.search("greet", repo=idx.repo, env=idx.env, mode="code")
    assert res["code"] and all(h["annScore"] is None for h in res["code"])
    assert not res["warnings"]
    with pytest.raises(CapabilityMissing, match="built without embeddings"):
        api.search("greet", repo=idx.repo, env=idx.env, mode="code", ann=True)
    # the CLI's light sqlite/memory path must not answer it either
    for backend in ("memory", "sqlite"):
        proc = subprocess.run(
            [sys.executable, "-m", "pairofcleats.cli", "search", "greet", "--repo",
             str(idx.repo), "--mode", "code", "--ann", "--backend", backend, "--json"],
            env={**os.environ, **idx.env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["code"] == "CAPABILITY_MISSING"
