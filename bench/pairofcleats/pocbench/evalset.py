"""The retrieval eval set (``bench/pairofcleats/eval/queries.json``) and its metrics.

Each query is ``{query, mode, kind, expect:[{file, name?}]}``; ``kind`` is ``name``
(a definition name), ``nl`` (a paraphrased docstring or heading), ``path`` or ``heading``.
A hit matches an expectation when its file is equal and, if the expectation names a chunk,
its name is too. Metrics are pure functions over ranked hit lists, so the same code scores
pairofcleats (chunk hits) and the ``rg`` baseline (files ranked by match count).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pocbench.procs import run_measured

EVAL_PATH = Path(__file__).resolve().parent.parent / "eval" / "queries.json"
KINDS = ("name", "nl", "path", "heading")
MODES = ("code", "prose", "extracted-prose")


@dataclass(frozen=True, slots=True)
class Expect:
    """One expected result: a file, and optionally the chunk name within it."""

    file: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One eval query."""

    query: str
    mode: str
    kind: str
    expect: tuple[Expect, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked result reduced to what the metrics need."""

    file: str
    name: str | None = None


def load_eval(path: Path = EVAL_PATH) -> list[EvalQuery]:
    """Parse and check the eval set (unknown modes/kinds or empty expectations fail)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    out: list[EvalQuery] = []
    for i, item in enumerate(raw):
        if item.get("mode") not in MODES or item.get("kind") not in KINDS:
            raise ValueError(f"eval query {i} has a bad mode or kind: {item!r}")
        expect = tuple(Expect(e["file"], e.get("name")) for e in item.get("expect") or [])
        if not expect or not str(item.get("query", "")).strip():
            raise ValueError(f"eval query {i} needs a query and at least one expectation")
        out.append(EvalQuery(item["query"], item["mode"], item["kind"], expect))
    return out


def under(queries: Sequence[EvalQuery], prefix: str) -> list[EvalQuery]:
    """The same queries with every expected file moved under ``prefix`` (the fixture copied
    into a bigger corpus)."""
    return [
        EvalQuery(q.query, q.mode, q.kind, tuple(Expect(prefix + e.file, e.name) for e in q.expect))
        for q in queries
    ]


def _matches(hit: Hit, exp: Expect) -> bool:
    return hit.file == exp.file and (exp.name is None or hit.name == exp.name)


def recall_at(hits: Sequence[Hit], expect: Sequence[Expect], k: int) -> float:
    """Fraction of expectations matched by some hit among the first ``k``."""
    top = hits[:k]
    return sum(1 for e in expect if any(_matches(h, e) for h in top)) / len(expect)


def mrr_at(hits: Sequence[Hit], expect: Sequence[Expect], k: int) -> float:
    """Reciprocal rank (1-based) of the first hit matching any expectation within ``k``."""
    for rank, hit in enumerate(hits[:k], start=1):
        if any(_matches(hit, e) for e in expect):
            return 1.0 / rank
    return 0.0


def file_ranking(hits: Iterable[Hit]) -> list[Hit]:
    """Distinct files in first-seen order (chunk hits → a file ranking)."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.file, None)
    return [Hit(f) for f in seen]


def file_expect(expect: Sequence[Expect]) -> list[Expect]:
    """The expectations' distinct files, names dropped."""
    return [Expect(f) for f in dict.fromkeys(e.file for e in expect)]


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    return sum(values) / len(values) if values else 0.0


def rg_terms(query: str) -> list[str]:
    """The query's whitespace-separated words, deduplicated case-insensitively."""
    return list(dict.fromkeys(w.lower() for w in query.split()))


def rank_counts(counts: dict[str, int]) -> list[Hit]:
    """Files by match count descending, then path ascending."""
    return [Hit(f) for f, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def parse_rg_count(stdout: str) -> dict[str, int]:
    """``rg -c`` output (``path:count`` lines, relative to ``.``) → counts."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        path, sep, num = line.rpartition(":")
        if not sep or not num.isdigit():
            continue
        counts[path.removeprefix("./")] = int(num)
    return counts


def rg_rank(rg: Path, root: Path, query: str) -> list[Hit]:
    """The baseline: ``rg -i -w -F -c -e w1 -e w2 …`` over the corpus, ranked by count."""
    argv = [str(rg), "-i", "-w", "-F", "-c", "--no-messages"]
    for term in rg_terms(query):
        argv += ["-e", term]
    res = run_measured([*argv, "."], cwd=root)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"rg failed on {query!r}: {res.stderr.strip()[:200]}")
    return rank_counts(parse_rg_count(res.stdout))
