"""Ranking behaviour the §13 eval relies on: path-like terms, the definition-name boost and
relaxation of a lone multi-sub-word term (real fixture build, memory and sqlite)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pairofcleats.search.plan import path_needle
from pairofcleats.search.query import Or, operator_words, parse_query
from pairofcleats.search.rank import name_match_factor
from pairofcleats.search.searcher import Searcher, SearchRequest
from pairofcleats.tokenize import split_id
from poc_fixtures.repo import make_fixture_repo

from .conftest import BuiltIndex, build

KEYS = {"code": "code", "prose": "prose"}


@pytest.fixture(scope="module")
def searcher(search_index: BuiltIndex) -> Searcher:
    return Searcher(search_index.repo, env=search_index.env)


def _hits(s: Searcher, query: str, mode: str = "code", **kw: Any) -> list[dict[str, Any]]:
    kw.setdefault("ann", False)
    kw.setdefault("top", 5)
    res = s.search(SearchRequest(query=query, mode=mode, **kw))
    hits: list[dict[str, Any]] = res[KEYS[mode]]
    return hits


@pytest.mark.parametrize(
    ("query", "mode", "file"),
    [
        ("src/greet.py", "code", "src/greet.py"),
        ("config/settings.json", "code", "config/settings.json"),
        ("./scripts/deploy.sh", "code", "scripts/deploy.sh"),
        ("docs/guide.md", "prose", "docs/guide.md"),
    ],
)
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_path_queries_rank_the_file_first(
    searcher: Searcher, query: str, mode: str, file: str, backend: str
) -> None:
    hits = _hits(searcher, query, mode, backend=backend)
    assert hits and hits[0]["file"] == file


def test_path_scores_are_equal_on_memory_and_sqlite(searcher: Searcher) -> None:
    for query in ("src/greet.py", "src/page.php render_title", "config/settings.json"):
        mem = _hits(searcher, query, backend="memory", top=10)
        sql = _hits(searcher, query, backend="sqlite", top=10)
        assert [h["id"] for h in mem] == [h["id"] for h in sql], query
        for a, b in zip(mem, sql, strict=True):
            assert abs(a["score"] - b["score"]) <= 1e-9


_DISTRACTOR = """def load_settings(config_path: str) -> dict:
    \"\"\"Load the settings json from config_path.\"\"\"
    settings = read_json(config_path)
    return settings


def config_settings_json(config: dict) -> str:
    \"\"\"Dump config settings as json.\"\"\"
    return dump_json(config)
"""


_QUOTING = """def test_path_{i}(hits: list) -> None:
    assert hits[0]["file"] == "src/greet.py"
