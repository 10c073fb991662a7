"""One mode's search (§9.4): plan, constrain, rank sparse and dense, fuse, boost, cut to top-N.

The allowed mask (filters ∧ query constraints) gates sparse and dense ranking themselves, so
the fused top ``top`` is the true top-N among allowed chunks (ties: id ascending). Backends
only change where postings come from (:mod:`pairofcleats.search.source`) or, for
``sqlite-fts``, who computes the sparse list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from pairofcleats.errors import CapabilityMissing
from pairofcleats.search import rank
from pairofcleats.search.filters import Filters, filter_mask
from pairofcleats.search.hits import SearchWarning
from pairofcleats.search.hits import exported as _exported
from pairofcleats.search.hits import hit_record as _hit
from pairofcleats.search.hits import operator_word_warning as _operator_word_warning
from pairofcleats.search.intent import Intent, field_weights, vector_variant
from pairofcleats.search.plan import (
    MatchMode,
    ModePlan,
    candidate_counts,
    constraint_mask,
    path_mask,
    path_relaxed_terms,
    path_scores,
    phrase_matches,
    plan_mode,
)
from pairofcleats.search.query import Node
from pairofcleats.search.scoring import exact_named
from pairofcleats.search.source import SparseSource

__all__ = ["CandidateSet", "ModeResult", "SearchOptions", "SearchWarning", "search_mode"]

BoolMask = npt.NDArray[np.bool_]
QueryVector = Callable[[str, str, int], npt.NDArray[np.float32] | None]
CandidateSet = Callable[[SparseSource, ModePlan], "npt.NDArray[np.bool_] | None"]
"""``(source, plan) -> mask of admissible chunks`` (None: no restriction)."""
"""``(provider, model, dims) -> unit query vector`` or None when the provider is unavailable."""


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Effective search settings (config ``search.*`` overlaid with flags)."""

    top: int = 5
    match_mode: Literal["auto", "all", "any"] = "auto"
    strict: bool = False
    k1: float = 1.2
    b: float = 0.75
    field_weights: Mapping[str, float] | None = None  # None: the intent's row
    fielded: bool = True
    rrf: bool = True
    rrf_k: int = 60
    blend: bool = False
    sparse_weight: float = 1.0
    ann_weight: float = 1.0
    max_candidates: int = 20000
    symbol_boost: bool = True
    definition_weight: float = 1.15
    export_weight: float = 1.1
    ann: bool = True
    ann_explicit: bool = False
    ann_backend: Literal["auto", "exact", "hnsw"] = "auto"
    hnsw_min_vectors: int = 20000
    ef_search: int = 64
    minhash_fallback: bool = False
    dense_vector_mode: Literal["merged", "code", "doc", "auto"] = "auto"
    explain: bool = False
    filters: Filters = field(default_factory=Filters)


@dataclass(slots=True)
class ModeResult:
    mode: str
    hits: list[dict[str, Any]]
    warnings: list[SearchWarning]
    explain: dict[str, Any]


class FtsCapable(Protocol):
    """A source that ranks sparse hits itself (``sqlite-fts``)."""

    def fts_search(
        self, plan: ModePlan, allowed: BoolMask | None, limit: int
    ) -> tuple[list[tuple[int, float]], dict[str, Any]]: ...


def _and(a: BoolMask | None, b: BoolMask | None) -> BoolMask | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _resolve_match_mode(opt: SearchOptions, intent: Intent) -> MatchMode:
    if opt.match_mode == "auto":
        return "any" if intent.type == "prose" else "all"
    return opt.match_mode


def _weighted(scores: npt.NDArray[np.float64], source: SparseSource) -> npt.NDArray[np.float64]:
    """``scores × chunk weight``; only scored chunks' weights are read (a zero stays zero)."""
    ids = np.flatnonzero(scores)
    out = np.zeros_like(scores)
    out[ids] = scores[ids] * source.weights_of(ids)
    return out


