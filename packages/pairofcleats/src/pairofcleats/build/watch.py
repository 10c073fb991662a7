"""``index watch`` (§6): rebuild incrementally per batch of file changes.

Each batch builds into ``builds/attempts/<watchRunId>-<NNN>/`` under the index
lock, validates, is renamed to ``builds/<buildId>/`` and promoted. A failed
attempt keeps the previous build current and is pruned (the newest 3 kept).
Native watching is used unless ``poll_ms`` is given or it fails, then polling.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pairofcleats.errors import PairOfCleatsError, ValidationFailed

KEEP_FAILED_ATTEMPTS = 3
DEFAULT_POLL_MS = 2000


def _watch_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}"


def prune_attempts(attempts_dir: Path, keep: int = KEEP_FAILED_ATTEMPTS) -> None:
    """Keep only the newest ``keep`` failed attempt dirs."""
    if not attempts_dir.is_dir():
        return
    dirs = sorted(
        (p for p in attempts_dir.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True
    )
    for p in dirs[keep:]:
        shutil.rmtree(p, ignore_errors=True)


def run_watch(
    repo: str | os.PathLike[str] | None,
    *,
    poll_ms: int | None,
    debounce_ms: int,
    stop: Callable[[], bool] | None,
    on_result: Callable[[dict[str, Any]], None] | None,
    max_batches: int | None,
    env: Mapping[str, str],
    cwd: Path | None,
    build_flags: Mapping[str, Any],
    cancel: threading.Event | None = None,
    config_flags: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Initial build (if needed), then one incremental build per change batch."""
    import watchfiles

    from pairofcleats.build.api import open_repo
    from pairofcleats.build.pipeline import (
        LOCK_HEARTBEAT_S,
        LOCK_STALE_S,
        BuildRequest,
        parse_modes,
        promote,
        resolve_embeddings,
        run_build,
    )

    layout, _cfg = open_repo(repo, env, cwd, config_flags)
    run_id = _watch_run_id()
    counter = 0
    results: list[dict[str, Any]] = []
    failures = 0
    stop_event = threading.Event()

    def one_build() -> dict[str, Any]:
        nonlocal counter, failures
        from groundwork.fsio import FileLock, LockHeld

        from pairofcleats.errors import IndexLocked

        lay, conf = open_repo(repo, env, cwd, config_flags)
        counter += 1
        attempt = lay.attempts_dir / f"{run_id}-{counter:03d}"
        provider, warnings = resolve_embeddings(
            None, conf, bool(build_flags.get("stub_embeddings"))
        )
        req = BuildRequest(
            layout=lay,
            cfg=conf,
            modes=parse_modes(build_flags.get("mode"), list(conf.indexing.modes)),
            env=env,
            stage=int(build_flags.get("stage", 4)),
            sqlite=conf.indexing.sqlite
            if build_flags.get("sqlite") is None
            else bool(build_flags["sqlite"]),
            incremental=True,
            embeddings=provider,
            dims=conf.indexing.embeddings.dims if provider != "minilm" else 384,
            threads=int(build_flags.get("threads") or conf.effective_threads),
            command="index watch",
            attempt_dir=attempt,
            warnings=warnings,
            cancel=cancel,
        )
        lay.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(
            lay.lock_path,
            {"command": "index watch"},
            heartbeat_s=LOCK_HEARTBEAT_S,
            stale_after_s=LOCK_STALE_S,
        )
        try:
            lock.acquire(wait_s=float(build_flags.get("wait_lock", 60.0)))
        except LockHeld as exc:
            raise IndexLocked(f"index is locked by pid {exc.holder.get('pid')}") from exc
        req.lock = lock
        try:
            lay.attempts_dir.mkdir(parents=True, exist_ok=True)
            try:
                res = run_build(req)
                out = res if res.get("unchanged") else promote(req, res)
            except ValidationFailed as exc:
                failures += 1
                out = {**exc.to_json(), "attempt": attempt.name}
            finally:
                prune_attempts(lay.attempts_dir)
        finally:
            lock.release()
        return out

    def emit(res: dict[str, Any]) -> None:
        results.append(res)
        if on_result is not None:
            on_result(res)

    batches = 0
    force_polling = poll_ms is not None
    cache_dir = str(layout.cache_root.resolve())

    def keep(change: Any, path: str) -> bool:
        if path.startswith(cache_dir):
            return False
        parts = Path(path).parts
        return ".git" not in parts

    def watcher() -> Any:
        return watchfiles.watch(
            layout.repo_root,
            watch_filter=keep,
            debounce=debounce_ms,
            step=50,
            stop_event=stop_event,
            yield_on_timeout=True,
            rust_timeout=200,
            force_polling=force_polling,
            poll_delay_ms=poll_ms or DEFAULT_POLL_MS,
            raise_interrupt=True,
        )

    def batches_of_changes() -> Any:
        """Native events, or polling when asked for or when native watching fails."""
        nonlocal force_polling
        try:
            yield from watcher()
        except (OSError, RuntimeError):
            if force_polling:
                raise
            force_polling = True
            yield from watcher()

    # The watcher starts before the initial build: an edit made while that build runs is
    # buffered and comes in the first batch after it. Started after it, such an edit was
    # lost until some later change (a repo edited during a minute-long first build stayed
    # stale). The priming batch's own changes predate the build, which reads them anyway.
    changes_iter = batches_of_changes()
    try:
        next(changes_iter)
        emit(one_build())
        for changes in changes_iter:
            if cancel is not None and cancel.is_set():
                stop_event.set()
                raise KeyboardInterrupt
            if stop is not None and stop():
                stop_event.set()
                break
            if not changes:
                continue
            try:
                emit(one_build())
            except PairOfCleatsError as exc:
                failures += 1
                emit(exc.to_json())
            batches += 1
            if max_batches is not None and batches >= max_batches:
                stop_event.set()
                break
            if stop is not None and stop():
                stop_event.set()
                break
    finally:
        changes_iter.close()  # stops the watcher on an error in a build too
    return {
        "ok": True,
        "watchRunId": run_id,
        "batches": batches,
        "failures": failures,
        "results": results,
        "polling": force_polling,
    }
