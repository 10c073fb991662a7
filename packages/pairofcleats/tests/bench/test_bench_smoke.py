"""The pairofcleats benchmark suite (bench/pairofcleats): eval set, metrics, quick smoke run.

The eval set is checked against a real build of the fixture repo (every expected file and
chunk name exists); the metric and ranking helpers are pure and property-tested; the
slow-marked smoke test runs the whole suite in quick mode and checks that it produces every
§13 figure with a baseline, a ratio and a target verdict (never asserting times).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

WORKSPACE = Path(__file__).resolve().parents[4]
BENCH = WORKSPACE / "bench" / "pairofcleats"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from pocbench import evalset, largegen, procs, stats  # noqa: E402
from pocbench.evalset import Expect, Hit  # noqa: E402

FIGURES = {
    "build s1-2 files/s (medium)",
    "build s1-2 files/s vs FTS5 (medium)",
    "build s1-2 chunks/s (medium)",
    "build s1-2 time / B2 wall (medium)",
    "full build wall / B2 wall (medium)",
    "build peak RSS, process tree (medium)",
    "stage4 SQLite seconds (medium)",
    "incremental, no change (medium)",
    "incremental, one file changed (medium)",
    "warm query p50, memory (medium)",
    "warm query p95, memory (medium)",
    "warm query p50, sqlite (medium)",
    "warm query p95, sqlite (medium)",
    "cold CLI search --json p50, sqlite (medium)",
    "cold CLI search --json p50 vs interpreter",
    "search peak RSS, memory CLI (medium)",
    "search peak RSS, sqlite CLI (medium)",
    "Recall@5 sparse, name queries (small)",
    "MRR@10 sparse, name queries (small)",
    "file Recall@5 sparse, all queries (small)",
    "file MRR@10 sparse, all queries (small)",
    "MRR@10 sparse, all queries (small)",
    "Recall@5 sparse, name queries (medium+fixture)",
    "MRR@10 sparse, name queries (medium+fixture)",
    "file Recall@5 sparse, all queries (medium+fixture)",
    "build s1-2 files/s (large)",
    "build s1-2 chunks/s (large)",
    "build s1-2 time / B2 wall (large)",
    "full build wall / B2 wall (large)",
    "build peak RSS, process tree (large)",
    "warm query p50, sqlite (large)",
    "cold CLI search --json p50, sqlite (large)",
}
MINILM_FIGURES = {
    "MiniLM embedding chunks/s (~128 pieces)",
    "Recall@5 hybrid MiniLM, NL queries (small)",
}


def _chunks(built: Any, mode: str) -> list[dict[str, Any]]:
    root = built.cache_root / "repos" / built.result["repoId"] / built.result["buildRoot"]
    meta: list[dict[str, Any]] = json.loads(
        (root / f"index-{mode}" / "chunk_meta.json").read_text(encoding="utf-8")
    )
    return meta


def test_eval_set_shape() -> None:
    queries = evalset.load_eval()
    assert len(queries) >= 60
    kinds = {q.kind for q in queries}
    assert kinds == set(evalset.KINDS)
    assert sum(1 for q in queries if q.kind == "name") >= 20
    assert sum(1 for q in queries if q.kind == "nl") >= 15
    assert len({(q.query, q.mode) for q in queries}) == len(queries), "duplicate queries"


def test_eval_expectations_exist_in_the_fixture_build(built_fixture: Any) -> None:
    """Every expected file is in the query's mode and every expected name is a chunk there."""
    by_mode = {m: _chunks(built_fixture, m) for m in ("code", "prose")}
    for q in evalset.load_eval():
        chunks = by_mode[q.mode]
        for exp in q.expect:
            in_file = [c for c in chunks if c["file"] == exp.file]
            assert in_file, f"{q.query!r}: {exp.file} has no {q.mode} chunks"
            if exp.name is not None:
                names = {c["name"] for c in in_file}
                assert exp.name in names, f"{q.query!r}: no chunk {exp.name!r} in {exp.file}"


def test_recall_and_mrr_by_hand() -> None:
    hits = [Hit("a.py", "f"), Hit("b.py", "g"), Hit("a.py", "h")]
    exp = [Expect("a.py", "h"), Expect("c.py")]
    assert evalset.recall_at(hits, exp, 5) == 0.5
    assert evalset.recall_at(hits, exp, 2) == 0.0
    assert evalset.mrr_at(hits, exp, 10) == pytest.approx(1 / 3)
    assert evalset.mrr_at(hits, [Expect("b.py")], 10) == 0.5
    assert evalset.file_ranking(hits) == [Hit("a.py"), Hit("b.py")]
    assert evalset.file_expect(exp) == [Expect("a.py"), Expect("c.py")]