def _path_first(scores: npt.NDArray[np.float64], named: BoolMask) -> npt.NDArray[np.float64]:
    """Lift the scored chunks of the files a path-like term names above every other chunk.

    Adding the best score outside those files keeps their own order (BM25 plus the path
    field) and puts them ahead of chunks that only share the path's sub-words, however many
    fields those match: ``config/settings.json`` means that file, not ``load_settings``.
    This gets them into the sparse list; :func:`_lift_named` keeps them first after fusion
    and boosts.
    """
    others = scores[~named]
    lift = float(others.max()) if others.size else 0.0
    if lift <= 0.0:
        return scores
    out = scores.copy()
    lifted = named & (scores > 0)
    out[lifted] += lift
    return out


def _lift_named(fused: dict[int, float], named: BoolMask) -> float:
    """The final-score form of :func:`_path_first` (after fusion and boosts); returns the
    lift (0.0 when nothing outside the named files scored)."""
    lift = max((v for d, v in fused.items() if not named[d]), default=0.0)
    if lift <= 0.0:
        return 0.0
    for d in fused:
        if named[d]:
            fused[d] += lift
    return lift


def _dense_ranking(
    source: SparseSource,
    opt: SearchOptions,
    intent: Intent,
    allowed: BoolMask | None,
    limit: int,
    query_vector: QueryVector,
    warnings: list[SearchWarning],
) -> tuple[list[int], dict[int, float], str | None, str | None]:
    """``(ids, id→cosine, annSource, annType)``; empty when no vectors or provider."""
    if not opt.ann:
        return [], {}, None, None
    variants = source.index.dense_variants()
    if not variants:
        built = bool(source.index.state.get("embeddings", {}).get("enabled"))
        if opt.ann_explicit and not built and not opt.minhash_fallback:
            # an explicit --ann must not quietly rank sparse-only (R4)
            raise CapabilityMissing(
                f"mode {source.mode} was built without embeddings, so --ann has no vectors",
                hint="rebuild with: pairofcleats index build --embeddings minilm (or drop --ann)",
            )
        return [], {}, None, None
    variant = (
        vector_variant(intent.type, variants)
        if opt.dense_vector_mode == "auto"
        else (opt.dense_vector_mode if opt.dense_vector_mode in variants else "merged")
    )
    info = source.index.dense_info(variant)
    if info is None:
        return [], {}, None, None
    vec_model, dims = info
    emb = source.index.state.get("embeddings", {})
    provider = str(emb.get("provider") or vec_model or "")
    model = str(emb.get("model") or vec_model or provider)
    qvec = query_vector(provider, model, dims)
    if qvec is None:
        msg = f"embeddings provider {provider!r} is unavailable; using sparse ranking only"
        if opt.ann_explicit:
            raise CapabilityMissing(msg, hint="install pairofcleats[minilm] or pass --no-ann")
        warnings.append(SearchWarning("EMBEDDINGS_UNAVAILABLE", msg, source.mode))
        return [], {}, None, None
    hnsw = _hnsw_ranking(source, opt, variant, allowed, limit, qvec, warnings)
    if hnsw is not None:
        ids_h, scores_h = hnsw
        return ids_h, scores_h, "hnsw", variant
    if allowed is None:
        dense = source.dense(variant)  # exact over every row: only now the float matrix
        if dense is None:
            return [], {}, None, None
        scores = rank.dense_scores(dense.matrix, qvec)
        ids = rank.top_k(scores, None, limit, positive_only=False)
        return [int(i) for i in ids], {int(i): float(scores[i]) for i in ids}, "dense", variant
    rows = np.flatnonzero(allowed)
    if rows.size == 0:
        return [], {}, "dense", variant
    # the query's constraints usually admit a few rows: only those are dequantised
    sub_matrix = source.index.dense_rows(variant, rows)
    if sub_matrix is None:
        return [], {}, None, None
    sub = rank.dense_scores(sub_matrix, qvec)
    full = np.full(source.count, -np.inf, dtype=np.float64)
    full[rows] = sub
    ids = rank.top_k(full, allowed, limit, positive_only=False)
    return [int(i) for i in ids], {int(i): float(full[i]) for i in ids}, "dense", variant