"""


@pytest.fixture(scope="module")
def distracted(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """The fixture plus Python files whose definitions are named after ``config``,
    ``settings`` and ``json`` (every field of theirs matches the path's sub-words) and tests
    quoting ``src/greet.py`` (they hold its sub-words; the file itself holds no ``src``)."""
    root = tmp_path_factory.mktemp("path-distractors")
    repo = make_fixture_repo(root / "repo")
    (repo / "app").mkdir()
    for i in range(4):
        (repo / "app" / f"config_{i}.py").write_text(_DISTRACTOR, encoding="utf-8")
    for i in range(6):  # more chunks holding src, greet and py than a top-5 page
        (repo / "app" / f"check_{i}.py").write_text(_QUOTING.format(i=i), encoding="utf-8")
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    build(repo, env)
    return Searcher(repo.resolve(), env=env)


@pytest.mark.parametrize("ann", [False, True])
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_typed_path_outranks_chunks_sharing_its_subwords(
    distracted: Searcher, ann: bool, backend: str
) -> None:
    # settings.json's chunks hold none of config/settings/json; the path field alone names
    # them, and it must beat definitions named after those words (with or without vectors)
    hits = _hits(distracted, "config/settings.json", backend=backend, ann=ann, top=5)
    assert [h["file"] for h in hits[:3]] == ["config/settings.json"] * 3
    mixed = _hits(distracted, "src/page.php render_title", backend=backend, ann=ann)
    assert (mixed[0]["file"], mixed[0]["name"]) == ("src/page.php", "render_title")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_typed_path_matches_its_file_under_match_all(distracted: Searcher, backend: str) -> None:
    # six tests hold src, greet and py, so "all" admits a full page without relaxing; the
    # path still admits greet.py's chunks (warned as a relaxation) and they rank first
    res = distracted.search(SearchRequest(query="src/greet.py", mode="code", ann=False, top=5))
    assert [h["file"] for h in res["code"]] == ["src/greet.py"] * 5
    assert any("also matches the chunks" in w["message"] for w in res["warnings"])
    strict = _hits(distracted, "src/greet.py", backend=backend, strict=True)
    assert strict and {h["file"] for h in strict} <= {f"app/check_{i}.py" for i in range(6)}


def test_strict_keeps_a_lone_multi_subword_term_hard(searcher: Searcher) -> None:
    # no chunk holds src, greet and py: only relaxation (off under --strict) finds the file
    assert _hits(searcher, "src/greet.py", strict=True) == []
    res = searcher.search(SearchRequest(query="src/greet.py", mode="code", ann=False))
    assert any(w["code"] == "QUERY_RELAXED" for w in res["warnings"])


@pytest.mark.parametrize(
    ("query", "name"),
    [("greet", "greet"), ("Greeter.greet", "Greeter.greet"), ("format_message", "format_message")],
)
def test_exact_definition_name_ranks_first(searcher: Searcher, query: str, name: str) -> None:
    hits = _hits(searcher, query, explain=True)
    assert hits[0]["name"] == name
    assert hits[0]["scoreBreakdown"]["symbol"]["name"] == "exact"


def test_name_boost_skips_prose_queries(searcher: Searcher) -> None:
    hits = _hits(searcher, "entry point of the java program", explain=True)
    assert all((h["scoreBreakdown"]["symbol"] or {}).get("name") is None for h in hits)


def test_name_match_factor() -> None:
    def q(*texts: str) -> list[tuple[str, tuple[str, ...]]]:
        return [(t, tuple(split_id(t))) for t in texts]

    assert name_match_factor(q("Greeter.greet"), "Greeter.greet") == ("exact", 1.5)
    assert name_match_factor(q("increment"), "Counter.increment") == ("exact", 1.5)
    assert name_match_factor(q("format_message"), "formatMessage") == ("subwords", 1.25)
    assert name_match_factor(q("Shape"), "shape") == ("subwords", 1.25)
    assert name_match_factor(q("area"), "Circle.area") == ("exact", 1.5)
    assert name_match_factor(q("greet"), "rust_greet") == ("", 1.0)
    assert name_match_factor([], "greet") == ("", 1.0)
    assert name_match_factor(q("greet"), None) == ("", 1.0)


def test_path_needle() -> None:
    assert path_needle("./src/Greet.py,") == "src/greet.py"
    assert path_needle("..\\src\\a.py") == "src/a.py"
    assert path_needle("~/notes/a.md") == "notes/a.md"


_WORDS = st.sampled_from(
    [
        "greet",
        "name",
        "sum",
        "values",
        "circle",
        "area",
        "zzqx",
        "server",
        "hello",
        "count",
        "src/greet.py",
        "Greeter.greet",
        "add_numbers",
        "the",
        "of",
        "a",
    ]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(words=st.lists(_WORDS, min_size=1, max_size=6))
def test_bare_word_queries_never_lose_what_one_word_finds(
    searcher: Searcher, words: list[str]
) -> None:
    """A query of bare words (no operators, phrases or negations) never raises and, through
    relaxation, is never empty when one of its words alone finds something."""
    query = " ".join(words)
    for mode in ("code", "prose"):
        combined = _hits(searcher, query, mode)
        if any(_hits(searcher, w, mode) for w in dict.fromkeys(words)):
            assert combined, (query, mode)


def test_operator_words_are_case_insensitive_and_recorded() -> None:
    # §9.1: operator words are case-insensitive, so a sentence's "and" is an explicit AND
    node = parse_query("low and high Or x NOT y")
    assert isinstance(node, Or)
    assert operator_words(node) == [("and", 4), ("Or", 13), ("NOT", 18)]
    assert operator_words(parse_query("greet -rust !x")) == []
    assert parse_query("a AND b") == parse_query("a and b")


def test_empty_result_names_the_operator_word(searcher: Searcher) -> None:
    query = "keep a value between a low and a high bound"
    res = searcher.search(SearchRequest(query=query, mode="code", ann=False))
    assert res["code"] == []  # "low AND a": no chunk holds both; explicit AND never relaxes
    warned = [w for w in res["warnings"] if w["code"] == "QUERY_OPERATOR_WORDS"]
    assert warned and "'and' at position 27" in warned[0]["message"]
    assert _hits(searcher, query.replace(" and ", " "))  # without the operator it ranks
    ok = searcher.search(SearchRequest(query="greet AND name", mode="code", ann=False))
    assert ok["code"] and not [w for w in ok["warnings"] if w["code"] == "QUERY_OPERATOR_WORDS"]
