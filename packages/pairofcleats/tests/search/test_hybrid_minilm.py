"""Hybrid search with real MiniLM vectors (slow: builds the fixture with the real model)."""

from __future__ import annotations

from typing import Any

import pytest
from pairofcleats import api
from pairofcleats.embeddings import minilm_available
from poc_fixtures.repo import make_fixture_repo

from .conftest import BuiltIndex, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not minilm_available(), reason="MiniLM weights not installed"),
]


@pytest.fixture(scope="module")
def minilm_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    root = tmp_path_factory.mktemp("minilm")
    repo = make_fixture_repo(root / "repo")
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    build(repo, env, embeddings="minilm")
    return BuiltIndex(repo.resolve(), root / "cache", env)


def _top(idx: BuiltIndex, query: str, **kw: Any) -> list[str]:
    res = api.search(query, repo=idx.repo, env=idx.env, mode="code", top=5, **kw)
    return [h["name"] for h in res["code"]]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("return a friendly greeting message for a person", "greet"),
        ("multiply two integers", "c_multiply"),
        ("total of all the values in a list", "sum"),
        ("restrict a value to a range", "clamp"),
    ],
)
def test_natural_language_queries_find_the_chunk(
    minilm_index: BuiltIndex, query: str, name: str
) -> None:
    assert name in _top(minilm_index, query)


def test_dense_only_results_come_from_minilm(minilm_index: BuiltIndex) -> None:
    res = api.search(
        "restrict a value to a range",
        repo=minilm_index.repo,
        env=minilm_index.env,
        mode="code",
        explain=True,
    )
    dense = [h for h in res["code"] if h["annSource"] == "dense"]
    assert dense
    assert all(-1.0 <= h["annScore"] <= 1.0 for h in dense)
    assert not [w for w in res["warnings"] if w["code"] == "EMBEDDINGS_UNAVAILABLE"]


def test_operator_words_stay_operators_in_prose(minilm_index: BuiltIndex) -> None:
    # §9.1: AND is an operator (case-insensitive) and never relaxes, even in prose queries
    assert _top(minilm_index, "lower and upper bound") == []