def _hnsw_ranking(
    source: SparseSource,
    opt: SearchOptions,
    variant: str,
    allowed: BoolMask | None,
    limit: int,
    qvec: npt.NDArray[np.float32],
    warnings: list[SearchWarning],
) -> tuple[list[int], dict[int, float]] | None:
    """HNSW (usearch, cosine) when configured and worthwhile, else None (exact is used).

    Used for the merged vectors when the index has at least ``hnswMinVectors`` rows (or
    ``--ann-backend hnsw``) and no filter narrows the rows below that; over-fetches ×4 and
    returns None when too few allowed rows survive, so exact search takes over.
    """
    if opt.ann_backend == "exact" or variant != "merged":
        return None
    graph = source.index.hnsw()
    if graph is None:
        if opt.ann_backend == "hnsw":
            warnings.append(
                SearchWarning("HNSW_UNAVAILABLE", "no HNSW index; using exact", source.mode)
            )
        return None
    admitted = source.count if allowed is None else int(allowed.sum())
    if opt.ann_backend == "auto" and (
        source.count < opt.hnsw_min_vectors or admitted <= opt.hnsw_min_vectors
    ):
        return None
    want = min(source.count, 4 * limit)
    # The restored graph comes back with usearch's default ef; the config's value
    # (search.ann.efSearch) is what the query must use. Same value for every
    # query of this repo's searcher, so sharing the memoised graph is safe.
    if graph.expansion_search != opt.ef_search:
        graph.expansion_search = opt.ef_search
    matches = graph.search(qvec.astype(np.float32), want)
    ids: list[int] = []
    scores: dict[int, float] = {}
    for key, dist in zip(matches.keys.tolist(), matches.distances.tolist(), strict=True):
        doc = int(key)
        if allowed is not None and not allowed[doc]:
            continue
        ids.append(doc)
        scores[doc] = 1.0 - float(dist)
    if len(ids) < min(limit, admitted):
        return None
    ordered = sorted(ids, key=lambda d: (-scores[d], d))[:limit]
    return ordered, {d: scores[d] for d in ordered}


def _minhash_ranking(
    source: SparseSource, plan: ModePlan, candidates: npt.NDArray[np.int64], limit: int
) -> tuple[list[int], dict[int, float]]:
    from pairofcleats.search.minhash import minhash_signature

    sigs = source.minhash()
    if sigs is None or candidates.size == 0:
        return [], {}
    tokens = [qt.text for qt in plan.query_tokens()]
    qsig = minhash_signature(tokens, sigs.shape[1] if sigs.ndim == 2 else 128)
    sims = rank.minhash_jaccard(sigs[candidates], qsig)
    full = np.zeros(source.count, dtype=np.float64)
    full[candidates] = sims
    ids = rank.top_k(full, None, limit)
    return [int(i) for i in ids], {int(i): float(full[i]) for i in ids}


