"""Build-side public functions: each returns the JSON-ready dict the spec describes.

``build_index``, ``validate_index``, ``index_status``, ``config_status`` and
``watch_index`` take plain arguments (CLI flags map one to one) and an ``env``
mapping; only here does ``env`` default to the process environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from groundwork import jsonio
from groundwork.errors import GroundworkError
from groundwork.fsio import read_lock

from pairofcleats.artifacts.reader import IndexReader, read_current
from pairofcleats.build.memory import gc_paused
from pairofcleats.build.pipeline import (
    BuildRequest,
    Reporter,
    parse_modes,
    promote,
    resolve_embeddings,
    run_build,
)
from pairofcleats.build.validate import validate_build
from pairofcleats.config import PairOfCleatsConfig, apply_quality, load
from pairofcleats.config import config_status as _config_status
from pairofcleats.errors import IndexInvalid, InvalidRequest, NoIndex, ValidationFailed
from pairofcleats.paths import (
    RepoLayout,
    default_cache_root,
    index_dir,
    resolve_repo_root,
    sqlite_dir,
)
from pairofcleats.sqlite_stage import db_name


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(os.environ) if env is None else env


def _flags(
    *,
    quality: str | None = None,
    threads: int | None = None,
    sqlite: bool | None = None,
    incremental: bool | None = None,
    embeddings: str | None = None,
    dims: int | None = None,
) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    indexing: dict[str, Any] = {}
    if quality is not None:
        flags["quality"] = quality
    if threads is not None:
        if threads < 1:
            raise InvalidRequest("--threads must be at least 1")
        flags["threads"] = threads
    if sqlite is not None:
        indexing["sqlite"] = sqlite
    if incremental is not None:
        indexing["incremental"] = incremental
    emb: dict[str, Any] = {}
    if embeddings is not None:
        emb["provider"] = embeddings
    if dims is not None:
        emb["dims"] = dims
    if emb:
        indexing["embeddings"] = emb
    if indexing:
        flags["indexing"] = indexing
    return flags


def open_repo(
    repo: str | os.PathLike[str] | None,
    env: Mapping[str, str],
    cwd: Path | None = None,
    flags: Mapping[str, Any] | None = None,
) -> tuple[RepoLayout, PairOfCleatsConfig]:
    """Resolve the repo root, load its config and compute the cache layout."""
    here = Path(cwd) if cwd is not None else Path.cwd()
    if repo is not None and not Path(here, repo).is_dir():
        raise InvalidRequest(
            f"repo {repo} is not a directory", hint="pass --repo PATH to a directory"
        )
    root = resolve_repo_root(repo, here, env)
    cfg = apply_quality(load(root, env, flags))
    layout = RepoLayout.for_repo(root, default_cache_root(cfg.cache.root, env))
    return layout, cfg


def build_index(
    repo: str | os.PathLike[str] | None = None,
    *,
    mode: str | None = None,
    stage: int = 4,
    sqlite: bool | None = None,
    incremental: bool | None = None,
    cache_rebuild: bool = False,
    stub_embeddings: bool = False,
    embeddings: str | None = None,
    dims: int | None = None,
    quality: str | None = None,
    threads: int | None = None,
    wait_lock: float = 0.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    report: Reporter | None = None,
    protected: Iterable[str] = (),
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Build, validate and promote an index; returns the build summary.

    Raises ``IndexLocked`` (another writer), ``ValidationFailed`` (nothing promoted),
    ``Cancelled`` (build dir removed), ``InvalidRequest``/``ConfigInvalid``.
    """
    env = _env(env)
    if stage not in (1, 2, 3, 4):
        raise InvalidRequest(f"--stage must be 1-4, got {stage}")
    layout, cfg = open_repo(
        repo,
        env,
        cwd,
        _flags(
            quality=quality,
            threads=threads,
            sqlite=sqlite,
            incremental=incremental,
            embeddings=embeddings,
            dims=dims,
        ),
    )
    modes = parse_modes(mode, list(cfg.indexing.modes))
    provider, warnings = resolve_embeddings(None, cfg, stub_embeddings)
    dims_eff = cfg.indexing.embeddings.dims if cfg.indexing.embeddings.dims > 0 else 384
    if provider == "minilm":
        dims_eff = 384
    req = BuildRequest(
        layout=layout,
        cfg=cfg,
        modes=modes,
        env=env,
        stage=stage,
        sqlite=cfg.indexing.sqlite,
        incremental=cfg.indexing.incremental,
        cache_rebuild=cache_rebuild,
        embeddings=provider,
        dims=dims_eff,
        threads=cfg.effective_threads,
        wait_lock=wait_lock,
        protected=frozenset(protected),
        report=report,
        warnings=warnings,
        cancel=cancel,
    )
    from groundwork.fsio import FileLock, LockHeld

    from pairofcleats.build.pipeline import LOCK_HEARTBEAT_S, LOCK_STALE_S
    from pairofcleats.errors import IndexLocked

    layout.lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(
        layout.lock_path,
        {"command": "index build"},
        heartbeat_s=LOCK_HEARTBEAT_S,
        stale_after_s=LOCK_STALE_S,
    )
    try:
        lock.acquire(wait_s=wait_lock)
    except LockHeld as exc:
        h = exc.holder
        raise IndexLocked(f"index is locked by pid {h.get('pid')} on {h.get('host')}") from exc
    if lock.took_over_from is not None:
        warnings.append(
            {
                "code": "LOCK_TAKEOVER",
                "message": f"took over a stale lock ({lock.took_over_reason})",
            }
        )
    req.lock = lock
    try:
        result = run_build(req)
        if result.get("unchanged"):
            return result
        return promote(req, result)
    finally:
        lock.release()


