"""``Searcher(repo)``: a warm, reusable search over a repo's promoted build (§9.5, §10).

It resolves the repo and cache root once, reads ``builds/current.json`` on every call (a
cheap ``stat``) and reloads its indexes only when that file changed, so a long-lived process
(the API or MCP server) always searches the newest promoted build and builds never block it.
Loaded indexes are cached by index signature; results go into a 256-entry LRU keyed by the
signatures of every index used plus the normalised request.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from groundwork import jsonio

from pairofcleats import config as poc_config
from pairofcleats import paths
from pairofcleats.artifacts.reader import index_signature, mode_root, read_current
from pairofcleats.artifacts.schema import (
    ARTIFACT_SURFACE_MAJOR,
    SCHEMA_HASH,
    SQLITE_SCHEMA_VERSION,
)
from pairofcleats.errors import IndexIncompatible, InvalidRequest, NoIndex
from pairofcleats.search.backends import (
    SUPPORTED_ANN_BACKENDS,
    SUPPORTED_BACKENDS,
    choose_backend,
    make_source,
)
from pairofcleats.search.engine import ModeResult, SearchOptions, SearchWarning, search_mode
from pairofcleats.search.filters import Filters
from pairofcleats.search.index import ModeIndex
from pairofcleats.search.intent import classify_intent
from pairofcleats.search.query import Phrase, iter_positive, parse_query
from pairofcleats.search.sqlite_source import fts_weights

__all__ = ["MODE_KEYS", "SearchRequest", "Searcher", "resolve_modes"]

ALL_MODES = ("code", "prose", "extracted-prose")
MODE_KEYS = {"code": "code", "prose": "prose", "extracted-prose": "extractedProse"}
LRU_SIZE = 256
SURFACE_MAJOR = "1"


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A normalised search request (CLI flags, API body and MCP arguments all map here).

    ``None`` means "use the config default".
    """

    query: str
    mode: str | None = None
    top: int | None = None
    backend: str | None = None
    ann: bool | None = None
    ann_backend: str | None = None
    dense_vector_mode: str | None = None
    match_mode: str | None = None
    k1: float | None = None
    b: float | None = None
    fts_profile: str | None = None
    strict: bool = False
    stub_embeddings: bool = False
    explain: bool = False
    stats: bool = False
    compact: bool = False
    filters: Filters = field(default_factory=Filters)

    def cache_key(self) -> str:
        return jsonio.dumps(asdict(self)).decode("utf-8")


def resolve_modes(mode: str | None) -> tuple[str, ...]:
    """``--mode`` → modes: default/``all`` the three, ``both`` code+prose; ``records`` and
    anything unknown → ``INVALID_REQUEST``."""
    if mode is None or mode == "all":
        return ALL_MODES
    if mode == "both":
        return ("code", "prose")
    if mode in ALL_MODES:
        return (mode,)
    if mode == "records":
        raise InvalidRequest(
            "mode 'records' is not supported", hint="use code, prose, extracted-prose, both or all"
        )
    raise InvalidRequest(
        f"unknown mode {mode!r}", hint="use code, prose, extracted-prose, both or all"
    )


class _Embedders:
    """Query-side embedders, one per (provider, dims), created on first use."""

    def __init__(self, cache_root: Path) -> None:
        self.cache_root = cache_root
        self._made: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def for_query(self, text: str, force_stub: bool) -> Any:
        def vector(provider: str, model: str, dims: int) -> npt.NDArray[np.float32] | None:
            from pairofcleats.embeddings import get_embedder, minilm_available

            name = "stub" if force_stub else provider
            if name not in ("stub", "minilm"):
                return None
            if name == "minilm" and not minilm_available():
                return None
            key = (name, dims)
            with self._lock:
                emb = self._made.get(key)
                if emb is None:
                    emb = get_embedder(name, dims, cache_root=self.cache_root)
                    self._made[key] = emb
            row: npt.NDArray[np.float32] = emb.embed([text])[0]
            return row

        return vector


@dataclass(slots=True)
class _Loaded:
    stamp: tuple[int, int, int] | None
    build_id: str | None
    raw: dict[str, Any] | None
    indexes: dict[str, ModeIndex]
    roots: dict[str, Path]
    invalid: str | None


