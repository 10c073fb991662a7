"""The build (§6): discover → stages 1-4 per mode → validate → promote, under the index lock.

Status moves ``running → validated → promoted`` or ``running → failed | cancelled``.
``current.json`` is written only after validation passes, atomically, so a crash
at any point leaves the previous build current (§1.1).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from groundwork import jsonio
from groundwork.fsio import FileLock, LockHeld, fsync_dir, rename_noreplace
from groundwork.hashing import hash_bytes, hash_file
from groundwork.proc import kill_tree

from pairofcleats import __version__
from pairofcleats.artifacts.reader import read_current
from pairofcleats.artifacts.schema import ARTIFACT_SURFACE_VERSION, SQLITE_SCHEMA_VERSION
from pairofcleats.artifacts.writer import PieceWriter, write_state
from pairofcleats.build.annotate import annotate
from pairofcleats.build.assemble import (
    ModeData,
    collect,
    stage1_values,
    stripped_ids,
    write_stage1,
    write_stage2,
)
from pairofcleats.build.compat import (
    compatibility_inputs,
    compatibility_key,
    embeddings_key,
    ordered_modes,
)
from pairofcleats.build.hnsw import GraphBuilds, write_hnsw
from pairofcleats.build.incremental import (
    IncrementalStore,
    Verified,
    merge_bundles,
    mode_bundle,
)
from pairofcleats.build.memory import cap_mmap_threshold, gc_paused, release_free_memory
from pairofcleats.build.process import process_file
from pairofcleats.build.retention import apply_retention
from pairofcleats.build.reuse import (
    DENSE_BIN,
    DERIVED_PIECES,
    DIGEST_KEY,
    PrevMode,
    link_pieces,
    previous_modes,
    reuse_sqlite,
    same_chunk_pieces,
    stage1_digest,
    trusted_pieces,
)
from pairofcleats.build.reverify import reverify_build
from pairofcleats.build.validate import validate_build
from pairofcleats.config import PairOfCleatsConfig, config_hash
from pairofcleats.discover import Candidate, Skipped, discover
from pairofcleats.errors import Cancelled, IndexLocked, InvalidRequest, ValidationFailed
from pairofcleats.paths import RepoLayout, index_dir, new_build_id, sqlite_dir
from pairofcleats.scm import RepoProvenance, provenance
from pairofcleats.sqlite_stage import build_sqlite, chunk_rows, db_name

TEST_HOLD_ENV = "PAIROFCLEATS_TEST_HOLD_STAGE"
TEST_FAIL_VALIDATION_ENV = "PAIROFCLEATS_TEST_FAIL_VALIDATION"
LOCK_HEARTBEAT_S = 30.0
LOCK_STALE_S = 1800.0
PROCESS_CHUNKSIZE = 8

Reporter = Callable[[str, dict[str, Any]], None]


def parse_modes(mode: str | None, configured: list[str]) -> list[str]:
    """``--mode``: a single mode, ``all`` (three), ``both`` (code + prose); ``records`` → exit 2."""
    if mode is None:
        return ordered_modes(list(configured))
    if mode == "all":
        return ["code", "prose", "extracted-prose"]
    if mode == "both":
        return ["code", "prose"]
    if mode == "records":
        raise InvalidRequest(
            "mode 'records' is not supported", hint="use code, prose, extracted-prose, all or both"
        )
    if mode in ("code", "prose", "extracted-prose"):
        return [mode]
    raise InvalidRequest(
        f"unknown mode {mode!r}", hint="use code, prose, extracted-prose, all or both"
    )


@dataclass(slots=True)
class BuildRequest:
    """Everything one build needs, resolved by the API layer."""

    layout: RepoLayout
    cfg: PairOfCleatsConfig
    modes: list[str]
    env: Mapping[str, str]
    stage: int = 4
    sqlite: bool = True
    incremental: bool = True
    cache_rebuild: bool = False
    embeddings: str | None = None
    dims: int = 384
    threads: int = 1
    wait_lock: float = 0.0
    command: str = "index build"
    protected: frozenset[str] = frozenset()
    report: Reporter | None = None
    attempt_dir: Path | None = None
    lock: FileLock | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: Set by a signal handler; checked at every stage boundary and per worker result,
    #: so a SIGINT whose KeyboardInterrupt is swallowed (it can land inside a finalizer
    #: while the process pool starts) still cancels the build.
    cancel: threading.Event | None = None


def _now() -> str:
    return jsonio.utc_now_iso()


class _Phases:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}
        self._t: dict[str, float] = {}

    def start(self, name: str) -> None:
        self._t[name] = time.monotonic()
        self.data[name] = {
            "status": "running",
            "startedAt": _now(),
            "finishedAt": None,
            "durationMs": None,
        }

    def end(self, name: str, status: str = "ok") -> None:
        d = self.data.setdefault(name, {"status": status, "startedAt": None})
        d["status"] = status
        d["finishedAt"] = _now()
        if name in self._t:
            d["durationMs"] = int((time.monotonic() - self._t[name]) * 1000)


def checkpoint(req: BuildRequest) -> None:
    """Raise ``Cancelled`` once the build's cancel flag is set."""
    if req.cancel is not None and req.cancel.is_set():
        raise Cancelled("build cancelled")


def _hold(env: Mapping[str, str], stage: str, build_root: Path) -> None:
    """Test-only hook: park the build at ``stage`` so a test can kill or signal it."""
    if env.get(TEST_HOLD_ENV) != stage:
        return
    (build_root / f".hold-{stage}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)


def _process_all(
    req: BuildRequest,
    cands: list[Candidate],
    modes: tuple[str, ...],
    done: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any] | Skipped]:
    """Run ``process_file`` over ``cands`` in a process pool; results keep file order.

    ``done(n, total)`` is told the files finished after each one (progress bars)."""
    root = req.layout.repo_root
    idx_cfg = req.cfg.indexing
    if req.threads <= 1 or len(cands) < 2:
        out_inline = []
        for c in cands:
            checkpoint(req)
            out_inline.append(process_file(root, c, idx_cfg, modes))
            if done is not None:
                done(len(out_inline), len(cands))
        return out_inline
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=req.threads, mp_context=ctx)
    try:
        out = []
        checkpoint(req)
        for res in pool.map(
            process_file,
            [root] * len(cands),
            cands,
            [idx_cfg] * len(cands),
            [modes] * len(cands),
            chunksize=PROCESS_CHUNKSIZE,
        ):
            checkpoint(req)
            out.append(res)
            if done is not None:
                done(len(out), len(cands))
        checkpoint(req)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        kill_tree(os.getpid(), grace_s=1.0, include_root=False)
        raise
    pool.shutdown(wait=True)
    return out


