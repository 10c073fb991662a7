"""Score the eval set against pairofcleats (sparse and hybrid) and the ``rg`` baseline."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pocbench.evalset import (
    KINDS,
    EvalQuery,
    Hit,
    file_expect,
    file_ranking,
    mean,
    mrr_at,
    recall_at,
    rg_rank,
)

MODE_KEYS = {"code": "code", "prose": "prose", "extracted-prose": "extractedProse"}
DEPTH = 10


def _summary(per_query: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Means of ``keys`` overall and per query kind."""
    out: dict[str, Any] = {"all": {k: round(mean([q[k] for q in per_query]), 4) for k in keys}}
    out["all"]["queries"] = len(per_query)
    for kind in KINDS:
        rows = [q for q in per_query if q["kind"] == kind]
        if rows:
            out[kind] = {k: round(mean([q[k] for q in rows]), 4) for k in keys}
            out[kind]["queries"] = len(rows)
    return out


def score(queries: Sequence[EvalQuery], ranked: Callable[[EvalQuery], list[Hit]]) -> dict[str, Any]:
    """Chunk-level Recall@5 / MRR@10 and file-level Recall@5 / MRR@10 of one ranker."""
    per_query: list[dict[str, Any]] = []
    for q in queries:
        hits = ranked(q)
        files = file_ranking(hits)
        fexp = file_expect(q.expect)
        per_query.append(
            {
                "query": q.query,
                "kind": q.kind,
                "recall5": recall_at(hits, q.expect, 5),
                "mrr10": mrr_at(hits, q.expect, DEPTH),
                "fileRecall5": recall_at(files, fexp, 5),
                "fileMrr10": mrr_at(files, fexp, DEPTH),
                "top": [f"{h.file}:{h.name}" for h in hits[:3]],
            }
        )
    summary = _summary(per_query, ("recall5", "mrr10", "fileRecall5", "fileMrr10"))
    misses = [q for q in per_query if q["recall5"] < 1.0]
    return {"summary": summary, "misses": misses}


def searcher_ranker(
    repo: Path, env: Mapping[str, str], *, ann: bool, backend: str = "memory"
) -> Callable[[EvalQuery], list[Hit]]:
    """A ranker over a warm ``Searcher``: top ``DEPTH`` hits of the query's mode."""
    from pairofcleats.api import Searcher
    from pairofcleats.search.searcher import SearchRequest

    searcher = Searcher(repo, env=env)

    def ranked(q: EvalQuery) -> list[Hit]:
        req = SearchRequest(query=q.query, mode=q.mode, top=DEPTH, backend=backend, ann=ann)
        result = searcher.search(req)
        return [Hit(h["file"], h.get("name")) for h in result[MODE_KEYS[q.mode]]]

    return ranked


def rg_ranker(rg: Path, root: Path) -> Callable[[EvalQuery], list[Hit]]:
    """The baseline ranker: files by ``rg -i -w`` match count (file-level only)."""
    return lambda q: rg_rank(rg, root, q.query)