class Searcher:
    """Warm search over one repository; thread-safe; cheap to call repeatedly."""

    def __init__(
        self,
        repo: str | os.PathLike[str] | None = None,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        cache_root: Path | None = None,
    ) -> None:
        self.env: Mapping[str, str] = dict(env) if env is not None else {}
        here = cwd if cwd is not None else Path.cwd()
        self.repo_root = paths.resolve_repo_root(repo, here, self.env)
        self.config = poc_config.load(self.repo_root, self.env)
        self.cache_root = cache_root or paths.default_cache_root(self.config.cache.root, self.env)
        self.layout = paths.RepoLayout.for_repo(self.repo_root, self.cache_root)
        self._lock = threading.RLock()
        self._loaded: _Loaded | None = None
        self._lru: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._embedders = _Embedders(self.cache_root)
        self.cache_hits = 0

    # -- index state ----------------------------------------------------------------------
    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.layout.current_json)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def _refresh(self) -> _Loaded:
        stamp = self._stamp()
        with self._lock:
            if self._loaded is not None and self._loaded.stamp == stamp:
                return self._loaded
            state = read_current(self.layout.current_json)
            self._lru.clear()  # every cached result was keyed on the old current.json
            if state.pointer is None:
                self._loaded = _Loaded(stamp, None, None, {}, {}, state.invalid_reason)
                return self._loaded
            ptr = state.pointer
            roots = {m: mode_root(self.layout.repo_dir, ptr, m) for m in ptr.modes}
            old = self._loaded.indexes if self._loaded else {}
            self._loaded = _Loaded(stamp, ptr.buildId, state.raw, dict(old), roots, None)
            # drop indexes whose directory changed
            for mode in list(self._loaded.indexes):
                idx = self._loaded.indexes[mode]
                if mode not in roots or idx.dir != paths.index_dir(roots[mode], mode):
                    del self._loaded.indexes[mode]
            return self._loaded

    def _index(self, loaded: _Loaded, mode: str) -> ModeIndex | None:
        root = loaded.roots.get(mode)
        if root is None:
            return None
        with self._lock:
            idx = loaded.indexes.get(mode)
            if idx is not None and idx.stale():
                idx = None  # a piece changed in place: reload, so the signature (and keys) move
            if idx is None:
                directory = paths.index_dir(root, mode)
                if not directory.is_dir():
                    return None
                idx = ModeIndex(mode, directory)
                loaded.indexes[mode] = idx
            return idx

    def mode_index(self, mode: str) -> ModeIndex | None:
        """The loaded index of ``mode`` in the current build (None when not indexed)."""
        return self._index(self._refresh(), mode)

    def current(self) -> dict[str, Any]:
        """``{buildId, invalid}`` of the build this searcher serves right now."""
        loaded = self._refresh()
        return {"buildId": loaded.build_id, "invalid": loaded.invalid}

    # -- options --------------------------------------------------------------------------
    def _build_hint(self) -> str:
        return f"build one with: pairofcleats index build --repo {shlex.quote(str(self.repo_root))}"

    def options(self, req: SearchRequest) -> SearchOptions:
        cfg = self.config.search
        fw = cfg.field_weights
        field_weights: dict[str, float] | None = None
        fielded = True
        if fw is False:
            fielded = False
        else:
            custom = {k: v for k, v in poc_config.flat_values(fw).items() if v is not None}
            field_weights = custom or None
        match_mode = req.match_mode or cfg.match_mode
        if match_mode not in ("auto", "all", "any"):
            raise InvalidRequest(f"unknown match mode {match_mode!r}", hint="use all, any or auto")
        dvm = req.dense_vector_mode or "auto"
        if dvm not in ("merged", "code", "doc", "auto"):
            raise InvalidRequest(
                f"unknown dense vector mode {dvm!r}", hint="use merged, code, doc or auto"
            )
        ann_backend = req.ann_backend or cfg.ann.backend
        if ann_backend == "js":
            ann_backend = "exact"
        if ann_backend not in SUPPORTED_ANN_BACKENDS:
            raise InvalidRequest(
                f"ANN backend {ann_backend!r} is not supported",
                hint="use auto, exact or hnsw",
            )
        top = req.top if req.top is not None else cfg.top
        if top < 1:
            raise InvalidRequest(f"--top must be at least 1, not {top}", hint="use e.g. -n 5")
        return SearchOptions(
            top=top,
            match_mode=match_mode,  # type: ignore[arg-type]
            strict=req.strict,
            k1=req.k1 if req.k1 is not None else cfg.bm25.k1,
            b=req.b if req.b is not None else cfg.bm25.b,
            field_weights=field_weights,
            fielded=fielded,
            rrf=cfg.rrf.enabled,
            rrf_k=cfg.rrf.k,
            blend=cfg.score_blend.enabled,
            sparse_weight=cfg.score_blend.sparse_weight,
            ann_weight=cfg.score_blend.ann_weight,
            max_candidates=cfg.max_candidates,
            symbol_boost=cfg.symbol_boost.enabled,
            definition_weight=cfg.symbol_boost.definition_weight,
            export_weight=cfg.symbol_boost.export_weight,
            ann=cfg.ann.enabled if req.ann is None else req.ann,
            ann_explicit=req.ann is True,
            ann_backend=ann_backend,  # type: ignore[arg-type]
            hnsw_min_vectors=cfg.ann.hnsw_min_vectors,
            ef_search=cfg.ann.ef_search,
            minhash_fallback=cfg.ann.minhash_fallback,
            dense_vector_mode=dvm,  # type: ignore[arg-type]
            explain=req.explain,
            filters=req.filters,
        )

    # -- search ---------------------------------------------------------------------------
    def search(self, req: SearchRequest) -> dict[str, Any]:
        """Run ``req``; returns the §9.6 JSON object (raises ``PairOfCleatsError``)."""
        started = time.perf_counter()
        modes = resolve_modes(req.mode)
        backend = (req.backend or self.config.search.backend).lower()
        if backend == "fts":
            backend = "sqlite-fts"
        if backend not in SUPPORTED_BACKENDS:
            raise InvalidRequest(
                f"backend {backend!r} is not supported; supported: "
                + ", ".join(SUPPORTED_BACKENDS),
                hint="pass --backend memory (or sqlite, sqlite-fts, auto)",
            )
        ast = parse_query(req.query)
        opt = self.options(req)
        loaded = self._refresh()
        warnings: list[SearchWarning] = []
        if loaded.invalid is not None:
            raise NoIndex(
                f"no usable index for {self.repo_root}: current.json is invalid "
                f"(CURRENT_INVALID: {loaded.invalid})",
                hint="rebuild with: pairofcleats index build",
                errors=[{"code": "CURRENT_INVALID", "message": loaded.invalid}],
            )
        if loaded.build_id is None:
            # the command names the repo: run from elsewhere (or for an HTTP/MCP caller's
            # repoPath) a bare "pairofcleats index build" would index another directory
            raise NoIndex(f"no index for {self.repo_root}", hint=self._build_hint())
        indexes: dict[str, ModeIndex] = {}
        for mode in modes:
            idx = self._index(loaded, mode)
            if idx is None:
                if req.mode not in (None, "all", "both"):
                    raise NoIndex(f"mode {mode!r} is not indexed for {self.repo_root}")
                warnings.append(
                    SearchWarning("MODE_NOT_INDEXED", f"mode {mode} is not indexed", mode)
                )
                continue
            indexes[mode] = idx
        if not indexes:
            raise NoIndex(
                f"no indexed mode among {', '.join(modes)} for {self.repo_root}",
                hint=self._build_hint(),
            )
        self._check_compatible(indexes)
        chosen, reason = choose_backend(backend, indexes, loaded.roots, self.config.search)
        sqlite_sigs: dict[str, str] = {}
        if chosen != "memory":
            for mode in indexes:
                sdir = paths.sqlite_dir(loaded.roots[mode])
                sqlite_sigs[mode] = index_signature(sdir) if sdir.is_dir() else "-"
        key = jsonio.dumps(
            {
                "sig": {m: i.signature for m, i in sorted(indexes.items())},
                "sqlite": sqlite_sigs,
                "backend": chosen,
                "req": req.cache_key(),
            }
        ).decode("utf-8")
        with self._lock:
            cached = self._lru.get(key)
            if cached is not None:
                self._lru.move_to_end(key)
                self.cache_hits += 1
        if cached is not None:
            return self._finish(dict(cached), req, started, chosen, cache_hit=True)

        phrases = [p for p in iter_positive(ast) if isinstance(p, Phrase)]
        intent = classify_intent(
            req.query,
            phrase_count=len(phrases),
            path_filter=bool(req.filters.path or req.filters.file),
        )
        qvec = self._embedders.for_query(req.query, req.stub_embeddings)
        fts_w = fts_weights(
            req.fts_profile or self.config.search.fts_profile,
            poc_config.flat_values(self.config.search.fts_weights),
        )
        results: dict[str, ModeResult] = {}
        fts_explain: dict[str, Any] = {}
        for mode, idx in indexes.items():
            source, effective = make_source(chosen, idx, loaded.roots[mode], fts_w, warnings)
            res = search_mode(source, ast, intent, opt, qvec, use_fts=effective == "sqlite-fts")
            results[mode] = res
            warnings.extend(res.warnings)
            if "ftsMatch" in res.explain:
                fts_explain[mode] = res.explain["ftsMatch"]
        out: dict[str, Any] = {
            "ok": True,
            "query": req.query,
            "backend": chosen,
            "code": [],
            "prose": [],
            "extractedProse": [],
            "warnings": [w.to_json() for w in warnings],
        }
        for mode, res in results.items():
            out[MODE_KEYS[mode]] = res.hits
        if req.explain:
            explain: dict[str, Any] = {
                "intent": intent.to_json(),
                "matchMode": {m: r.explain.get("matchMode") for m, r in results.items()},
                "backendReason": reason,
                "candidates": {m: r.explain.get("candidates") for m, r in results.items()},
                "relaxed": {m: r.explain.get("relaxed", {"steps": []}) for m, r in results.items()},
                "expansions": {m: r.explain.get("expansions", {}) for m, r in results.items()},
                "modes": {m: r.explain for m, r in results.items()},
            }
            if fts_explain:
                explain["ftsMatch"] = fts_explain
            out["stats"] = {"explain": explain}
        with self._lock:
            self._lru[key] = out
            while len(self._lru) > LRU_SIZE:
                self._lru.popitem(last=False)
        return self._finish(dict(out), req, started, chosen, cache_hit=False)

    def _finish(
        self,
        out: dict[str, Any],
        req: SearchRequest,
        started: float,
        backend: str,
        *,
        cache_hit: bool,
    ) -> dict[str, Any]:
        if req.stats:
            stats = dict(out.get("stats") or {})
            stats.update(
                {
                    "elapsedMs": round((time.perf_counter() - started) * 1000.0, 3),
                    "backend": backend,
                    "annBackend": req.ann_backend or self.config.search.ann.backend,
                    "cache": {"hit": cache_hit},
                    "memory": {"rssMb": _rss_mb()},
                    "pipeline": ["parse", "plan", "filter", "sparse", "dense", "fuse", "boost"],
                }
            )
            out["stats"] = stats
        return out

    def _check_compatible(self, indexes: Mapping[str, ModeIndex]) -> None:
        keys: dict[str, str] = {}
        for mode, idx in indexes.items():
            surface = str(idx.state.get("artifactSurfaceVersion", ""))
            if surface.split(".")[0] != SURFACE_MAJOR:
                raise IndexIncompatible(
                    f"index for {mode} has artifact surface {surface or 'unknown'}, "
                    f"this version reads {SURFACE_MAJOR}.x"
                )
            inputs = idx.state.get("compatibilityInputs")
            if isinstance(inputs, dict):
                differing = [
                    name
                    for name, want in (
                        ("artifactSurfaceMajor", ARTIFACT_SURFACE_MAJOR),
                        ("schemaHash", SCHEMA_HASH),
                        ("sqliteSchemaVersion", SQLITE_SCHEMA_VERSION),
                    )
                    if name in inputs and inputs[name] != want
                ]
                if differing:
                    raise IndexIncompatible(
                        f"index for {mode} was built with different {', '.join(differing)}"
                    )
            key = idx.state.get("compatibilityKey")
            if isinstance(key, str):
                keys[mode] = key
        if len(set(keys.values())) > 1:
            raise IndexIncompatible(
                "modes were built with different compatibility keys: "
                + ", ".join(f"{m}={k[:8]}" for m, k in keys.items())
            )

    def reset(self) -> None:
        """Forget every loaded index and cached result (tests, SIGHUP)."""
        with self._lock:
            self._loaded = None
            self._lru.clear()


def _rss_mb() -> float:
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / 1024.0, 1)
    except (ImportError, OSError):
        return 0.0
