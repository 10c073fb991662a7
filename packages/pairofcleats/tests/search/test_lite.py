"""``search.lite``: the cold sqlite CLI path must return exactly what ``api.search`` returns
(ids, scores, warnings, every field), must leave everything else to the engine, and must not
import numpy, pydantic, Typer or rich (checked in a real ``-X importtime`` subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats import api, cli_search, config, sqlite_bulk, sqlite_stage
from pairofcleats.artifacts import plain, schema
from pairofcleats.search import lite, sqlite_source

HEAVY = ("numpy", "pydantic", "typer", "rich", "click")
QUERIES = [
    "greet",
    "Greeter",
    "greet person",
    "format_message",
    "formatMessage",
    "add numbers",
    "box",
    "open_box label",
    "greting",  # a typo: expanded
    "zzzqqqxx",  # nothing
    "the",
    "counter increment value",
    "name",
    "a",
    "greet()",
    '"greet person"',
    '"format message" prefix',
    "greet -person",
    "greet OR add",
    "greet AND add",
    "NOT greet",
    "(greet OR add) numbers",
    'greet -"hello world"',
    "greet and",
]
OPTIONS = [
    [],
    ["--mode", "code"],
    ["--mode", "prose", "-n", "3"],
    ["--mode", "both", "--match", "any"],
    ["--strict"],
    ["--compact", "--top", "8"],
    ["--bm25-k1", "0.9", "--bm25-b", "0.4", "--match", "all"],
    ["--mode", "extracted-prose", "--fts-profile", "name"],
]


def _params(built: Any, query: str, extra: list[str]) -> dict[str, Any]:
    args = [query, "--repo", str(built.repo), "--json", "--backend", "sqlite", "--no-ann"]
    p = cli_search.parse([*args, *extra])
    assert p is not None
    return p


def _api(built: Any, p: dict[str, Any]) -> dict[str, Any]:
    return api.search(
        p["query"],
        repo=p["repo"],
        mode=p["mode"],
        top=p["top"],
        backend=p["backend"],
        ann=p["ann"],
        match_mode=p["match"],
        bm25_k1=p["bm25_k1"],
        bm25_b=p["bm25_b"],
        fts_profile=p["fts_profile"],
        strict=p["strict"],
        compact=p["compact"],
        env=built.env,
    )


@pytest.mark.parametrize("extra", OPTIONS, ids=lambda o: " ".join(o) or "defaults")
def test_results_identical_to_the_engine(built_fixture: Any, extra: list[str]) -> None:
    answered = 0
    for query in QUERIES:
        p = _params(built_fixture, query, extra)
        got = lite.search(p, built_fixture.env)
        if got is None:
            continue
        answered += 1
        assert jsonio.dumps(got) == jsonio.dumps(_api(built_fixture, p)), query
    assert answered >= len(QUERIES) - 2  # the two query errors aside, lite answers


def test_auto_backend_follows_the_engines_choice(built_fixture: Any, tmp_path: Path) -> None:
    """``--backend auto`` is answered when the engine would pick sqlite (a large index),
    and left to the engine when it would pick memory (the small fixture)."""
    p = _params(built_fixture, "greet", ["--backend", "auto"])
    assert lite.search(p, built_fixture.env) is None  # small: memory
    repo = tmp_path / "repo"
    import shutil

    from pairofcleats.build.api import build_index

    shutil.copytree(built_fixture.repo, repo, symlinks=True)
    cfg = {"search": {"sqliteAutoChunkThreshold": 0}}
    (repo / ".pairofcleats.json").write_text(json.dumps(cfg), encoding="utf-8")
    env = {**built_fixture.env, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")}
    build_index(repo, stub_embeddings=True, env=env, threads=1)
    p = cli_search.parse(["greet", "--repo", str(repo), "--json", "--no-ann"])
    assert p is not None
    got = lite.search(p, env)
    assert got is not None and got["backend"] == "sqlite"
    want = api.search("greet", repo=repo, ann=False, env=env)
    assert jsonio.dumps(got) == jsonio.dumps(want)


def test_expansion_and_relaxation_are_answered(built_fixture: Any) -> None:
    p = _params(built_fixture, "greting", [])
    got = lite.search(p, built_fixture.env)
    assert got is not None
    assert any(w["code"] == "QUERY_TERM_EXPANDED" for w in got["warnings"])
    assert got == _api(built_fixture, p)


@pytest.mark.parametrize(
    ("query", "extra"),
    [
        ("src/greet.py", []),  # path-like term
        ("greet OR src/greet.py", []),
        ("greet", ["--lang", "python"]),
        ("greet", ["--filter", "lang:python"]),
        ("greet", ["--explain"]),
        ("greet", ["--stats"]),
        ("greet", ["--ann"]),  # the fixture has stub vectors: dense ranking
        ("greet", ["--backend", "memory"]),
        ("greet", ["--backend", "sqlite-fts"]),
        ("greet", ["--mode", "records"]),
        ("greet", ["--match", "some"]),
        ("greet", ["--top", "0"]),
        ("greet", ["--fts-profile", "nope"]),
        ("(greet", []),  # a query error: the engine reports it
    ],
)
def test_everything_else_is_left_to_the_engine(
    built_fixture: Any, query: str, extra: list[str]
) -> None:
    assert lite.search(_params(built_fixture, query, extra), built_fixture.env) is None


def test_no_index_is_left_to_the_engine(built_fixture: Any, tmp_path: Path) -> None:
    p = _params(built_fixture, "greet", [])
    p["repo"] = tmp_path
    assert lite.search(p, built_fixture.env) is None


def test_cli_subprocess_imports_no_heavy_module(built_fixture: Any) -> None:
    """Import budget: a plain sqlite search loads none of numpy, pydantic, Typer, rich."""
    for query in ("greet", "greting", "add numbers"):
        args = ["search", query, "--repo", str(built_fixture.repo), "--json"]
        args += ["--backend", "sqlite", "--no-ann"]
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "pairofcleats.cli", *args],
            env={**os.environ, **built_fixture.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        imported = {
            line.rsplit("|", 1)[1].strip()
            for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert imported, "no -X importtime output"
        heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
        assert heavy == [], heavy
        body = json.loads(proc.stdout)
        p = _params(built_fixture, query, [])
        assert body == json.loads(jsonio.dumps(_api(built_fixture, p)))


def test_constants_match_their_sources() -> None:
    assert lite.ARTIFACT_SURFACE_MAJOR == schema.ARTIFACT_SURFACE_MAJOR
    assert lite.SCHEMA_HASH == schema.SCHEMA_HASH
    assert lite.SQLITE_SCHEMA_VERSION == schema.SQLITE_SCHEMA_VERSION
    assert lite.REQUIRED_TABLES == sqlite_source.REQUIRED_TABLES
    assert tuple(sqlite_source.FTS_PROFILES) == lite.FTS_PROFILES
    assert lite.PHRASE_BLOCK_SQL == sqlite_stage.PHRASE_BLOCK_SQL
    assert lite.PHRASE_SEP == sqlite_bulk.PHRASE_SEP
    assert (lite.STREAM_SEP, lite.FIELD_SEP) == (sqlite_stage.STREAM_SEP, sqlite_stage.FIELD_SEP)
    assert schema.CurrentPointer.model_fields.keys() == plain.POINTER_KEYS
    assert schema.PiecesManifest.model_fields.keys() == plain.MANIFEST_KEYS


def test_search_defaults_are_the_schemas() -> None:
    assert config.SearchConfig().model_dump(by_alias=True) == lite.SEARCH_DEFAULTS
    assert lite.load_settings(Path("/nonexistent-repo"), {}) == (lite.SEARCH_DEFAULTS, None)


ACCEPTED_CONFIGS = [
    {},
    {"search": {}},
    {"search": {"ann": {"hnswMinVectors": 100000000}}},
    {"search": {"backend": "sqlite", "top": 7, "matchMode": "any", "bm25": {"k1": 1, "b": 0.5}}},
    {"search": {"fieldWeights": False, "ftsProfile": "name", "maxCandidates": 10}},
    {"search": {"fieldWeights": {"name": 3, "body": None}, "ftsWeights": {"doc": 2.5}}},
    {"search": {"symbolBoost": {"enabled": False}, "scoreBlend": {"annWeight": 0.5}}},
    {"search": {"rrf": {"k": 10}, "sqliteAutoChunkThreshold": 0}},
    {"cache": {"root": "/tmp/x", "keepBuilds": 0}, "quality": "fast", "threads": 2},
    {"cache": {"root": None}, "threads": None},
]
REFUSED_CONFIGS = [
    {"search": {"top": 0}},  # pydantic refuses these
    {"search": {"top": True}},
    {"search": {"top": 1.0}},
    {"search": {"matchMode": "some"}},
    {"search": {"bm25": {"k1": "1"}}},
    {"search": {"fieldWeights": True}},
    {"search": {"unknown": 1}},
    {"nope": {}},
    {"search": {"ann": {"enabled": 1}}},
    {"indexing": {"sqlite": False}},  # valid, but outside what lite checks
    {"search": {"match_mode": "any"}},  # snake_case: pydantic's populate_by_name
    [],
]


@pytest.mark.parametrize("doc", ACCEPTED_CONFIGS, ids=str)
def test_config_subset_reads_as_pydantic_does(tmp_path: Path, doc: Any) -> None:
    (tmp_path / ".pairofcleats.json").write_text(json.dumps(doc), encoding="utf-8")
    settings, root = lite.load_settings(tmp_path, {})
    cfg = config.load(tmp_path, {})
    assert settings == cfg.search.model_dump(by_alias=True)
    assert root == cfg.cache.root


@pytest.mark.parametrize("doc", REFUSED_CONFIGS, ids=str)
def test_config_outside_the_subset_is_left_to_pydantic(tmp_path: Path, doc: Any) -> None:
    (tmp_path / ".pairofcleats.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(lite.Unsupported):
        lite.load_settings(tmp_path, {})


def test_config_text_parses_as_the_loader_parses(tmp_path: Path) -> None:
    (tmp_path / ".pairofcleats.json").write_text('{"search": {"top": 3, "top": 4}}')
    settings, _root = lite.load_settings(tmp_path, {})
    assert settings == config.load(tmp_path, {}).search.model_dump(by_alias=True)


@pytest.mark.parametrize(
    "text", ['// c\n{"search": {}}', '{"search": {},}', '{"a": NaN}', "\ufeff{}", ""]
)
def test_config_text_outside_plain_json_is_left_to_the_loader(tmp_path: Path, text: str) -> None:
    (tmp_path / ".pairofcleats.json").write_text(text, encoding="utf-8")
    with pytest.raises(lite.Unsupported):
        lite.load_settings(tmp_path, {})


def test_config_from_env_is_left_to_the_loader(tmp_path: Path) -> None:
    with pytest.raises(lite.Unsupported):
        lite.load_settings(tmp_path, {"PAIROFCLEATS_EMBEDDINGS": "stub"})


def test_a_config_file_is_honoured(built_fixture: Any, tmp_path: Path) -> None:
    """A repo config (top, bm25, field weights) reaches lite's ranking as it reaches the
    engine's: the same results for a copy of the fixture with a config file."""
    import shutil

    from pairofcleats.build.api import build_index

    repo = tmp_path / "repo"
    shutil.copytree(built_fixture.repo, repo, symlinks=True)
    cfg = {
        "search": {
            "top": 3,
            "bm25": {"k1": 0.8},
            "fieldWeights": {"name": 4.0, "body": 0.5},
            "symbolBoost": {"definitionWeight": 2.0},
        }
    }
    (repo / ".pairofcleats.json").write_text(json.dumps(cfg), encoding="utf-8")
    env = {**built_fixture.env, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")}
    build_index(repo, stub_embeddings=True, env=env, threads=1)

    class Built:
        pass

    built = Built()
    built.repo, built.env = repo, env  # type: ignore[attr-defined]
    for query in ("greet", "format message", "greting"):
        p = _params(built, query, [])
        got = lite.search(p, env)
        assert got is not None, query
        assert jsonio.dumps(got) == jsonio.dumps(_api(built, p)), query


def test_cli_text_output_and_progress_events_match_the_engine(built_fixture: Any) -> None:
    """Without ``--json`` the lite path prints the engine's text rendering, and
    ``--progress jsonl`` still reports the search's job and task events on stderr."""
    from pairofcleats.search.render import render_text

    args = ["search", "greet", "--repo", str(built_fixture.repo), "--backend", "sqlite"]
    args += ["--no-ann", "--progress", "jsonl"]
    proc = subprocess.run(
        [sys.executable, "-m", "pairofcleats.cli", *args],
        env={**os.environ, **built_fixture.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    p = _params(built_fixture, "greet", [])
    assert lite.search(p, built_fixture.env) is not None
    want = render_text(_api(built_fixture, p))
    assert proc.stdout == (want if want.endswith("\n") else want + "\n")
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events] == ["job:start", "task:start", "task:end", "job:end"]
    result = _api(built_fixture, p)
    hits = {k: len(result[k]) for k in ("code", "prose", "extractedProse")}
    assert events[-1]["status"] == "ok" and events[-1]["result"] == {"hits": hits}