def test_rg_count_parsing_and_ranking() -> None:
    counts = evalset.parse_rg_count("./src/b.py:2\n./src/a.py:2\nweird\nc:d.md:7\n")
    assert counts == {"src/b.py": 2, "src/a.py": 2, "c:d.md": 7}
    assert [h.file for h in evalset.rank_counts(counts)] == ["c:d.md", "src/a.py", "src/b.py"]
    assert evalset.rg_terms("Add two  add numbers") == ["add", "two", "numbers"]


_files = st.sampled_from(["a", "b", "c", "d", "e"])
_hits = st.lists(st.builds(Hit, _files, st.sampled_from([None, "x", "y"])), max_size=12)
_expects = st.lists(st.builds(Expect, _files, st.sampled_from([None, "x"])), min_size=1)


@given(_hits, _expects, st.integers(1, 12))
def test_metrics_are_bounded_and_monotone(hits: list[Hit], exp: list[Expect], k: int) -> None:
    r = evalset.recall_at(hits, exp, k)
    assert 0.0 <= r <= 1.0
    assert r <= evalset.recall_at(hits, exp, k + 1)
    m = evalset.mrr_at(hits, exp, k)
    assert 0.0 <= m <= 1.0
    assert (m > 0) == (r > 0), "a hit in the top k gives both a recall and a reciprocal rank"


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1), st.floats(0, 100))
def test_percentile_is_a_sample_value_between_min_and_max(values: list[float], q: float) -> None:
    p = stats.percentile(values, q)
    assert p in values
    assert min(values) <= p <= max(values)
    assert stats.percentile(values, 100) == max(values)


def test_child_peak_rss_is_the_childs_not_the_benchs() -> None:
    """Spawned from a big process, a child's ru_maxrss used to start at the parent's peak
    (Linux keeps it across exec); the launcher makes it the command's own."""
    ballast = bytearray(160 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    res = procs.check(procs.run_measured([sys.executable, "-c", "print('ok')"]))
    assert res.stdout.strip() == "ok"
    assert 0 < res.maxrss_mb < 120, res.maxrss_mb
    failed = procs.run_measured([sys.executable, "-c", "raise SystemExit(3)"])
    assert failed.returncode == 3
    del ballast


def test_large_corpus_is_deterministic_and_chunks_into_definitions(tmp_path: Path) -> None:
    from pairofcleats.lang import ChunkingLimits, chunk_file
    from pairofcleats.lang.registry import detect

    a, b = tmp_path / "a", tmp_path / "b"
    counts = largegen.generate(a, 260, seed=5)
    assert counts == largegen.generate(b, 260, seed=5) and sum(counts.values()) == 260
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert set(counts) == set(largegen.LANGS)
    for rel in files:
        spec = detect(rel.as_posix())
        assert spec is not None, rel
        if rel.suffix == ".md":
            continue
        fc = chunk_file(rel.as_posix(), (a / rel).read_text(), spec, ChunkingLimits())
        kinds = {c.kind for c in fc.chunks}
        assert kinds & {"FunctionDeclaration", "MethodDeclaration"}, (rel, kinds)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # several real builds; minutes on a loaded 2-core machine
def test_quick_suite_produces_every_figure() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_pairofcleats_smoke", BENCH / "suite.py")
    assert spec is not None and spec.loader is not None
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    from pocbench.embed import minilm_installed

    result = suite.run({"quick": True, "root": WORKSPACE})
    names = [f["name"] for f in result["figures"]]
    corpora = result["detail"]["corpora"]
    assert corpora["medium"]["lines"] > corpora["small"]["lines"]
    assert len(names) == len(set(names))
    expected = FIGURES | (MINILM_FIGURES if minilm_installed() else set())
    assert set(names) == expected
    for fig in result["figures"]:
        assert isinstance(fig["value"], float | int) and math.isfinite(fig["value"]), fig
        assert {"unit", "baseline", "ratio"} <= fig.keys()
        if fig["baseline"] is not None:
            assert fig["ratio"] is not None and math.isfinite(fig["ratio"]), fig
        if "target" in fig:
            assert isinstance(fig["met"], bool), fig
    assert result["targetsMet"] + len(result["targetsMissed"]) == sum(
        1 for f in result["figures"] if "target" in f
    )
    assert result["detail"]["eval"]["queries"] >= 60
    large = result["detail"]["large"]
    assert large["stage12"]["files"] >= large["files"] and all(large["warmHits"])  # + its config
    json.dumps(result)  # the results file must be plain JSON
