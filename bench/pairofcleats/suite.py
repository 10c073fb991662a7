"""pairofcleats benchmarks (spec §13): every figure against a baseline from the same run.

Corpora (temp dir; nothing is written into ``.venv``): **small** = the tests' fixture repo,
**medium** = the venv's site-packages ``*.py`` plus ``packages/`` (quick: a CI slice),
**large** = 20k generated files in twelve languages plus Markdown (``pocbench/largegen.py``).
Baselines: B1 ``rg --files`` + reading every file; B2 a plain SQLite FTS5 build with one row
per file; ``rg -n -w <term>`` p50; ``python -c pass``; the stub embedder; the full build.
Retrieval: Recall@5 / MRR@10 over ``eval/queries.json`` on the small corpus vs ``rg -i -w``
(files ranked by match count). Each row carries its §13 ``target`` and whether it was
``met``; rows that could not run are listed under ``notRun`` with the reason, never as met.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from pocbench import baselines, builds, corpus, embed, largegen, queries, retrieval  # noqa: E402
from pocbench.evalset import load_eval, under  # noqa: E402
from pocbench.stats import percentile, row  # noqa: E402

MIB = 1024 * 1024
BUILD_FLAGS = ("--stub-embeddings", "--threads", str(os.cpu_count() or 2))


def _tool(workspace: Path, name: str) -> Path:
    for candidate in (Path(sys.executable).parent / name, workspace / ".venv" / "bin" / name):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `uv sync --all-packages` first")
    return Path(found)


def _env(base: Path) -> dict[str, str]:
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "PAIROFCLEATS_CACHE_ROOT": str(base / "cache"),
        "LANG": "C.UTF-8",
    }


def _ms(seconds: float) -> float:
    return seconds * 1000


def _stage12(full: builds.BuildRun) -> tuple[float, dict[str, Any]]:
    """Stage 1-2 seconds of a full build (its discover + stage1 + stage2 phases, else the
    whole wall) and the detail row saying which."""
    phases = [full.phase_seconds(p) for p in ("discover", "stage1", "stage2")]
    s12_s = sum(p for p in phases if p is not None) if all(p is not None for p in phases) else None
    wall = s12_s if s12_s is not None else full.proc.wall_s
    return wall, {
        "files": full.files,
        "chunks": full.chunks,
        "seconds": round(wall, 3),
        "source": "phases discover+stage1+stage2" if s12_s is not None else "full build wall",
    }


def _build_figures(
    cli: Path, rg: Path, med: corpus.Corpus, env: dict[str, str], cache: Path, tmp: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    baselines.b1_list_and_read(rg, med.root)  # warm the page cache for every reader
    b1 = baselines.b1_list_and_read(rg, med.root)
    b2 = baselines.b2_fts5_build(rg, med.root, tmp / "b2.db")
    detail: dict[str, Any] = {
        "B1": {"files": b1.files, "bytes": b1.bytes, "seconds": round(b1.seconds, 3)},
        "B2": {"files": b2.files, "bytes": b2.bytes, "seconds": round(b2.seconds, 3)},
    }

    # One full build into the empty cache (stage 4, SQLite, stub embeddings). Stage 1-2 is its
    # discover + stage1 + stage2 phases: the same work a --stage 2 --no-sqlite build does,
    # without paying for a second 1M-line build.
    full = builds.build(cli, med.root, env, cache, list(BUILD_FLAGS))
    wall, detail["stage12"] = _stage12(full)
    fps, cps = full.files / wall, full.chunks / wall
    figures += [
        row("build s1-2 files/s (medium)", fps, "files/s", "B1 rg --files + read",
            fps / (b1.files / b1.seconds), target=">= 150 files/s", met=fps >= 150),
        row("build s1-2 files/s vs FTS5 (medium)", fps, "files/s", "B2 FTS5 one row per file",
            fps / (b2.files / b2.seconds)),
        row("build s1-2 chunks/s (medium)", cps, "chunks/s", "B2 FTS5 rows/s",
            cps / (b2.files / b2.seconds), target=">= 1000 chunks/s", met=cps >= 1000),
        row("build s1-2 time / B2 wall (medium)", wall / b2.seconds, "x", "B2 FTS5 wall",
            wall / b2.seconds, target="<= 20x B2", met=wall <= 20 * b2.seconds),
        row("full build wall / B2 wall (medium)", full.proc.wall_s / b2.seconds, "x",
            "B2 FTS5 wall", full.proc.wall_s / b2.seconds, wallSeconds=round(full.proc.wall_s, 3)),
        row("build peak RSS, process tree (medium)", full.proc.tree_peak_mb, "MB", None, None,
            target="<= 1536 MB", met=full.proc.tree_peak_mb <= 1536,
            maxSingleProcessMb=round(full.proc.maxrss_mb, 1)),
    ]  # fmt: skip

    s4 = full.phase_seconds("stage4")
    detail["full"] = {
        "wallSeconds": round(full.proc.wall_s, 3),
        "phases": (full.state or {}).get("phases"),
        "treePeakMb": round(full.proc.tree_peak_mb, 1),
    }
    if s4 is not None:
        figures.append(
            row("stage4 SQLite seconds (medium)", s4, "s", "B2 FTS5 wall", s4 / b2.seconds,
                target="<= 3x B2", met=s4 <= 3 * b2.seconds)
        )  # fmt: skip
    same = builds.build(cli, med.root, env, cache, list(BUILD_FLAGS))
    r_same = same.proc.wall_s / full.proc.wall_s
    figures.append(
        row("incremental, no change (medium)", same.proc.wall_s, "s", "full build", r_same,
            target="<= 0.1x full", met=r_same <= 0.1, unchanged=bool(same.summary.get("unchanged")))
    )  # fmt: skip
    victim = sorted((med.root / "packages" / "groundwork").rglob("*.py"))[0]
    with victim.open("a", encoding="utf-8") as fh:
        fh.write("\n\ndef bench_touched_function() -> int:\n    return 1\n")
    one = builds.build(cli, med.root, env, cache, list(BUILD_FLAGS))
    r_one = one.proc.wall_s / full.proc.wall_s
    figures.append(
        row("incremental, one file changed (medium)", one.proc.wall_s, "s", "full build", r_one,
            target="<= 0.25x full", met=r_one <= 0.25, incremental=one.summary.get("incremental"))
    )  # fmt: skip
    return figures, detail


def _query_figures(
    cli: Path, rg: Path, med: corpus.Corpus, env: dict[str, str], quick: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    terms = list(queries.TERMS[: 12 if quick else len(queries.TERMS)])
    rg_s = baselines.rg_term_seconds(rg, med.root, terms)
    rg_p50 = percentile(rg_s, 50)
    detail: dict[str, Any] = {"rgP50Ms": round(_ms(rg_p50), 3), "terms": len(terms)}
    for backend, p95_cap in (("memory", 150.0), ("sqlite", 150.0)):
        lat = queries.warm_latencies(med.root, env, backend, terms, warmup="bench warmup")
        p50, p95 = _ms(percentile(lat.seconds, 50)), _ms(percentile(lat.seconds, 95))
        detail[f"warm_{backend}"] = {"hits": lat.hits}
        figures += [
            row(f"warm query p50, {backend} (medium)", p50, "ms", "rg -n -w p50",
                p50 / _ms(rg_p50), target="<= 1x rg and <= 50 ms",
                met=p50 <= _ms(rg_p50) and p50 <= 50),
            row(f"warm query p95, {backend} (medium)", p95, "ms", "rg -n -w p50",
                p95 / _ms(rg_p50), target=f"<= {p95_cap:.0f} ms", met=p95 <= p95_cap),
        ]  # fmt: skip
    runs = 5 if quick else 12
    py_p50 = percentile(baselines.python_pass_seconds(runs), 50)
    cold: dict[str, list[Any]] = {"memory": [], "sqlite": []}
    for backend in cold:
        # memory-backend processes only give the peak RSS (each loads every artifact)
        for term in terms[: runs if backend == "sqlite" else 3]:
            cold[backend].append(queries.cold_search(cli, med.root, env, backend, term))
    sq = [r.wall_s for r in cold["sqlite"]]
    cold_p50 = _ms(percentile(sq, 50))
    figures += [
        row("cold CLI search --json p50, sqlite (medium)", cold_p50, "ms", "rg -n -w p50",
            cold_p50 / _ms(rg_p50), target="<= 5x rg and <= 400 ms",
            met=cold_p50 <= 5 * _ms(rg_p50) and cold_p50 <= 400),
        row("cold CLI search --json p50 vs interpreter", cold_p50, "ms", "python -c pass p50",
            cold_p50 / _ms(py_p50), pythonPassMs=round(_ms(py_p50), 3)),
    ]  # fmt: skip
    for backend, cap in (("memory", 250.0), ("sqlite", 150.0)):
        peak = max(r.maxrss_mb for r in cold[backend])
        figures.append(
            row(
                f"search peak RSS, {backend} CLI (medium)",
                peak,
                "MB",
                None,
                None,
                target=f"<= {cap:.0f} MB",
                met=peak <= cap,
            )
        )
    return figures, detail


#: Generated files in the large corpus (§13: a 20k-file multi-language tree); quick: a slice.
LARGE_FILES, LARGE_FILES_QUICK = 20_000, 300
#: Words every generated language uses as identifiers (large-corpus query terms).
LARGE_TERMS = (
    "session", "cursor", "snapshot", "ledger", "replica", "invoice", "histogram", "backoff",
    "tenant", "shipment", "gateway", "broker",
)  # fmt: skip


def _large_figures(
    cli: Path, rg: Path, env: dict[str, str], tmp: Path, quick: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The large corpus: one full build (stub vectors, exact dense search, SQLite) reported
    as stage 1-2 throughput against B1/B2 of the same tree, its peak RSS, and sqlite query
    latency against ``rg``. §13's targets name the medium corpus, so these rows carry no
    verdict: they show how the figures scale with 5x the files."""
    root = tmp / "large"
    n = LARGE_FILES_QUICK if quick else LARGE_FILES
    per_ext = largegen.generate(root, n)
    (root / ".pairofcleats.json").write_text(
        '{"search": {"ann": {"hnswMinVectors": 100000000}}}\n', encoding="utf-8"
    )
    baselines.b1_list_and_read(rg, root)  # page cache
    b1 = baselines.b1_list_and_read(rg, root)
    b2 = baselines.b2_fts5_build(rg, root, tmp / "b2-large.db")
    full = builds.build(cli, root, env, tmp / "cache", list(BUILD_FLAGS))
    wall, s12 = _stage12(full)
    fps, cps = full.files / wall, full.chunks / wall
    terms = list(LARGE_TERMS[: 4 if quick else len(LARGE_TERMS)])
    rg_p50 = _ms(percentile(baselines.rg_term_seconds(rg, root, terms), 50))
    warm = queries.warm_latencies(root, env, "sqlite", terms, warmup="large warmup")
    warm_p50 = _ms(percentile(warm.seconds, 50))
    cold = [queries.cold_search(cli, root, env, "sqlite", t).wall_s for t in terms]
    cold_p50 = _ms(percentile(cold, 50))
    detail: dict[str, Any] = {
        "files": n,
        "perExt": per_ext,
        "B1": {"files": b1.files, "bytes": b1.bytes, "seconds": round(b1.seconds, 3)},
        "B2": {"files": b2.files, "bytes": b2.bytes, "seconds": round(b2.seconds, 3)},
        "stage12": s12,
        "phases": (full.state or {}).get("phases"),
        "rgP50Ms": round(rg_p50, 3),
        "warmHits": warm.hits,
    }
    figures = [
        row("build s1-2 files/s (large)", fps, "files/s", "B1 rg --files + read",
            fps / (b1.files / b1.seconds)),
        row("build s1-2 chunks/s (large)", cps, "chunks/s", "B2 FTS5 rows/s",
            cps / (b2.files / b2.seconds)),
        row("build s1-2 time / B2 wall (large)", wall / b2.seconds, "x", "B2 FTS5 wall",
            wall / b2.seconds),
        row("full build wall / B2 wall (large)", full.proc.wall_s / b2.seconds, "x",
            "B2 FTS5 wall", full.proc.wall_s / b2.seconds, wallSeconds=round(full.proc.wall_s, 3)),
        row("build peak RSS, process tree (large)", full.proc.tree_peak_mb, "MB", None, None,
            maxSingleProcessMb=round(full.proc.maxrss_mb, 1)),
        row("warm query p50, sqlite (large)", warm_p50, "ms", "rg -n -w p50", warm_p50 / rg_p50),
        row("cold CLI search --json p50, sqlite (large)", cold_p50, "ms", "rg -n -w p50",
            cold_p50 / rg_p50),
    ]  # fmt: skip
    return figures, detail