def _progress_of(report: Reporter, task: str, unit: str) -> Callable[[int, int], None]:
    """``done(n, total)`` → a ``task:progress`` report of ``n`` of ``total`` ``unit``s
    (renderers throttle)."""

    def done(n: int, total: int) -> None:
        report("task:progress", {"taskId": task, "done": n, "total": total, "unit": unit})

    return done


def _file_order(m: dict[str, Any]) -> list[int]:
    """Bundle chunk indexes in the order ``collect`` assigned their ids."""
    return sorted(
        range(len(m["chunks"])),
        key=lambda i: (
            m["chunks"][i]["start"],
            m["chunks"][i]["end"],
            m["chunks"][i].get("spanIndex", 0),
        ),
    )


def embedding_variants(cfg: PairOfCleatsConfig) -> list[str]:
    """``merged`` always; ``doc``/``code`` with ``quality=max`` or ``embeddings.variants``."""
    wanted = set(cfg.indexing.embeddings.variants) | {"merged"}
    if cfg.quality == "max":
        wanted |= {"doc", "code"}
    return [v for v in ("merged", "doc", "code") if v in wanted]


def variant_text(mode: str, rec: dict[str, Any], merged: str, variant: str) -> str:
    """Embedding input of one variant (recipe 1 is ``merged``; prose modes use it for all).

    ``doc`` = name + doc, ``code`` = name + signature + span; the span is recovered
    from the merged text, whose prefix is ``name\nsignature\ndoc\n``.
    """
    if variant == "merged" or mode != "code":
        return merged
    meta = rec["metaV2"]
    name, sig, doc = rec["name"], meta.get("signature") or "", meta.get("doc") or ""
    if variant == "doc":
        return f"{name}\n{doc}"
    prefix = f"{name}\n{sig}\n{doc}\n"
    span = merged[len(prefix) :] if merged.startswith(prefix) else merged
    return f"{name}\n{sig}\n{span}"


def _piece_name(variant: str) -> str:
    return "dense_vectors_uint8" if variant == "merged" else f"dense_vectors_{variant}_uint8"


def _embed_mode(
    req: BuildRequest,
    data: ModeData,
    emb_key: str | None,
    writer: PieceWriter,
    done: Callable[[int, int], None] | None,
    graphs: GraphBuilds,
    prior: Callable[[str], dict[str, dict[str, bytes]]] | None = None,
) -> tuple[dict[str, Any], np.ndarray[Any, Any]] | None:
    """Stage 3: vectors per variant (reusing verified bundle rows), uint8, HNSW when large.

    A reprocessed file's chunks whose embedding input is unchanged take their rows from
    its previous bundle (``prior``: rel → variant → input xxh64 → row), so an edit embeds
    only the edited chunks. Returns the merged variant's meta and matrix (what SQLite
    stores). The HNSW graph is handed to ``graphs`` once the mode's other pieces are
    written.
    """
    if req.embeddings is None or emb_key is None:
        return None
    from pairofcleats.embeddings import get_embedder
    from pairofcleats.embeddings.quantize import quantization_meta, quantize

    n = len(data.chunks)
    emb_cfg = req.cfg.indexing.embeddings
    dims = req.dims
    embedder = None
    merged_out: tuple[dict[str, Any], np.ndarray[Any, Any]] | None = None
    fresh: set[int] = set()
    priors: dict[str, dict[str, dict[str, bytes]]] = {}
    for variant in embedding_variants(req.cfg):
        rows: list[bytes | None] = [None] * n
        inputs: list[str | None] = [None] * n
        for f in data.files:
            m = f["bundle"]["modes"][data.mode]
            vec = (m.get("vectors") or {}).get(variant)
            if (
                isinstance(vec, dict)
                and vec.get("key") == emb_key
                and len(vec.get("rows", [])) == len(m["chunks"])
            ):
                ins = vec.get("inputs")
                ins = ins if isinstance(ins, list) and len(ins) == len(m["chunks"]) else None
                for cid, i in zip(f["chunkIds"], _file_order(m), strict=True):
                    rows[cid] = bytes.fromhex(vec["rows"][i])
                    if ins is not None:
                        inputs[cid] = ins[i]
        todo = [i for i in range(n) if rows[i] is None]
        if todo and prior is not None:
            _fill_from_prior(data, variant, todo, rows, inputs, prior, priors, dims)
            todo = [i for i in todo if rows[i] is None]
        fresh.update(todo)
        # longest first across the whole mode, so each batch below holds texts of similar
        # length: the encoder pads a batch to its longest text, and batches taken in chunk
        # order padded ~15 % more tokens than they held (npm's source; ~1 % when sorted)
        todo.sort(key=lambda i: -len(data.embed_text[i]))
        if todo:
            if embedder is None:
                embedder = get_embedder(
                    req.embeddings,
                    dims,
                    cache_root=req.layout.cache_root,
                    batch_size=emb_cfg.batch_size,
                    max_tokens=emb_cfg.max_tokens,
                    threads=req.threads,
                )
            batch = max(emb_cfg.batch_size, 1) * 8
            for k in range(0, len(todo), batch):
                ids = todo[k : k + batch]
                texts = [
                    variant_text(data.mode, data.chunks[i], data.embed_text[i], variant)
                    for i in ids
                ]
                q = quantize(embedder.embed(texts))
                for j, i in enumerate(ids):
                    rows[i] = q[j].tobytes()
                    inputs[i] = input_hash(texts[j])
                if done is not None:  # (texts embedded, texts to embed) of this variant
                    done(k + len(ids), len(todo))
        mat = (
            np.frombuffer(b"".join(r or b"" for r in rows), dtype=np.uint8).reshape(n, dims)
            if n
            else np.zeros((0, dims), np.uint8)
        )
        name = _piece_name(variant)
        model = embedder.model_id if embedder is not None else _model_id(req.embeddings)
        meta = quantization_meta(model, dims, n, f"{name}.bin")
        writer.write_bytes(
            f"{name}_bin", f"{name}.bin", mat.tobytes(), type="embeddings", format="bin", count=n
        )
        writer.write_json(name, meta, count=n)
        if variant == "merged":
            merged_out = (meta, mat)
        data.vectors[variant] = mat
        data.vector_inputs[variant] = inputs
    data.vectors_key = emb_key
    for f in data.files:
        if fresh.intersection(f["chunkIds"]):
            data.fresh_vectors.add(f["bundle"]["file"])
    if merged_out is not None and n >= req.cfg.search.ann.hnsw_min_vectors:
        merged, ef = merged_out[1], req.cfg.search.ann.ef_search
        graphs.submit(lambda: write_hnsw(writer, merged, dims, ef))
    return merged_out