def search_mode(
    source: SparseSource,
    ast: Node,
    intent: Intent,
    opt: SearchOptions,
    query_vector: QueryVector,
    *,
    use_fts: bool = False,
    candidate_set: CandidateSet | None = None,
) -> ModeResult:
    """Search one mode and return its top ``opt.top`` hits with warnings and explain data.

    ``candidate_set`` is the seam later phases use to restrict the chunks a query may return
    (a graph neighbourhood, a snapshot diff): its mask joins the filters before any ranking,
    so the top-N stays true among the chunks it admits.
    """
    mode = source.mode
    warnings: list[SearchWarning] = []
    explain: dict[str, Any] = {}
    n = source.count
    if n == 0:
        return ModeResult(mode, [], warnings, explain)
    plan = plan_mode(source, ast, strict=opt.strict)
    if plan.is_empty():
        warnings.append(
            SearchWarning("QUERY_EMPTY_FOR_MODE", "no query term survives tokenization", mode)
        )
        return ModeResult(mode, [], warnings, {"matchMode": None})
    match_mode = _resolve_match_mode(opt, intent)
    relaxed: list[str] = []
    expansions = plan.expansions()
    if expansions:
        relaxed.append("expand")
        for sub, alts in expansions.items():
            listed = ", ".join(str(a["token"]) for a in alts)
            warnings.append(
                SearchWarning("QUERY_TERM_EXPANDED", f"{sub!r} matched as {listed}", mode)
            )
    if plan.splits:
        relaxed.append("split")
        warnings.extend(
            SearchWarning("QUERY_TERM_EXPANDED", msg, mode) for msg in plan.split_messages()
        )
    fmask = filter_mask(source.filter_columns(), opt.filters) if opt.filters.active() else None
    if candidate_set is not None:
        fmask = _and(fmask, candidate_set(source, plan))
    allowed = _and(fmask, constraint_mask(source, plan, match_mode))
    if match_mode == "all" and plan.has_implicit_and and not opt.strict:
        admitted = n if allowed is None else int(allowed.sum())
        if admitted < opt.top:
            allowed = _and(fmask, constraint_mask(source, plan, "any"))
            match_mode = "any"
            relaxed.append("implicit-and-any")
            warnings.append(
                SearchWarning(
                    "QUERY_RELAXED",
                    f"fewer than {opt.top} chunks match every term; ranking any-term matches",
                    mode,
                )
            )
    if match_mode == "all":
        for text in path_relaxed_terms(source, plan):
            relaxed.append("path")
            warnings.append(
                SearchWarning(
                    "QUERY_RELAXED",
                    f"{text!r} also matches the chunks of the files whose path contains it",
                    mode,
                )
            )
    expanded_top = 3 * opt.top

    # §9.4 step 1: candidates
    # (only --explain and the MinHash fallback read them: counting a query's chargram lists
    # costs a cold memory search the chargram table, ~1.8 s on the medium index)
    cand_memo: list[npt.NDArray[np.int64]] = []

    def candidates() -> npt.NDArray[np.int64]:
        if not cand_memo:
            counts = candidate_counts(source, plan)
            ids = np.flatnonzero(counts)
            if ids.size > opt.max_candidates:
                order = np.lexsort((ids, -counts[ids]))
                ids = np.sort(ids[order[: opt.max_candidates]])
            cand_memo.append(ids)
        return cand_memo[0]

    # a typed path names files: they lead the sparse list and are the dense candidates
    named_files = path_mask(source, plan)
    if named_files is not None and allowed is not None and not (named_files & allowed).any():
        named_files = None

    # a word of a sentence ("the java program") is no symbol name: prose-intent queries get
    # neither the name-join of the sparse list nor the name boost
    query_names = plan.query_names() if intent.type != "prose" else []

    # step 2: sparse
    weights_row = (
        dict(opt.field_weights) if opt.field_weights is not None else field_weights(intent.type)
    )
    params = rank.Bm25Params(opt.k1, opt.b)
    fields = source.fields()
    fielded = bool(opt.fielded and fields and source.index.fielded)
    sparse_type: str
    sparse_scores: dict[int, float] = {}
    sparse_ids: list[int]
    if use_fts and hasattr(source, "fts_search"):
        fts_source: FtsCapable = source  # type: ignore[assignment]
        pairs, fts_explain = fts_source.fts_search(plan, allowed, expanded_top)
        sparse_ids = [d for d, _ in pairs]
        sparse_scores = dict(pairs)
        sparse_type = "fts"
        explain.update(fts_explain)
    else:
        tokens = plan.query_tokens()
        if fielded:
            scores = rank.fielded_bm25_scores(tokens, fields, weights_row, n, params)
            sparse_type = "bm25-fielded"
        else:
            scores = rank.bm25_scores(tokens, source.lookup, source.stats, params)
            sparse_type = "bm25"
        by_path = path_scores(source, plan, weights_row.get("name", 1.0) if fielded else 1.0)
        if by_path is not None:
            scores = scores + by_path
            explain["pathMatches"] = int(np.count_nonzero(by_path))
        scores = _weighted(scores, source)
        if named_files is not None:
            scores = _path_first(scores, named_files)
        ids = rank.top_k(scores, allowed, expanded_top)
        sparse_ids = [int(i) for i in ids]
        sparse_scores = {int(i): float(scores[i]) for i in ids}
        # the name field finds them even when the ranking is unfielded (fieldWeights false)
        if fields and source.index.fielded and query_names and named_files is None:
            named = _named_definitions(
                source, fields, query_names, scores, allowed, set(sparse_ids), opt.top
            )
            if named:
                explain["nameMatches"] = len(named)
                sparse_ids.extend(named)
                sparse_scores.update((d, float(scores[d])) for d in named)

    # step 3: dense (or MinHash fallback)
    dense_allowed = allowed if named_files is None else _and(allowed, named_files)
    dense_ids, dense_scores, ann_source, ann_type = _dense_ranking(
        source, opt, intent, dense_allowed, expanded_top, query_vector, warnings
    )
    if not dense_ids and opt.ann and opt.minhash_fallback and not source.index.dense_variants():
        cand_ids = candidates()
        pool = cand_ids if allowed is None else cand_ids[allowed[cand_ids]]
        dense_ids, dense_scores = _minhash_ranking(source, plan, pool, expanded_top)
        ann_source, ann_type = ("minhash", None) if dense_ids else (None, None)

    # step 4: fusion
    fused: dict[int, float] = {}
    rrf_parts: dict[int, tuple[float, int | None, int | None]] = {}
    if sparse_ids and dense_ids and opt.rrf and not opt.blend:
        rrf_parts = rank.rrf_fuse(sparse_ids, dense_ids, opt.rrf_k)
        fused = {d: s for d, (s, _a, _b) in rrf_parts.items()}
        score_type = "rrf"
    elif opt.blend and (sparse_ids or dense_ids):
        max_s = max(sparse_scores.values(), default=0.0)
        for d in {*sparse_ids, *dense_ids}:
            fused[d] = rank.blend_score(
                sparse_scores.get(d), max_s, dense_scores.get(d), opt.sparse_weight, opt.ann_weight
            )
        score_type = "blend"
    elif sparse_ids:
        fused = dict(sparse_scores)
        score_type = sparse_type
    else:
        fused = dict(dense_scores)
        score_type = "minhash" if ann_source == "minhash" else "ann"

    # step 5: boosts
    prefetch_chunks = getattr(source, "prefetch_chunks", None)
    if prefetch_chunks is not None and fused:
        prefetch_chunks(list(fused))
    pm = phrase_matches(source, plan) if fused else np.zeros(0, dtype=np.int64)
    boosts: dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
    for d in list(fused):
        base = fused[d]
        phrase_info = None
        matches = int(pm[d]) if pm.size else 0
        if matches:
            factor = rank.phrase_factor(matches)
            boost = base * factor
            base += boost
            phrase_info = {"matches": matches, "factor": factor, "boost": boost}
        symbol_info = None
        if opt.symbol_boost:
            chunk = source.chunk(d)
            is_def, is_exp, factor = rank.symbol_factor(
                chunk.get("kind"), _exported(chunk), opt.definition_weight, opt.export_weight
            )
            name_match, name_factor = rank.name_match_factor(query_names, chunk.get("name"))
            factor *= name_factor
            if factor != 1.0:
                boost = base * (factor - 1.0)
                base *= factor
                symbol_info = {
                    "definition": is_def,
                    "export": is_exp,
                    "name": name_match or None,
                    "factor": factor,
                    "boost": boost,
                }
        fused[d] = base
        boosts[d] = (phrase_info, symbol_info)

    if named_files is not None:
        explain["pathLift"] = _lift_named(fused, named_files)

    # step 6: final top-N (ties by id)
    ordered = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: opt.top]
    hits: list[dict[str, Any]] = []
    sparse_rank = {d: r for r, d in enumerate(sparse_ids, start=1)}
    dense_rank = {d: r for r, d in enumerate(dense_ids, start=1)}
    for d, score in ordered:
        hit = _hit(source.chunk(d), d)
        hit.update(
            {
                "score": score,
                "scoreType": score_type,
                "sparseScore": sparse_scores.get(d),
                "sparseType": sparse_type if d in sparse_scores else None,
                "annScore": dense_scores.get(d),
                "annSource": ann_source if d in dense_scores else None,
                "annType": ann_type if d in dense_scores else None,
            }
        )
        if opt.explain:
            phrase_info, symbol_info = boosts.get(d, (None, None))
            rrf_info = None
            if d in rrf_parts:
                _s, sr, dr = rrf_parts[d]
                rrf_info = {
                    "k": opt.rrf_k,
                    "sparseRank": sr,
                    "annRank": dr,
                    "sparseRrf": 1.0 / (opt.rrf_k + sr) if sr else 0.0,
                    "annRrf": 1.0 / (opt.rrf_k + dr) if dr else 0.0,
                    "score": _s,
                }
            blend_info = None
            if score_type == "blend":
                blend_info = {
                    "sparseWeight": opt.sparse_weight,
                    "annWeight": opt.ann_weight,
                    "maxSparse": max(sparse_scores.values(), default=0.0),
                }
            hit["scoreBreakdown"] = {
                "schemaVersion": 1,
                "selected": {"type": score_type, "score": score},
                "sparse": (
                    {
                        "type": sparse_type,
                        "score": sparse_scores[d],
                        "k1": opt.k1,
                        "b": opt.b,
                        "fielded": sparse_type == "bm25-fielded",
                        "weights": weights_row if sparse_type == "bm25-fielded" else None,
                        "rank": sparse_rank.get(d),
                    }
                    if d in sparse_scores
                    else None
                ),
                "ann": (
                    {"score": dense_scores[d], "source": ann_source, "rank": dense_rank.get(d)}
                    if d in dense_scores
                    else None
                ),
                "rrf": rrf_info,
                "blend": blend_info,
                "phrase": phrase_info,
                "symbol": symbol_info,
            }
        if not math.isfinite(score):
            hit["score"] = None
        hits.append(hit)
    if not hits:
        _operator_word_warning(ast, mode, warnings)
    explain.update(
        {
            "matchMode": match_mode,
            "candidates": int(candidates().size) if opt.explain else None,
            "allowed": None if allowed is None else int(allowed.sum()),
            "sparseType": sparse_type,
            "relaxed": {"steps": relaxed},
            "expansions": expansions,
            "splits": {sub: list(pieces) for sub, pieces in plan.splits.items()},
            "annSource": ann_source,
        }
    )
    return ModeResult(mode, hits, warnings, explain)