def _quality(
    name: str,
    value: float,
    baseline: str,
    base_value: float,
    target: str | None = None,
    met: bool | None = None,
) -> dict[str, Any]:
    """A retrieval row: ratio = ours / baseline, plus the difference the targets use."""
    ratio = value / base_value if base_value else None
    return row(name, value, "score", baseline, ratio, target=target, met=met,
               baselineValue=round(base_value, 4), delta=round(value - base_value, 4))  # fmt: skip


def _eval_medium(
    rg: Path, med: corpus.Corpus, env: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The same eval set with the fixture copied to ``medium/fixture/``: thousands of
    distractor files for both rankers (sparse only: the medium build has stub vectors)."""
    evalq = under(load_eval(), f"{corpus.FIXTURE_DIR}/")
    sparse = retrieval.score(evalq, retrieval.searcher_ranker(med.root, env, ann=False))
    base = retrieval.score(evalq, retrieval.rg_ranker(rg, med.root))
    s, b = sparse["summary"], base["summary"]
    name_r, name_m = s["name"]["recall5"], s["name"]["mrr10"]
    f_ours, f_rg = s["all"]["fileRecall5"], b["all"]["fileRecall5"]
    figures = [
        _quality("Recall@5 sparse, name queries (medium+fixture)", name_r,
                 "rg file Recall@5 (name)", b["name"]["fileRecall5"], ">= 0.85", name_r >= 0.85),
        _quality("MRR@10 sparse, name queries (medium+fixture)", name_m,
                 "rg file MRR@10 (name)", b["name"]["fileMrr10"], ">= 0.70", name_m >= 0.70),
        _quality("file Recall@5 sparse, all queries (medium+fixture)", f_ours,
                 "rg -i -w by match count", f_rg, ">= rg + 0.15", f_ours >= f_rg + 0.15),
    ]  # fmt: skip
    return figures, {"sparse": sparse, "rg": base}


def _eval_figures(
    cli: Path, rg: Path, small: corpus.Corpus, env: dict[str, str], cache: Path
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, str]]]:
    figures: list[dict[str, Any]] = []
    not_run: list[dict[str, str]] = []
    evalq = load_eval()
    minilm = embed.minilm_installed()
    flags = ["--embeddings", "minilm"] if minilm else ["--stub-embeddings"]
    builds.build(cli, small.root, env, cache, flags)
    sparse = retrieval.score(evalq, retrieval.searcher_ranker(small.root, env, ann=False))
    base = retrieval.score(evalq, retrieval.rg_ranker(rg, small.root))
    s, b = sparse["summary"], base["summary"]
    name_r, name_m = s["name"]["recall5"], s["name"]["mrr10"]
    f_ours, f_rg = s["all"]["fileRecall5"], b["all"]["fileRecall5"]
    figures += [
        _quality("Recall@5 sparse, name queries (small)", name_r, "rg file Recall@5 (name)",
                 b["name"]["fileRecall5"], ">= 0.85", name_r >= 0.85),
        _quality("MRR@10 sparse, name queries (small)", name_m, "rg file MRR@10 (name)",
                 b["name"]["fileMrr10"], ">= 0.70", name_m >= 0.70),
        _quality("file Recall@5 sparse, all queries (small)", f_ours, "rg -i -w by match count",
                 f_rg, ">= rg + 0.15", f_ours >= f_rg + 0.15),
        _quality("file MRR@10 sparse, all queries (small)", s["all"]["fileMrr10"],
                 "rg -i -w by match count", b["all"]["fileMrr10"]),
        _quality("MRR@10 sparse, all queries (small)", s["all"]["mrr10"], "rg file MRR@10",
                 b["all"]["fileMrr10"]),
    ]  # fmt: skip
    detail: dict[str, Any] = {"queries": len(evalq), "sparse": sparse, "rg": base}
    if minilm:
        hybrid = retrieval.score(evalq, retrieval.searcher_ranker(small.root, env, ann=True))
        h_nl, s_nl = hybrid["summary"]["nl"]["recall5"], s["nl"]["recall5"]
        figures.append(
            _quality("Recall@5 hybrid MiniLM, NL queries (small)", h_nl, "sparse Recall@5 (NL)",
                     s_nl, ">= sparse + 0.05", h_nl >= s_nl + 0.05)
        )  # fmt: skip
        detail["hybrid"] = hybrid
    else:
        not_run.append({"figure": "hybrid MiniLM Recall@5", "reason": "MiniLM not installed"})
    return figures, detail, not_run


def run(ctx: dict[str, Any]) -> dict[str, Any]:
    quick = bool(ctx.get("quick"))
    workspace = Path(ctx.get("root") or HERE.parent.parent).resolve()
    cli, rg = _tool(workspace, "pairofcleats"), _tool(workspace, "rg")
    figures: list[dict[str, Any]] = []
    detail: dict[str, Any] = {}
    not_run: list[dict[str, str]] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pairofcleats-bench-") as tmp_s:
        tmp = Path(tmp_s)
        env = _env(tmp)
        cache = tmp / "cache"
        small = corpus.make_small(workspace, tmp / "small")
        med = corpus.make_medium(workspace, tmp / "medium", quick=quick, extra=small.root)
        if os.environ.get("POCBENCH_MEDIUM_HNSW") != "1":
            # usearch's single-threaded insert (the price of byte-identical graphs for any
            # --threads) of the medium corpus's ~65k code + ~71k extracted-prose stub vectors
            # takes ~1 min per mode (f16: ~1,240 vectors/s at 65k) and would dominate every
            # build figure, so the medium builds keep exact dense search;
            # POCBENCH_MEDIUM_HNSW=1 measures it.
            (med.root / ".pairofcleats.json").write_text(
                '{"search": {"ann": {"hnswMinVectors": 100000000}}}\n', encoding="utf-8"
            )
            not_run.append(
                {
                    "figure": "HNSW graph build in the medium builds",
                    "reason": "excluded: the single-threaded deterministic usearch insert of "
                    "~136k stub vectors (~1 min per mode) would dominate the build figures; "
                    "POCBENCH_MEDIUM_HNSW=1 includes it",
                }
            )
        detail["corpora"] = {c.name: {"files": c.files, "lines": c.lines} for c in (small, med)}
        t0 = time.perf_counter()
        rows, detail["build"] = _build_figures(cli, rg, med, env, cache, tmp)
        timings["build"] = round(time.perf_counter() - t0, 3)
        figures += rows
        t0 = time.perf_counter()
        rows, detail["query"] = _query_figures(cli, rg, med, env, quick)
        timings["query"] = round(time.perf_counter() - t0, 3)
        figures += rows
        t0 = time.perf_counter()
        emb_rows, emb_info, emb_missing = embed.embedding_figures(med.root, cache, quick)
        timings["embed"] = round(time.perf_counter() - t0, 3)
        figures += emb_rows
        detail["embed"] = emb_info
        not_run += emb_missing
        t0 = time.perf_counter()
        ev_rows, ev_info, ev_missing = _eval_figures(cli, rg, small, env, cache)
        timings["eval"] = round(time.perf_counter() - t0, 3)
        figures += ev_rows
        detail["eval"] = ev_info
        not_run += ev_missing
        t0 = time.perf_counter()
        rows, detail["evalMedium"] = _eval_medium(rg, med, env)
        timings["evalMedium"] = round(time.perf_counter() - t0, 3)
        figures += rows
        shutil.rmtree(cache, ignore_errors=True)  # the medium and small builds' disk
        t0 = time.perf_counter()
        rows, detail["large"] = _large_figures(cli, rg, env, tmp, quick)
        timings["large"] = round(time.perf_counter() - t0, 3)
        figures += rows
    targets = [f for f in figures if "met" in f]
    return {
        "figures": figures,
        "quick": quick,
        "detail": detail,
        "stepSeconds": timings,
        "targetsMet": sum(1 for f in targets if f["met"]),
        "targetsMissed": [f["name"] for f in targets if not f["met"]],
        "notRun": not_run,
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
    }