def input_hash(text: str) -> str:
    """xxh64 hex of one embedding input: what a bundle's vector rows are keyed by (§6)."""
    return hash_bytes(text.encode("utf-8", "surrogatepass"), "xxh64").hex


def _fill_from_prior(
    data: ModeData,
    variant: str,
    todo: list[int],
    rows: list[bytes | None],
    inputs: list[str | None],
    prior: Callable[[str], dict[str, dict[str, bytes]]],
    priors: dict[str, dict[str, dict[str, bytes]]],
    dims: int,
) -> None:
    """Rows of ``todo`` chunks whose embedding input equals a row of their file's previous
    bundle; ``priors`` caches each file's offer across variants."""
    want = set(todo)
    for f in data.files:
        cids = [c for c in f["chunkIds"] if c in want]
        if not cids:
            continue
        rel = f["bundle"]["file"]
        if rel not in priors:
            priors[rel] = prior(rel)
        offer = priors[rel].get(variant)
        if not offer:
            continue
        for cid in cids:
            h = input_hash(variant_text(data.mode, data.chunks[cid], data.embed_text[cid], variant))
            inputs[cid] = h
            row = offer.get(h)
            if row is not None and len(row) == dims:
                rows[cid] = row


def _prior_offer(
    store: IncrementalStore, mode: str, emb_key: str | None
) -> Callable[[str], dict[str, dict[str, bytes]]] | None:
    """``store.prior_vectors`` for this mode and key, or None with nothing to offer."""
    if emb_key is None or not store.prior:
        return None
    return lambda rel: store.prior_vectors(rel, mode, emb_key)


def _bundle_vectors(data: ModeData, f: dict[str, Any]) -> dict[str, Any]:
    """A stored bundle's ``vectors`` of file ``f`` (rows in bundle order, hex, with the
    xxh64 of each row's embedding input), made from the mode's matrices only as the bundle
    is written: held as hex for every file from stage 3 on, they were ~110 MB of the medium
    build's peak."""
    order = _file_order(f["bundle"]["modes"][data.mode])
    out: dict[str, Any] = {}
    for variant, mat in data.vectors.items():
        known = data.vector_inputs.get(variant) or []
        hexrows = [""] * len(order)
        hashes = [""] * len(order)
        for cid, i in zip(f["chunkIds"], order, strict=True):
            hexrows[i] = mat[cid].tobytes().hex()
            h = known[cid] if cid < len(known) else None
            hashes[i] = h or input_hash(
                variant_text(data.mode, data.chunks[cid], data.embed_text[cid], variant)
            )
        out[variant] = {"key": data.vectors_key, "rows": hexrows, "inputs": hashes}
    return out


def _model_id(provider: str | None) -> str:
    if provider == "minilm":
        return "sentence-transformers/all-MiniLM-L6-v2"
    return provider or "none"