def _named_definitions(
    source: Any,
    fields: Mapping[str, tuple[Any, Any]],
    query_names: list[tuple[str, tuple[str, ...]]],
    scores: npt.NDArray[np.float64],
    allowed: npt.NDArray[np.bool_] | None,
    ranked: set[int],
    limit: int,
) -> list[int]:
    """Allowed chunks named exactly as a query term (``model_validate`` for
    ``BaseModel.model_validate``) that the sparse top-N missed, best score first.

    The definition-name boost (×1.5) only reaches chunks in a ranked list, and BM25's length
    normalisation and chunk weights can leave a long method named exactly like the query
    below shorter functions that merely share its sub-words (``validate_model``), so it was
    not returned at all. Such chunks join the end of the sparse list (ranks after
    expandedTopN). Candidates come from the name field's postings, so no scan of all names;
    ``lite._named_definitions`` is the same selection over sqlite rows."""
    name_field = fields.get("name")
    if name_field is None or not query_names:
        return []
    lookup = name_field[0]
    pool: npt.NDArray[np.int64] | None = None
    for _text, subs in query_names:
        docs: npt.NDArray[np.int64] | None = None
        for sub in dict.fromkeys(subs):
            post = lookup(sub)
            if post is None:
                docs = None
                break
            docs = post.doc_ids if docs is None else np.intersect1d(docs, post.doc_ids, True)
        if docs is not None and docs.size:
            pool = docs if pool is None else np.union1d(pool, docs)
    if pool is None:
        return []
    if allowed is not None:
        pool = pool[allowed[pool]]
    pool = pool[scores[pool] > 0]
    if ranked:
        pool = pool[~np.isin(pool, np.fromiter(ranked, dtype=np.int64, count=len(ranked)))]
    if not pool.size:
        return []
    picked = [int(d) for d in pool[np.lexsort((pool, -scores[pool]))[: rank.NAME_MATCH_POOL]]]
    prefetch = getattr(source, "prefetch_chunks", None)
    if prefetch is not None:
        prefetch(picked)
    return exact_named(picked, lambda d: source.chunk(d).get("name"), query_names, limit)