def _build_root_for(
    layout: RepoLayout, build: str | None
) -> tuple[str, Path, dict[str, Any] | None]:
    if build is not None:
        root = layout.build_dir(build)
        if not root.is_dir():
            raise NoIndex(f"no build {build!r} for {layout.repo_root}")
        return build, root, None
    cur = read_current(layout.current_json)
    if cur.pointer is None:
        if cur.invalid_reason is not None:
            raise NoIndex(f"current.json is invalid ({cur.invalid_reason})")
        raise NoIndex(f"no index for {layout.repo_root}")
    return cur.pointer.buildId, layout.repo_dir / cur.pointer.buildRoot, cur.raw


def validate_index(
    repo: str | os.PathLike[str] | None = None,
    *,
    mode: str | None = None,
    build: str | None = None,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """``{ok, buildId, issueCount, warningCount, issues[]}``; ``ok`` false → exit 1.

    ``threads`` (default: the config's, as for a build) is how many processes check the
    pieces and dbs at once; the report is the same for any."""
    env = _env(env)
    layout, cfg = open_repo(repo, env, cwd, _flags(threads=threads))
    cur = read_current(layout.current_json)
    if build is None and cur.invalid_reason is not None:
        issue = {
            "mode": None,
            "artifact": "builds/current.json",
            "code": "CURRENT_INVALID",
            "message": cur.invalid_reason,
        }
        return {"ok": False, "buildId": None, "issueCount": 1, "warningCount": 0, "issues": [issue]}
    build_id, root, _ = _build_root_for(layout, build)
    try:
        state = jsonio.loads((root / "build_state.json").read_bytes())
    except (OSError, GroundworkError, ValueError) as exc:
        raise IndexInvalid(f"build {build_id} has no readable build_state.json") from exc
    modes = parse_modes(mode, state.get("modes") or []) if mode else list(state.get("modes") or [])
    key = state.get("compatibilityKey")
    with_sqlite = (sqlite_dir(root) / "pieces" / "manifest.json").exists()
    # the parsed pieces are millions of small containers and no cycles: with the cyclic
    # GC running, validating a medium build took 29 s instead of 11.6 s (as in the build);
    # nothing outlives the call, so nothing is frozen
    with gc_paused(freeze=False):
        rep = validate_build(root, modes, key, with_sqlite, threads=cfg.effective_threads)
    rep.pop("warnings", None)
    return {
        "ok": rep["ok"],
        "buildId": build_id,
        "issueCount": rep["issueCount"],
        "warningCount": rep["warningCount"],
        "issues": rep["issues"],
    }


def index_status(
    repo: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Repo id, current build, per-mode stage/chunks/files/embeddings/sqlite/bytes, lock, last."""
    env = _env(env)
    layout, _cfg = open_repo(repo, env, cwd)
    cur = read_current(layout.current_json)
    warnings = []
    if cur.invalid_reason is not None:
        warnings.append({"code": "CURRENT_INVALID", "message": cur.invalid_reason})
    modes: dict[str, Any] = {}
    if cur.pointer is not None:
        for mode in cur.pointer.modes:
            rel = cur.pointer.buildRoots.get(mode, cur.pointer.buildRoot)
            idir = index_dir(layout.repo_dir / rel, mode)
            try:
                st = IndexReader(idir).index_state()
            except IndexInvalid as exc:
                modes[mode] = {"ok": False, "error": exc.message}
                continue
            pieces_bytes = 0
            try:
                pieces_bytes = sum(p.bytes for p in IndexReader(idir).manifest.pieces)
            except IndexInvalid:
                pass
            sqlite_path = sqlite_dir(layout.repo_dir / rel) / db_name(mode)
            modes[mode] = {
                "buildId": st.buildId,
                "stage": st.stage,
                "files": st.counts.files,
                "chunks": st.counts.chunks,
                "vocab": st.counts.vocab,
                "embeddings": st.embeddings.model_dump(mode="json"),
                "sqlite": {**st.sqlite.model_dump(mode="json"), "exists": sqlite_path.exists()},
                "bytes": pieces_bytes,
            }
    lock = read_lock(layout.lock_path)
    last: dict[str, Any] | None = None
    if layout.builds_dir.is_dir():
        ids = sorted(
            (
                p.name
                for p in layout.builds_dir.iterdir()
                if p.is_dir() and (p / "build_state.json").exists()
            ),
            reverse=True,
        )
        if ids:
            try:
                st_raw = jsonio.loads(
                    (layout.builds_dir / ids[0] / "build_state.json").read_bytes()
                )
                last = {
                    "buildId": st_raw.get("buildId"),
                    "status": st_raw.get("status"),
                    "createdAt": st_raw.get("createdAt"),
                    "validation": st_raw.get("validation"),
                }
            except (OSError, GroundworkError, ValueError):
                last = None
    return {
        "ok": True,
        "repo": str(layout.repo_root),
        "repoId": layout.repo_id,
        "cacheRoot": str(layout.cache_root),
        "current": cur.raw if cur.pointer is not None else None,
        "indexed": cur.pointer is not None,
        "modes": modes,
        "lock": {"held": lock.held, "holder": lock.holder, "stale": lock.stale},
        "lastBuild": last,
        "warnings": warnings,
    }


def config_status(
    repo: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """``{ok, repo, configPath, exists, valid, errors[], effective}`` (§2)."""
    env = _env(env)
    here = Path(cwd) if cwd is not None else Path.cwd()
    root = resolve_repo_root(repo, here, env)
    return _config_status(root, env)


def watch_index(
    repo: str | os.PathLike[str] | None = None,
    *,
    poll_ms: int | None = None,
    debounce_ms: int = 500,
    stop: Callable[[], bool] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    max_batches: int | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    cancel: threading.Event | None = None,
    **build_flags: Any,
) -> dict[str, Any]:
    """Watch the repo and build incrementally per batch of changes (§6 Watch).

    ``quality``, ``embeddings`` and ``dims`` in ``build_flags`` override the config as
    they do for ``build_index``, so a watch keeps the embeddings a build was made with
    (a different embeddings key would embed every chunk again).
    """
    from pairofcleats.build.watch import run_watch

    cfg_flags = _flags(
        quality=build_flags.pop("quality", None),
        embeddings=build_flags.pop("embeddings", None),
        dims=build_flags.pop("dims", None),
    )
    return run_watch(
        repo,
        cancel=cancel,
        poll_ms=poll_ms,
        debounce_ms=debounce_ms,
        stop=stop,
        on_result=on_result,
        max_batches=max_batches,
        env=_env(env),
        cwd=cwd,
        build_flags=build_flags,
        config_flags=cfg_flags,
    )


__all__ = [
    "ValidationFailed",
    "build_index",
    "config_status",
    "index_status",
    "open_repo",
    "validate_index",
    "watch_index",
]