def resolve_embeddings(
    req_provider: str | None, cfg: PairOfCleatsConfig, stub: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    """The embedding provider to use, or None; ``auto`` without MiniLM warns once."""
    warnings: list[dict[str, Any]] = []
    if cfg.quality == "fast":
        return None, warnings
    name = "stub" if stub else (req_provider or cfg.indexing.embeddings.provider)
    from pairofcleats.embeddings import resolve_provider

    resolved = resolve_provider(name)
    if resolved is None and name == "auto":
        warnings.append(
            {
                "code": "EMBEDDINGS_UNAVAILABLE",
                "message": "MiniLM weights not installed; embeddings off",
            }
        )
    return resolved, warnings


def _index_state(
    req: BuildRequest,
    mode: str,
    build_id: str,
    stage: str,
    data: ModeData,
    key: str,
    inputs: dict[str, Any],
    dense: tuple[dict[str, Any], Any] | None,
    sqlite_info: dict[str, Any],
    w: PieceWriter,
) -> dict[str, Any]:
    """The mode's index_state.json (its manifest ``w`` is complete)."""
    pc = req.cfg.indexing.postings
    hnsw = any(e["name"] == "dense_vectors_hnsw" for e in w.entries)
    now = _now()
    return {
        "generatedAt": now,
        "updatedAt": now,
        "mode": mode,
        "artifactSurfaceVersion": ARTIFACT_SURFACE_VERSION,
        "compatibilityKey": key,
        "compatibilityInputs": inputs,
        "repoId": req.layout.repo_id,
        "buildId": build_id,
        "stage": stage,
        "embeddings": {
            "enabled": req.embeddings is not None and req.stage >= 3,
            "ready": dense is not None,
            "provider": req.embeddings if dense is not None else None,
            "model": dense[0]["model"] if dense is not None else None,
            "dims": req.dims if dense is not None else None,
            "count": len(data.chunks) if dense is not None else 0,
            "hnsw": hnsw,
        },
        "features": {
            "fielded": pc.fielded,
            "phrase": pc.enable_phrase_ngrams,
            "chargram": pc.enable_chargrams,
            "minhash": True,
            "filterIndex": req.stage >= 2,
            "relations": req.stage >= 2,
            "postings": {
                "phraseMinN": pc.phrase_min_n,
                "phraseMaxN": pc.phrase_max_n,
                "chargramMinN": pc.chargram_min_n,
                "chargramMaxN": pc.chargram_max_n,
                "chargramMaxTokenLength": pc.chargram_max_token_length,
            },
        },
        "sqlite": sqlite_info,
        "counts": {"files": len(data.files), "chunks": len(data.chunks), "vocab": data.vocab_size},
        "extensions": {},
    }


def run_build(req: BuildRequest) -> dict[str, Any]:
    """One full build; the caller holds no lock (acquired here unless ``req.lock`` is given)."""
    cap_mmap_threshold()  # §13 RSS; inherited by the stage-1 workers
    layout = req.layout
    lock = req.lock
    own_lock = lock is None
    if lock is None:
        layout.lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(
            layout.lock_path,
            {"command": req.command},
            heartbeat_s=LOCK_HEARTBEAT_S,
            stale_after_s=LOCK_STALE_S,
        )
        try:
            lock.acquire(wait_s=req.wait_lock)
        except LockHeld as exc:
            h = exc.holder
            raise IndexLocked(
                f"index is locked by pid {h.get('pid')} on {h.get('host')}"
                f" ({h.get('command', '?')})"
            ) from exc
        if lock.took_over_from is not None:
            req.warnings.append(
                {
                    "code": "LOCK_TAKEOVER",
                    "message": f"took over a stale lock ({lock.took_over_reason})",
                }
            )
    frozen = gc.get_freeze_count()
    try:
        return _locked_build(req)
    finally:
        if own_lock:
            lock.release()
        if frozen == 0:
            gc.unfreeze()  # what ``gc_paused`` froze (a host's own freeze is left alone)


def _cleanup_leftovers(layout: RepoLayout) -> None:
    """Under the lock every ``*.staging-*`` or ``*.tmp`` dir is a dead leftover."""
    for base in (layout.builds_dir, layout.attempts_dir):
        if not base.is_dir():
            continue
        for p in base.iterdir():
            if ".staging-" in p.name and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _file_modes(
    req: BuildRequest, stores: Mapping[str, IncrementalStore], cand: Candidate
) -> list[str]:
    """The modes whose stores hold (a part of) ``cand``'s bundle."""
    fmodes = [
        m
        for m in (("prose",) if cand.mode == "prose" else ("code", "extracted-prose"))
        if m in req.modes
    ]
    if cand.mode == "prose" and "code" in req.modes and stores["code"].known(cand.rel):
        fmodes.append("code")  # a Markdown file whose fences fed code mode
    return fmodes


_Parts = list[tuple[str, Verified, int]]


def _stats_match(
    req: BuildRequest, stores: Mapping[str, IncrementalStore], cands: list[Candidate]
) -> bool:
    """Every candidate has the size and mtime its stores remember: likely a no-op build."""
    root = req.layout.repo_root
    for cand in cands:
        try:
            st = os.lstat(root / cand.rel)
        except OSError:
            return False
        mtime_ms = st.st_mtime_ns // 1_000_000
        fmodes = _file_modes(req, stores, cand)
        if not fmodes or not all(
            stores[m].stat_matches(cand.rel, st.st_size, mtime_ms) for m in fmodes
        ):
            return False
    return True


def _verify_reuse(
    req: BuildRequest,
    stores: Mapping[str, IncrementalStore],
    cands: list[Candidate],
    keep: bool = True,
) -> tuple[dict[Candidate, _Parts], list[Candidate], Counter[str]]:
    """Split candidates into checksum-verified reuse, files to process and remembered skips.

    Only stats, (re)hashes of files whose mtime moved and xxh64 of bundle bytes: nothing is
    parsed, so deciding that nothing changed costs a fraction of a build (§15 B1).
    ``keep=False`` drops the verified bytes (see ``_locked_build``).
    """
    root = req.layout.repo_root
    verified: dict[Candidate, _Parts] = {}
    todo: list[Candidate] = []
    skips: Counter[str] = Counter()
    for cand in cands:
        fmodes = _file_modes(req, stores, cand)
        try:
            st = os.lstat(root / cand.rel)
        except OSError:
            todo.append(cand)
            continue
        mtime_ms = st.st_mtime_ns // 1_000_000
        for m in fmodes:
            stores[m].note_stat(cand.rel, st.st_size, mtime_ms)
        parts: _Parts = []
        for m in fmodes:
            v = stores[m].verify(root, cand.rel, st.st_size, mtime_ms, keep)
            if v is None:
                break
            parts.append((m, v, mtime_ms))
        reasons = {v.skipped for _, v, _ in parts}
        if not parts or len(parts) != len(fmodes) or len(reasons) != 1:
            todo.append(cand)
        elif None in reasons:
            verified[cand] = parts
        else:
            skips[next(r for r in reasons if r is not None)] += 1
    return verified, todo, skips


def _locked_build(req: BuildRequest) -> dict[str, Any]:
    layout = req.layout
    cfg = req.cfg
    env = req.env
    started = time.monotonic()
    report = req.report or (lambda kind, payload: None)
    layout.builds_dir.mkdir(parents=True, exist_ok=True)
    _cleanup_leftovers(layout)
    current = read_current(layout.current_json)
    if current.invalid_reason is not None:
        req.warnings.append(
            {
                "code": "CURRENT_INVALID",
                "message": f"current.json invalid: {current.invalid_reason}",
            }
        )

    chash = config_hash(cfg)
    emb_key = None
    if req.embeddings is not None and req.stage >= 3:
        emb_key = embeddings_key(
            req.embeddings, _model_id(req.embeddings), req.dims, cfg.indexing.embeddings.max_tokens
        )
    inputs = compatibility_inputs(cfg, req.modes, emb_key)
    key = compatibility_key(inputs)
    prov: RepoProvenance = provenance(layout.repo_root, cfg.indexing.scm.provider, env)
    phases = _Phases()

    phases.start("discover")
    report("task:start", {"taskId": "discover", "stage": "discover"})
    disc = discover(layout.repo_root, cfg.indexing, env, req.modes)
    phases.end("discover")
    report("task:end", {"taskId": "discover", "status": "ok"})

    store_writes = cfg.indexing.incremental and (req.incremental or req.cache_rebuild)
    stores = {
        m: IncrementalStore(
            layout.incremental_dir(m),
            chash,
            key,
            reuse=req.incremental and cfg.indexing.incremental and not req.cache_rebuild,
            write=store_writes,
        )
        for m in req.modes
    }
    present = {c.rel for c in disc.candidates}
    removed = sum(1 for m in req.modes for rel in stores[m].old if rel not in present)
    # A build whose stats all match is most likely a no-op, which needs only the bundles'
    # checksums: holding every bundle's bytes until the decision was ~600 MB on medium. If it
    # turns out not to be one, the bundles are verified again, keeping the bytes.
    lean = not removed and _stats_match(req, stores, disc.candidates)
    verified, todo, reused_skips = _verify_reuse(req, stores, disc.candidates, keep=not lean)
    for m, store in stores.items():
        for reason in store.refused[:5]:
            req.warnings.append(
                {"code": "WARN_INCREMENTAL_REUSE_REFUSED", "mode": m, "message": reason}
            )

    if (
        not todo
        and not removed
        and current.pointer is not None
        and req.incremental
        and not req.cache_rebuild
        and current.pointer.compatibilityKey == key
        and current.pointer.configHash == chash
        and sorted(current.pointer.modes) == sorted(req.modes)
        and current.pointer.stage == f"stage{req.stage}"
    ):
        cur_root = layout.repo_dir / current.pointer.buildRoot
        indexed = {
            m: {rel: e["hash"] for rel, e in stores[m].new.items() if e.get("hash")}
            for m in req.modes
        }
        if reverify_build(cur_root, req.modes, key, req.sqlite and req.stage >= 4, indexed):
            # §6: no changed file and a current build that re-verifies → no-op; current.json
            # and the bundle store stay as they are (nothing was written).
            return {
                "ok": True,
                "unchanged": True,
                "buildId": current.pointer.buildId,
                "repo": str(layout.repo_root),
                "repoId": layout.repo_id,
                "incremental": {
                    "reused": len(verified) + sum(reused_skips.values()),
                    "processed": 0,
                    "removed": 0,
                },
                "durationMs": int((time.monotonic() - started) * 1000),
                "warnings": req.warnings,
            }

    if lean:  # not a no-op after all: verify again, keeping the bytes this time
        marks = {m: len(store.refused) for m, store in stores.items()}
        verified, todo, reused_skips = _verify_reuse(req, stores, disc.candidates)
        for m, store in stores.items():
            del store.refused[marks[m] :]  # the same refusals again, already reported

    reused: dict[str, dict[str, Any]] = {}
    # The parsed bundles are millions of small containers kept alive: with the cyclic GC
    # on, its collections over that growing heap cost 4x the parsing itself (measured).
    # Each bundle's bytes are dropped once parsed: ``verified`` lives as long as this frame,
    # so it held every reused bundle twice (bytes and objects) for the whole build.
    pending = deque(verified.items())
    verified.clear()
    with gc_paused():
        while pending:
            cand, parts = pending.popleft()
            parsed = [stores[m].parse(v, mtime) for m, v, mtime in parts]
            del parts
            if all(b is not None for b in parsed):
                reused[cand.rel] = merge_bundles([b for b in parsed if b is not None])
            else:
                todo.append(cand)
    disc.skipped.update(reused_skips)

    build_id = new_build_id(datetime.now(UTC), prov.commit, chash, layout.builds_dir)
    build_root = req.attempt_dir if req.attempt_dir is not None else layout.builds_dir / build_id
    build_root.mkdir(parents=True)
    rel_root = os.path.relpath(build_root, layout.repo_dir).replace(os.sep, "/")
    created = _now()
    state: dict[str, Any] = {
        "schemaVersion": 1,
        "buildId": build_id,
        "buildRoot": rel_root,
        "repoRoot": str(layout.repo_root),
        "status": "running",
        "createdAt": created,
        "updatedAt": created,
        "stage": f"stage{req.stage}",
        "modes": req.modes,
        "tool": {"name": "pairofcleats", "version": __version__},
        "signatureVersion": 1,
        "configHash": chash,
        "compatibilityKey": key,
        "repo": prov.to_json(),
        "phases": phases.data,
        "counts": {},
        "discovery": {},
        "incremental": {"reused": 0, "processed": 0, "removed": removed},
        "validation": None,
        "extensions": {},
    }
    state_path = build_root / "build_state.json"

    def save_state() -> None:
        state["updatedAt"] = _now()
        write_state(state_path, state)

    save_state()
    try:
        with gc_paused():
            result = _stages(
                req,
                disc,
                todo,
                reused,
                stores,
                state,
                save_state,
                phases,
                build_root,
                build_id,
                key,
                inputs,
                emb_key,
                report,
            )
    except BaseException as exc:
        cancelled = isinstance(exc, KeyboardInterrupt | Cancelled)
        if cancelled:
            shutil.rmtree(build_root, ignore_errors=True)
            raise Cancelled("build cancelled") from exc
        state["status"] = "failed"
        try:
            save_state()
        except OSError:
            pass
        raise
    result["durationMs"] = int((time.monotonic() - started) * 1000)
    return result


def _sqlite_mode(
    req: BuildRequest,
    sdir: Path,
    mode: str,
    d: ModeData,
    dense: tuple[dict[str, Any], Any] | None,
    key: str,
    prev: PrevMode | None,
    dense_checksum: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stage 4 for one mode: build ``index-<mode>.db`` (or, for a mode whose stage-1 pieces
    were reused with the same vectors, patch the current build's); its manifest entry and
    sqlite info."""
    file_rows = [
        {
            "file": f["bundle"]["file"],
            "hash": f["bundle"]["hash"],
            "mtimeMs": f["bundle"]["mtimeMs"],
            "size": f["bundle"]["size"],
            "chunkCount": len(f["chunkIds"]),
        }
        for f in d.files
    ]
    path: Path | None = None
    if d.reused and prev is not None:
        prev_dense = prev.pieces.get(DENSE_BIN, {}).get("checksum")
        if prev_dense == dense_checksum:
            rows = [
                (r["file"], r["hash"], r["mtimeMs"], r["size"], r["chunkCount"]) for r in file_rows
            ]
            path = reuse_sqlite(prev, sdir, mode, rows, None if d.chunks_reused else d.chunks)
    if path is None:
        path = _build_sqlite_mode(req, sdir, mode, d, dense, key, file_rows)
    digest = hash_file(path, "xxh64")
    size = path.stat().st_size
    entry = {
        "type": "sqlite",
        "name": db_name(mode),
        "format": "sqlite",
        "path": db_name(mode),
        "bytes": size,
        "checksum": "xxh64:" + digest.hex,
        "count": len(d.chunks),
    }
    info = {
        "ready": True,
        "path": f"index-sqlite/{db_name(mode)}",  # relative to the build root
        "schemaVersion": SQLITE_SCHEMA_VERSION,
        "bytes": size,
    }
    return entry, info


def _build_sqlite_mode(
    req: BuildRequest,
    sdir: Path,
    mode: str,
    d: ModeData,
    dense: tuple[dict[str, Any], Any] | None,
    key: str,
    file_rows: list[dict[str, Any]],
) -> Path:
    if not d.stage1:  # reused pieces, but the db could not be: derive what it loads
        pc = req.cfg.indexing.postings
        stage1_values(d, pc, pc.fielded)
    vals = d.stage1
    rows = chunk_rows(d.chunks, d.tokens, vals["token_postings"]["vocab"], d.field_tokens)
    return build_sqlite(
        sdir,
        mode,
        rows=rows,
        token_postings=vals["token_postings"],
        field_postings=vals.get("field_postings"),
        phrase_ngrams=vals.get("phrase_ngrams"),
        chargram_postings=vals.get("chargram_postings"),
        minhash=vals["minhash_signatures"],
        dense=dense,
        files=file_rows,
        # no buildId: equal inputs must give byte-identical dbs (§5)
        meta={"compatibilityKey": key, "repoId": req.layout.repo_id},
    )


def _stages(
    req: BuildRequest,
    disc: Any,
    todo: list[Candidate],
    reused: dict[str, dict[str, Any]],
    stores: dict[str, IncrementalStore],
    state: dict[str, Any],
    save_state: Callable[[], None],
    phases: _Phases,
    build_root: Path,
    build_id: str,
    key: str,
    inputs: dict[str, Any],
    emb_key: str | None,
    report: Reporter,
) -> dict[str, Any]:
    layout = req.layout
    env = req.env
    prev: dict[str, PrevMode] = {}
    if req.incremental and not req.cache_rebuild and req.cfg.indexing.incremental:
        prev = previous_modes(
            layout, read_current(layout.current_json), req.modes, key, state["configHash"]
        )
    stage_name = _write_build(
        req,
        disc,
        todo,
        reused,
        stores,
        state,
        save_state,
        phases,
        build_root,
        build_id,
        key,
        inputs,
        emb_key,
        report,
        prev,
    )
    # Everything validation needs is on disk now and the in-memory build (bundles, chunk
    # records, postings) died with _write_build's frame: hand its heap back so validation's
    # parsed pieces do not stack on top of it.
    gc.collect()
    release_free_memory()

    checkpoint(req)
    phases.start("validate")
    report("task:start", {"taskId": "validate", "stage": "validate"})
    rep = validate_build(
        build_root,
        req.modes,
        key,
        req.sqlite and req.stage >= 4,
        trusted_pieces(prev),
        threads=req.threads,
    )
    if env.get(TEST_FAIL_VALIDATION_ENV):
        rep["issues"].append(
            {
                "mode": None,
                "artifact": None,
                "code": "TEST_HOOK",
                "message": "validation failed by test hook",
            }
        )
        rep["ok"] = False
        rep["issueCount"] = len(rep["issues"])
    issues = rep.pop("warnings", [])
    del issues
    state["validation"] = rep
    phases.end("validate", "ok" if rep["ok"] else "failed")
    report("task:end", {"taskId": "validate", "status": "ok" if rep["ok"] else "failed"})
    if not rep["ok"]:
        state["status"] = "failed"
        save_state()
        raise ValidationFailed(
            f"build {build_id} failed validation with {rep['issueCount']} issue(s);"
            " current.json unchanged",
            hint=f"see {build_root / 'build_state.json'}",
            errors=rep["issues"],
        )
    state["status"] = "validated"
    save_state()
    for store in stores.values():
        store.save()

    return {
        "ok": True,
        "buildId": build_id,
        "buildRoot": state["buildRoot"],
        "repo": str(layout.repo_root),
        "repoId": layout.repo_id,
        "stage": stage_name,
        "modes": req.modes,
        "counts": state["counts"],
        "discovery": state["discovery"],
        "incremental": state["incremental"],
        "validation": rep,
        "promoted": False,
        "warnings": req.warnings,
        "_state": state,
        "_save_state": save_state,
        "_build_root": build_root,
        "_phases": phases,
    }


def _write_build(
    req: BuildRequest,
    disc: Any,
    todo: list[Candidate],
    reused: dict[str, dict[str, Any]],
    stores: dict[str, IncrementalStore],
    state: dict[str, Any],
    save_state: Callable[[], None],
    phases: _Phases,
    build_root: Path,
    build_id: str,
    key: str,
    inputs: dict[str, Any],
    emb_key: str | None,
    report: Reporter,
    prev: Mapping[str, PrevMode],
) -> str:
    """Stages 1-4, the manifests and index states and the bundle store; returns the
    stage name. Every in-memory structure of the build is local here (§13 RSS)."""
    layout = req.layout
    cfg = req.cfg
    env = req.env
    modes_t = tuple(req.modes)

    checkpoint(req)
    phases.start("stage1")
    report("task:start", {"taskId": "stage1", "stage": "stage1"})
    processed = _process_all(req, todo, modes_t, _progress_of(report, "stage1", "files"))
    skipped: Counter[str] = Counter(disc.skipped)
    by_rel: dict[str, dict[str, Any]] = dict(reused)
    # only the names are needed from here on: the caller's dict would otherwise keep every
    # reused bundle alive through validation, after ``by_rel`` is dropped to make room
    reused_rels = frozenset(reused)
    reused.clear()
    for cand, res in zip(todo, processed, strict=True):
        if isinstance(res, Skipped):
            skipped[res.reason] += 1
            for store in stores.values():
                store.put_skip(res.rel, res.reason)
        else:
            by_rel[cand.rel] = res
    bundles = [by_rel[k] for k in sorted(by_rel)]
    state["discovery"] = {
        "scanned": disc.scanned,
        "indexed": len(bundles),
        "skipped": dict(sorted(skipped.items())),
    }
    state["incremental"]["reused"] = len(reused_rels)
    state["incremental"]["processed"] = len(bundles) - len(reused_rels)
    annotations: dict[str, tuple[str | None, str | None]] = {}
    if cfg.indexing.scm.annotate and disc.used_git and req.stage >= 2:
        annotations = annotate(layout.repo_root, bundles, cfg.indexing.scm.max_commits, env)

    datas: dict[str, ModeData] = {}
    writers: dict[str, PieceWriter] = {}
    for mode in req.modes:
        report("task:start", {"taskId": f"stage1:{mode}", "stage": "stage1", "mode": mode})
        data = collect(mode, bundles)
        w = PieceWriter(index_dir(build_root, mode))
        write_stage1(
            w,
            data,
            cfg.indexing.postings,
            cfg.indexing.postings.fielded,
            _reuse_hook(w, data, prev.get(mode), key, state["configHash"]),
            side_thread=req.threads > 1,  # the grams on the core the workers left idle
        )
        if data.reused:
            data.chunks_reused = same_chunk_pieces(prev[mode], w.entries)
        datas[mode], writers[mode] = data, w
        release_free_memory()  # the postings builders' temporaries
        report("task:end", {"taskId": f"stage1:{mode}", "status": "ok", "chunks": len(data.chunks)})
    phases.end("stage1")
    report("task:end", {"taskId": "stage1", "status": "ok"})
    state["counts"] = {
        m: {"files": len(d.files), "chunks": len(d.chunks)} for m, d in datas.items()
    }
    save_state()
    _hold(env, "stage1", build_root)

    if req.stage >= 2:
        checkpoint(req)
        phases.start("stage2")
        report("task:start", {"taskId": "stage2", "stage": "stage2"})
        _hold(env, "stage2", build_root)
        for mode in req.modes:
            report("task:start", {"taskId": f"stage2:{mode}", "stage": "stage2", "mode": mode})
            write_stage2(writers[mode], datas[mode], annotations)
            report("task:end", {"taskId": f"stage2:{mode}", "status": "ok"})
        phases.end("stage2")
        report("task:end", {"taskId": "stage2", "status": "ok"})
        save_state()

    dense: dict[str, Any] = {}
    if req.stage >= 3:
        checkpoint(req)
        phases.start("stage3")
        report("task:start", {"taskId": "stage3", "stage": "stage3"})
        graphs = GraphBuilds(req.threads)
        try:
            for mode in req.modes:
                report("task:start", {"taskId": f"stage3:{mode}", "stage": "stage3", "mode": mode})
                embedded = _progress_of(report, f"stage3:{mode}", "chunks")
                dense[mode] = _embed_mode(
                    req,
                    datas[mode],
                    emb_key,
                    writers[mode],
                    embedded,
                    graphs,
                    _prior_offer(stores[mode], mode, emb_key),
                )
                report("task:end", {"taskId": f"stage3:{mode}", "status": "ok"})
            graphs.wait()  # a mode's graph, on its own thread, overlaps the next modes
        finally:
            graphs.close()
        phases.end("stage3")
        report("task:end", {"taskId": "stage3", "status": "ok"})
        save_state()

    # Stage 3 was the last reader of the bundles' per-mode parts: store them now and drop
    # what stage 4 does not read, so the SQLite load does not stack on top of it (§13 RSS).
    _store_bundles(req.modes, stores, reused_rels, datas)
    _shed_assembled(bundles, datas.values())
    release_free_memory()

    stage_name = f"stage{req.stage}"
    sqlite_infos: dict[str, dict[str, Any]] = {
        m: {"ready": False, "path": None, "schemaVersion": SQLITE_SCHEMA_VERSION, "bytes": 0}
        for m in req.modes
    }
    sqlite = req.stage >= 4 and req.sqlite
    if sqlite:
        checkpoint(req)
        phases.start("stage4")
        report("task:start", {"taskId": "stage4", "stage": "stage4"})
        sdir = sqlite_dir(build_root)
        sw = PieceWriter(sdir)
        db_entries: dict[str, dict[str, Any]] = {}
    # One mode at a time, smallest first, each mode's records dropped once its db,
    # manifest and index state are written: the largest mode's load then no longer stacks
    # on the others' chunk records and postings (§13 RSS). Each db already loads on two
    # threads (sqlite_stage's FTS side load), so a pool of modes bought no wall time.
    for mode in sorted(req.modes, key=lambda m: _mode_weight(datas[m])):
        d = datas[mode]
        if sqlite:
            db_entries[mode], sqlite_infos[mode] = _sqlite_mode(
                req,
                sdir,
                mode,
                d,
                dense.get(mode),
                key,
                prev.get(mode),
                _checksum_of(writers[mode], DENSE_BIN),
            )
        w = writers[mode]
        w.write_manifest(
            mode=mode,
            stage=stage_name,
            repo_id=layout.repo_id,
            build_id=build_id,
            compatibility_key=key,
            extensions={DIGEST_KEY: d.digest} if d.digest is not None else None,
        )
        write_state(
            w.dir / "index_state.json",
            _index_state(
                req, mode, build_id, stage_name, d, key, inputs, dense.pop(mode, None),
                sqlite_infos[mode], w,
            ),
        )  # fmt: skip
        del datas[mode]
        release_free_memory()  # this mode's records, the load's page caches and row blocks
    if sqlite:
        sw.entries.extend(db_entries[m] for m in req.modes)
        sw.write_manifest(
            mode="sqlite",
            stage=stage_name,
            repo_id=layout.repo_id,
            build_id=build_id,
            compatibility_key=key,
        )
        phases.end("stage4")
        report("task:end", {"taskId": "stage4", "status": "ok"})
    fsync_dir(build_root)
    return stage_name


def _mode_weight(d: ModeData) -> int:
    """A mode's share of the parent's heap, to order stage 4 smallest first."""
    return sum(map(len, d.tokens)) + len(d.chunks)


def _reuse_hook(
    w: PieceWriter,
    data: ModeData,
    prev: PrevMode | None,
    key: str,
    chash: str,
) -> Callable[[], bool]:
    """``write_stage1``'s ``reuse``: record the mode's stage-1 input digest and, when the
    current build's equals it, link that build's verified derived pieces (``build.reuse``)."""

    def reuse() -> bool:
        data.digest = stage1_digest(key, chash, w.entries, data.tokens)
        if prev is None or prev.digest != data.digest:
            return False
        entries = link_pieces(prev, w.dir, DERIVED_PIECES)
        tp = next((e for e in entries or () if e["name"] == "token_postings"), None)
        if entries is None or tp is None or not isinstance(tp.get("count"), int):
            return False
        w.entries.extend(entries)
        data.vocab_size = tp["count"]
        data.reused = True  # and ``chunks_reused`` once chunk_meta is written
        return True

    return reuse


def _checksum_of(w: PieceWriter, name: str) -> str | None:
    return next((e["checksum"] for e in w.entries if e["name"] == name), None)


def _store_bundles(
    modes: list[str],
    stores: Mapping[str, IncrementalStore],
    reused_rels: Collection[str],
    datas: Mapping[str, ModeData],
) -> None:
    """Write each mode's bundles, with this build's vectors, to its incremental store (the
    manifest waits for validation); a reused bundle whose vectors did not change is already
    there."""
    for mode in modes:
        store, data = stores[mode], datas[mode]
        for f in data.files:
            b = f["bundle"]
            rel = b["file"]
            if rel in reused_rels and rel in store.new and rel not in data.fresh_vectors:
                continue
            m = b["modes"][mode]
            if data.vectors:
                m["vectors"] = _bundle_vectors(data, f)
            with stripped_ids(b):
                store.put(mode_bundle(b, mode))
            if data.vectors:
                del m["vectors"]  # written; nothing after reads it


def _shed_assembled(bundles: list[dict[str, Any]], datas: Iterable[ModeData]) -> None:
    """Drop the parts of the assembled build that stage 4 and the state files never read:
    the bundles' per-mode records (their original chunk dicts, embedding inputs) and each
    mode's embedding inputs, vector matrices, relations and repo map."""
    for b in bundles:
        b["modes"] = {}
        b["repoMap"] = []
        b["relations"] = {}
    for d in datas:
        d.embed_text = []
        d.relations = []
        d.repo_map = []
        d.vectors = {}  # the merged matrix lives on in stage 4's ``dense``
        d.vector_inputs = {}


def promote(req: BuildRequest, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``current.json`` (merging previous ``buildRoots``) and mark the build promoted."""
    layout = req.layout
    state = result.pop("_state")
    result.pop("_save_state")
    build_root: Path = result.pop("_build_root")
    phases: _Phases = result.pop("_phases")
    phases.start("promote")
    if req.attempt_dir is not None and build_root == req.attempt_dir:
        final = layout.build_dir(state["buildId"])
        rename_noreplace(build_root, final)
        fsync_dir(layout.builds_dir)
        build_root = final
        state["buildRoot"] = os.path.relpath(build_root, layout.repo_dir).replace(os.sep, "/")
    prev = read_current(layout.current_json)
    rel_root = os.path.relpath(build_root, layout.repo_dir).replace(os.sep, "/")
    roots: dict[str, str] = {}
    if prev.pointer is not None and prev.pointer.compatibilityKey == state["compatibilityKey"]:
        roots.update(prev.pointer.buildRoots)
    for m in req.modes:
        roots[m] = rel_root
    pointer = {
        "buildId": state["buildId"],
        "buildRoot": rel_root,
        "buildRoots": {k: roots[k] for k in sorted(roots)},
        "promotedAt": _now(),
        "stage": state["stage"],
        "modes": ordered_modes(sorted(roots)),
        "configHash": state["configHash"],
        "artifactSurfaceVersion": ARTIFACT_SURFACE_VERSION,
        "compatibilityKey": state["compatibilityKey"],
        "tool": {"version": __version__},
        "repo": state["repo"],
    }
    write_state(layout.current_json, pointer)
    state["status"] = "promoted"
    phases.end("promote")
    state["updatedAt"] = _now()
    write_state(build_root / "build_state.json", state)
    result["promoted"] = True
    result["buildRoot"] = rel_root
    removed = apply_retention(layout, req.cfg.cache.keep_builds, req.protected | {state["buildId"]})
    result["retention"] = {"removed": removed}
    return result
