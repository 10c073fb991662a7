"""End-to-end search over a real build of the fixture repo (acceptance 8, 15, 15b, 18, 27)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pairofcleats import api
from pairofcleats.errors import InvalidRequest, NoIndex
from pairofcleats.search.render import COMPACT_KEYS
from pairofcleats.search.searcher import Searcher, SearchRequest

from .conftest import BuiltIndex


def _search(idx: BuiltIndex, query: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ann", False)
    return api.search(query, repo=idx.repo, env=idx.env, **kw)


def _names(result: dict[str, Any], key: str = "code") -> list[str]:
    return [h["name"] for h in result[key]]


@pytest.mark.parametrize(
    "query", ["greet", "sum", "clamp", "Greeter", "add_numbers", "cppMultiply", "rust_greet"]
)
@pytest.mark.parametrize("ann", [False, True])
def test_acceptance_code_queries_find_their_chunk(
    search_index: BuiltIndex, query: str, ann: bool
) -> None:
    res = _search(search_index, query, mode="code", ann=ann)
    assert query in _names(res)[:5]


def test_prose_query_guide(search_index: BuiltIndex) -> None:
    res = _search(search_index, "guide", mode="prose")
    top = res["prose"][0]
    assert (top["file"], top["name"]) == ("docs/guide.md", "Guide")


def test_json_shape_and_full_hit_keys(search_index: BuiltIndex) -> None:
    res = _search(search_index, "greet")
    assert res["ok"] is True
    assert res["query"] == "greet"
    assert {"ok", "query", "backend", "code", "prose", "extractedProse", "warnings"} <= set(res)
    hit = res["code"][0]
    full_keys = (
        "id chunkId chunkUid file start end startLine endLine ext lang kind name headline "
        "signature doc metaV2 score scoreType sparseScore sparseType annScore annSource annType"
    )
    for key in full_keys.split():
        assert key in hit, key
    assert hit["scoreType"] == "bm25-fielded"


def test_compact_keys_are_exact(search_index: BuiltIndex) -> None:
    res = _search(search_index, "greet", compact=True)
    for key in ("code", "prose", "extractedProse"):
        for hit in res[key]:
            assert tuple(hit) == COMPACT_KEYS


def test_explain_has_versioned_breakdown(search_index: BuiltIndex) -> None:
    res = _search(search_index, "greet", explain=True, ann=True)
    hit = res["code"][0]
    bd = hit["scoreBreakdown"]
    assert bd["schemaVersion"] == 1
    assert bd["selected"]["type"] == hit["scoreType"]
    assert set(bd) == {
        "schemaVersion",
        "selected",
        "sparse",
        "ann",
        "rrf",
        "blend",
        "phrase",
        "symbol",
    }
    assert res["stats"]["explain"]["intent"]["type"] in ("code", "mixed")


def test_rrf_fusion_with_dense(search_index: BuiltIndex) -> None:
    res = _search(search_index, "greet", mode="code", ann=True, explain=True)
    fused = [h for h in res["code"] if h["scoreType"] == "rrf"]
    assert fused
    for hit in fused:
        rrf = hit["scoreBreakdown"]["rrf"]
        want = rrf["sparseRrf"] + rrf["annRrf"]
        assert rrf["score"] == pytest.approx(want)
        if rrf["sparseRank"]:
            assert rrf["sparseRrf"] == pytest.approx(1 / (60 + rrf["sparseRank"]))


def test_negations_exclude(search_index: BuiltIndex) -> None:
    base = _names(_search(search_index, "greet", mode="code", top=10))
    assert "rust_greet" in base
    for q in ("greet -rust", "greet - rust", "greet !rust", "greet NOT rust"):
        assert "rust_greet" not in _names(_search(search_index, q, mode="code", top=10)), q


def test_negated_phrase_and_phrase(search_index: BuiltIndex) -> None:
    hits = _search(search_index, '"add numbers"', mode="code")["code"]
    assert [h["name"] for h in hits][:1] == ["add_numbers"]
    res = _search(search_index, 'add -"add numbers"', mode="code", top=20)
    assert "add_numbers" not in _names(res)


def test_or_and_parentheses(search_index: BuiltIndex) -> None:
    res = _search(search_index, "(clamp OR cppMultiply)", mode="code", top=10)
    assert {"clamp", "cppMultiply"} <= set(_names(res))
    strict = _search(search_index, "greet AND person", mode="code", top=10)
    assert _names(strict) == ["rust_greet", "Person"]  # Person: "A person to greet."


def test_unbalanced_quote_is_invalid_request(search_index: BuiltIndex) -> None:
    with pytest.raises(InvalidRequest) as info:
        _search(search_index, 'greet "oops')
    assert info.value.exit_code == 2


def test_typo_expansion(search_index: BuiltIndex) -> None:
    for query, name in (("add_numbrs", "add_numbers"), ("Greter", "Greeter")):
        res = _search(search_index, query, mode="code", explain=True)
        assert res["code"][0]["name"] == name
        assert any(w["code"] == "QUERY_TERM_EXPANDED" for w in res["warnings"])
        assert res["stats"]["explain"]["expansions"]["code"]
        assert "expand" in res["stats"]["explain"]["relaxed"]["code"]["steps"]


def test_implicit_and_relaxes_but_explicit_does_not(search_index: BuiltIndex) -> None:
    res = _search(search_index, "greet nonexistentword", mode="code")
    assert "greet" in _names(res)
    assert any(w["code"] == "QUERY_RELAXED" for w in res["warnings"])
    assert _search(search_index, "greet AND nonexistentword", mode="code")["code"] == []
    assert _search(search_index, "greet nonexistentword", mode="code", strict=True)["code"] == []
    assert _search(search_index, "add_numbrs", mode="code", strict=True)["code"] == []


def test_fts_operator_characters_are_plain(search_index: BuiltIndex) -> None:
    for q in ['"greet"', "greet -", "a:b", "x*", "NEAR(greet person)", "greet - rust"]:
        try:
            _search(search_index, q, mode="code")
        except InvalidRequest:
            assert q == "greet -"


def test_unknown_backend_and_mode(search_index: BuiltIndex) -> None:
    for backend in ("lmdb", "tantivy"):
        with pytest.raises(InvalidRequest, match="memory"):
            _search(search_index, "greet", backend=backend)
    with pytest.raises(InvalidRequest):
        _search(search_index, "greet", mode="records")


def test_no_index_is_no_index(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    with pytest.raises(NoIndex) as info:
        api.search("greet", repo=repo, env={"PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "c")})
    assert info.value.exit_code == 1
    assert "pairofcleats index build" in (info.value.hint or "")


def test_invalid_current_json_means_no_index(search_index: BuiltIndex, tmp_path: Path) -> None:
    idx = search_index.copy(tmp_path)
    searcher = Searcher(idx.repo, env=idx.env)
    assert searcher.search(SearchRequest("greet", ann=False))["code"]
    searcher.layout.current_json.write_text("{not json", encoding="utf-8")
    with pytest.raises(NoIndex, match=r"current\.json") as info:
        searcher.search(SearchRequest("greet", ann=False))
    assert info.value.errors and info.value.errors[0]["code"] == "CURRENT_INVALID"
    assert info.value.to_json()["errors"][0]["code"] == "CURRENT_INVALID"
    from .conftest import build

    build(idx.repo, idx.env)  # the next build repairs it
    assert searcher.search(SearchRequest("greet", ann=False))["code"]


def test_warm_searcher_caches_and_reloads(search_index: BuiltIndex, tmp_path: Path) -> None:
    idx = search_index.copy(tmp_path)
    searcher = Searcher(idx.repo, env=idx.env)
    req = SearchRequest("greet", ann=False, stats=True)
    first = searcher.search(req)
    second = searcher.search(req)
    assert first["stats"]["cache"]["hit"] is False
    assert second["stats"]["cache"]["hit"] is True
    (idx.repo / "src" / "extra.py").write_text(
        'def zebra_unique():\n    """Only in the new build."""\n', encoding="utf-8"
    )
    from .conftest import build

    build(idx.repo, idx.env)
    res = searcher.search(SearchRequest("zebra_unique", mode="code", ann=False))
    assert _names(res)[:1] == ["zebra_unique"]


def test_query_of_stopwords_is_empty_for_prose_modes(search_index: BuiltIndex) -> None:
    res = _search(search_index, "the")
    empty = {w["mode"] for w in res["warnings"] if w["code"] == "QUERY_EMPTY_FOR_MODE"}
    assert empty == {"prose", "extracted-prose"}
    assert res["prose"] == [] and res["extractedProse"] == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("schemaHash", "0" * 40), ("artifactSurfaceMajor", 0), ("compatibilityKey", None)],
)
def test_incompatible_indexes_are_refused(
    search_index: BuiltIndex, tmp_path: Path, key: str, value: object
) -> None:
    import json

    from pairofcleats.errors import IndexIncompatible

    idx = search_index.copy(tmp_path)
    prose = Searcher(idx.repo, env=idx.env).mode_index("prose")
    assert prose is not None
    state_path = prose.dir / "index_state.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if key == "compatibilityKey":
        state["compatibilityKey"] = "f" * 40  # modes disagree
    else:
        state["compatibilityInputs"][key] = value
    state_path.write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(IndexIncompatible) as info:
        api.search("greet", repo=idx.repo, env=idx.env)
    assert info.value.exit_code == 1
    assert "pairofcleats index build" in (info.value.hint or "")


def test_candidate_set_seam_restricts_before_ranking(search_index: BuiltIndex) -> None:
    import numpy as np
    from pairofcleats.search.engine import SearchOptions, search_mode
    from pairofcleats.search.intent import classify_intent
    from pairofcleats.search.query import parse_query
    from pairofcleats.search.source import MemorySource

    idx = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert idx is not None
    src = MemorySource(idx)
    only = [c["id"] for c in idx.chunks if c["file"] == "src/greet.py"]

    def admit(source: Any, _plan: Any) -> Any:
        mask = np.zeros(source.count, dtype=np.bool_)
        mask[only] = True
        return mask

    ast = parse_query("greet")
    res = search_mode(
        src, ast, classify_intent("greet"), SearchOptions(top=3, ann=False),
        lambda *_a: None, candidate_set=admit,
    )  # fmt: skip
    assert res.hits and {h["file"] for h in res.hits} == {"src/greet.py"}
    assert len(res.hits) == 3
