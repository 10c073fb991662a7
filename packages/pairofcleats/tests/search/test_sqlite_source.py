"""sqlite and sqlite-fts backends over the real db (acceptance 13, 14; S1, S3, S5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pairofcleats import api
from pairofcleats.search.backends import sqlite_path
from pairofcleats.search.searcher import Searcher
from pairofcleats.search.sqlite_source import FTS_PROFILES, SqliteSource, fts_weights
from poc_fixtures.repo import make_fixture_repo

from .conftest import BuiltIndex, build

QUERIES = ["greet", "add_numbers", "greet person", "multiply -cpp", '"add numbers"', "Greter"]


def _search(idx: BuiltIndex, query: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("ann", False)
    return api.search(query, repo=idx.repo, env=idx.env, **kw)


@pytest.mark.parametrize("query", QUERIES)
def test_sqlite_equals_memory(search_index: BuiltIndex, query: str) -> None:
    mem = _search(search_index, query, backend="memory", top=10, explain=True)
    sql = _search(search_index, query, backend="sqlite", top=10, explain=True)
    assert sql["backend"] == "sqlite"
    assert not [w for w in sql["warnings"] if w["code"] == "SQLITE_UNAVAILABLE"]
    for key in ("code", "prose", "extractedProse"):
        assert [h["id"] for h in sql[key]] == [h["id"] for h in mem[key]]
        for a, b in zip(sql[key], mem[key], strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-9)
            assert a["metaV2"] == b["metaV2"]
            assert a["scoreBreakdown"]["schemaVersion"] == 1


def test_sqlite_equals_memory_with_filters(search_index: BuiltIndex) -> None:
    kw: dict[str, Any] = {"top": 10, "filters": {"lang": ["python"], "kind": ["function"]}}
    mem = _search(search_index, "name", backend="memory", **kw)
    sql = _search(search_index, "name", backend="sqlite", **kw)
    assert [h["id"] for h in sql["code"]] == [h["id"] for h in mem["code"]]
    assert sql["code"]


def test_fts_true_top_n_among_allowed(search_index: BuiltIndex) -> None:
    unfiltered = _search(search_index, "greet", backend="sqlite-fts", mode="code", top=3)
    # the filter must have something to exclude among the unfiltered top 3
    assert any(h["lang"] != "python" for h in unfiltered["code"][:3])
    res = _search(
        search_index,
        "greet",
        backend="sqlite-fts",
        mode="code",
        top=2,
        filters={"lang": ["python"]},
        explain=True,
    )
    hits = res["code"]
    assert len(hits) == 2
    assert all(h["lang"] == "python" for h in hits)
    assert hits[0]["scoreType"] == "fts"
    assert res["stats"]["explain"]["ftsMatch"]["code"] == '("greet")'
    assert hits[0]["scoreBreakdown"]["schemaVersion"] == 1


def test_swapping_name_and_file_weights(search_index: BuiltIndex) -> None:
    searcher = Searcher(search_index.repo, env=search_index.env)
    idx = searcher.mode_index("code")
    assert idx is not None
    db = sqlite_path(idx.dir.parent, "code")
    heavy_name = fts_weights("balanced", {"name": 10.0, "file": 0.01})
    heavy_file = fts_weights("balanced", {"name": 0.01, "file": 10.0})
    from pairofcleats.search.plan import plan_mode
    from pairofcleats.search.query import parse_query

    def ranked(weights: tuple[float, ...]) -> list[str]:
        src = SqliteSource(idx, db, weights)
        plan = plan_mode(src, parse_query("greet"), strict=False)
        pairs, _ = src.fts_search(plan, None, 30)
        return [f"{src.chunk(d)['file']}:{src.chunk(d)['name']}" for d, _s in pairs]

    by_name = ranked(heavy_name)
    by_file = ranked(heavy_file)
    # rust_greet (name matches, file lib.rs) vs format_message (file greet.py, name does not)
    assert by_name.index("src/lib.rs:rust_greet") < by_name.index("src/greet.py:format_message")
    assert by_file.index("src/greet.py:format_message") < by_file.index("src/lib.rs:rust_greet")


def test_profiles_have_one_weight_per_column() -> None:
    for weights in FTS_PROFILES.values():
        assert len(weights) == 7
    assert fts_weights("name")[1] == 2.5
    assert fts_weights("balanced", {"tokens": 3.0})[6] == 3.0


def test_fts_operators_never_break(search_index: BuiltIndex) -> None:
    for q in ['"greet"', "a:b", "x*", "NEAR(greet person)", "greet - rust", "AND OR", '"a""b"']:
        try:
            res = _search(search_index, q, backend="sqlite-fts", mode="code")
        except api.PairOfCleatsError as err:
            assert err.code == "INVALID_REQUEST", q
        else:
            assert res["ok"]


@pytest.fixture(scope="module")
def punct_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    root = tmp_path_factory.mktemp("punct")
    files = {
        "src/logic.js": "export function both(a, b) {\n  return a && b;\n}\n",
        "src/other.js": "export function either(a, b) {\n  return a || b;\n}\n",
    }
    repo = make_fixture_repo(root / "repo", files)
    env = {"PAIROFCLEATS_CACHE_ROOT": str(root / "cache")}
    build(repo, env, embeddings=None)
    return BuiltIndex(repo.resolve(), root / "cache", env)


def test_punctuation_is_findable_through_fts(punct_index: BuiltIndex) -> None:
    for backend in ("sqlite-fts", "memory", "sqlite"):
        res = _search(punct_index, "&&", backend=backend, mode="code")
        assert [h["name"] for h in res["code"]] == ["both"], backend


def test_missing_db_falls_back_to_memory(search_index: BuiltIndex, tmp_path: Path) -> None:
    idx = search_index.copy(tmp_path)
    searcher = Searcher(idx.repo, env=idx.env)
    code = searcher.mode_index("code")
    assert code is not None
    sqlite_path(code.dir.parent, "code").unlink()
    res = _search(idx, "greet", backend="sqlite", mode="code")
    assert any(w["code"] == "SQLITE_UNAVAILABLE" for w in res["warnings"])
    assert res["code"]


def test_auto_backend_uses_thresholds(search_index: BuiltIndex, tmp_path: Path) -> None:
    assert _search(search_index, "greet")["backend"] == "memory"
    idx = search_index.copy(tmp_path)
    (idx.repo / ".pairofcleats.json").write_text(
        json.dumps({"search": {"sqliteAutoChunkThreshold": 0}}), encoding="utf-8"
    )
    assert _search(idx, "greet")["backend"] == "sqlite"


def test_posting_reads_look_the_vocab_up_first(search_index: BuiltIndex) -> None:
    """Every vocab/postings read is two index searches, vocab first (never a posting scan)."""
    code = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert code is not None
    src = SqliteSource(code, sqlite_path(code.dir.parent, "code"))
    sql: list[str] = []
    src.con.set_trace_callback(sql.append)
    src.prefetch(["greet"])
    src.prefetch_chargrams(["gre", "ree"])
    for table in ("token", "field", "phrase", "chargram"):
        src._postings(table, "name", "greet person" if table == "phrase" else "person")
    src.con.set_trace_callback(None)
    joins = [s for s in sql if "_vocab v CROSS JOIN" in s]
    assert len(joins) == 7
    for stmt in joins:
        rows = src.con.execute("EXPLAIN QUERY PLAN " + stmt)
        plan = [r[3] for r in rows if r[3].startswith(("SEARCH", "SCAN"))]
        assert plan[0].startswith("SEARCH v USING"), (stmt, plan)
        assert len(plan) == 2 and plan[1].startswith("SEARCH p USING PRIMARY KEY"), (stmt, plan)
        assert "_id=?" in plan[1], (stmt, plan)


def test_weights_of_reads_few_rows_and_equals_the_full_column(search_index: BuiltIndex) -> None:
    code = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert code is not None
    db = sqlite_path(code.dir.parent, "code")
    full = SqliteSource(code, db).weights()
    assert full.size == SqliteSource(code, db).count > 4
    few = np.array([full.size - 1, 0, 0], dtype=np.int64)
    src = SqliteSource(code, db)
    sql: list[str] = []
    src.con.set_trace_callback(sql.append)
    assert src.weights_of(few).tolist() == full[few].tolist()
    assert src.weights_of(np.empty(0, dtype=np.int64)).size == 0
    assert [s for s in sql if "FROM chunks" in s] == [
        f"SELECT id, weight FROM chunks WHERE id IN ({full.size - 1},0,0)"
    ]
    many = np.arange(full.size, dtype=np.int64)
    assert src.weights_of(many).tolist() == full.tolist()
    assert np.array_equal(src.weights_of(few), full[few])


def test_weights_column_equals_the_memory_index_and_null_is_one(
    search_index: BuiltIndex, tmp_path: Path
) -> None:
    """``weights()`` reads one group_concat row per distinct weight: the column must equal
    the memory index's weights, and a NULL weight reads as 1."""
    import shutil
    import sqlite3

    code = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert code is not None
    db = sqlite_path(code.dir.parent, "code")
    full = SqliteSource(code, db).weights()
    assert full.tolist() == [float(w) for w in code.weights]
    assert len(set(full.tolist())) > 1  # the fixture has more than one distinct weight
    copy = tmp_path / db.name
    shutil.copyfile(db, copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE chunks SET weight = NULL WHERE id IN (0, ?)", (full.size - 1,))
    con.commit()
    con.close()
    nulled = SqliteSource(code, copy).weights()
    want = full.copy()
    want[[0, full.size - 1]] = 1.0
    assert nulled.tolist() == want.tolist()
