"""Assembling one mode's artifacts from per-file bundles, in file order (§5, §6).

Bundles arrive sorted by path (code-point order); ids are assigned here, so the
output is byte-identical whatever the worker count or which bundles were reused.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pairofcleats.artifacts.writer import PieceWriter, plain_float
from pairofcleats.config import PostingsConfig
from pairofcleats.postings import Streams, token_field_postings_and_minhash

PHRASE_FIELDS = ("name", "signature", "doc", "comment")
FILE_CHARGRAM_N = 3
_CALL_SPLIT = re.compile(r"\.|::|->")


@dataclass(slots=True)
class ModeData:
    """One mode's chunks in id order, with their field streams and tokens."""

    mode: str
    files: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    field_tokens: list[dict[str, list[str]]] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    embed_text: list[str] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    repo_map: list[dict[str, Any]] = field(default_factory=list)
    vocab_size: int = 0
    #: Stage-1 structures kept in memory for the SQLite stage.
    stage1: dict[str, Any] = field(default_factory=dict)
    #: Files whose vectors were computed (not reused) at stage 3.
    fresh_vectors: set[str] = field(default_factory=set)
    #: Stage 3's uint8 matrix per embedding variant (rows in chunk id order), and the
    #: embedding key they were made under: what the stored bundles' vectors come from.
    vectors: dict[str, Any] = field(default_factory=dict)
    #: per variant, the xxh64 of each row's embedding input where known (chunk id order)
    vector_inputs: dict[str, list[str | None]] = field(default_factory=dict)
    vectors_key: str | None = None
    #: xxh64 of this mode's stage-1 inputs (``build.reuse.stage1_digest``), once known.
    digest: str | None = None
    #: Whether the derived stage-1 pieces were linked from the current build.
    reused: bool = False
    #: ... and whether its ``chunk_meta`` was byte-identical too (else its db's rows differ).
    chunks_reused: bool = False


def collect(mode: str, bundles: Sequence[dict[str, Any]]) -> ModeData:
    """Assign fileIds and chunk ids (file path order, then start) for ``mode``."""
    data = ModeData(mode)
    for b in bundles:
        m = b["modes"].get(mode)
        if m is None:
            continue
        file_id = len(data.files)
        order = sorted(
            range(len(m["chunks"])),
            key=lambda i: (
                m["chunks"][i]["start"],
                m["chunks"][i]["end"],
                m["chunks"][i].get("spanIndex", 0),
            ),
        )
        first = len(data.chunks)
        for i in order:
            # the bundle's own record, numbered in place (a copy per chunk was ~650 bytes
            # x 136k chunks of the parent's peak); ``strip_ids`` takes the numbers off
            # again before a bundle is stored
            rec = m["chunks"][i]
            rec["id"] = len(data.chunks)
            rec["fileId"] = file_id
            data.chunks.append(rec)
            data.field_tokens.append(m["fieldTokens"][i])
            data.tokens.append(m["tokens"][i])
            data.embed_text.append(m["embedText"][i])
        data.files.append({"bundle": b, "chunkIds": list(range(first, len(data.chunks)))})
        if mode == "code":
            data.relations.append({"file": b["file"], **b["relations"]})
            data.repo_map.extend(b["repoMap"])
    return data


@contextlib.contextmanager
def stripped_ids(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``bundle`` with its chunk records' ``collect`` numbering taken off (what a stored
    bundle holds: ids depend on the other files), put back on exit."""
    saved: list[tuple[dict[str, Any], int, int]] = []
    for m in bundle["modes"].values():
        for rec in m["chunks"]:
            if "id" in rec:
                saved.append((rec, rec.pop("id"), rec.pop("fileId")))
    try:
        yield bundle
    finally:
        for rec, cid, fid in saved:
            rec["id"] = cid
            rec["fileId"] = fid


def write_stage1(
    w: PieceWriter,
    data: ModeData,
    pc: PostingsConfig,
    fielded: bool,
    reuse: Callable[[], bool] | None = None,
    *,
    side_thread: bool = False,
) -> None:
    """chunk_meta, field_tokens, token/field postings, phrase n-grams, chargrams, MinHash.

    ``reuse`` runs once ``field_tokens`` is written; when it returns True it has supplied
    the derived pieces (see ``build.reuse``) and nothing is computed. ``side_thread``: see
    ``stage1_values``. ``chunk_meta`` (read by none of the others) is written while the
    side thread is still busy, its entries put first in ``w.entries`` as before.
    """

    def chunk_meta() -> None:
        weights_plain = all(plain_float(c["weight"]) for c in data.chunks)
        w.write_chunk_meta(data.chunks, plain_floats=weights_plain)

    w.write_jsonl("field_tokens", data.field_tokens, plain_floats=True)  # strings only
    if reuse is not None and reuse():
        chunk_meta()
    else:
        stage1_values(data, pc, fielded, w, side_thread=side_thread, then=chunk_meta)
    w.entries.sort(key=lambda e: not e["name"].startswith("chunk_meta"))  # stable


def stage1_values(
    data: ModeData,
    pc: PostingsConfig,
    fielded: bool,
    w: PieceWriter | None = None,
    *,
    side_thread: bool = False,
    then: Callable[[], None] | None = None,
) -> None:
    """The derived stage-1 structures into ``data.stage1``, each written to ``w`` if given.

    ``side_thread``: the phrase n-grams are built on a second thread while this one builds
    the token/field postings and MinHash (both only read ``data``'s token lists, and most
    of their time is numpy sorts and gathers that release the GIL, so they overlap on the
    core the stage-1 workers left idle). The chargrams, from the same interned streams,
    follow on the side thread, but only once the token postings are done: started beside
    them they stacked a third builder's temporaries (+180 MB of the build's peak), while
    beside this thread's piece writes they stay under it and took a medium code mode's
    ``write_stage1`` from ~9.3 to ~7.9 s. Every piece is written on this thread, in the
    one-thread order. ``then`` runs once this thread's own pieces are done.
    """
    wanted = pc.enable_phrase_ngrams or pc.enable_chargrams
    side: Future[tuple[Streams, dict[str, Any] | None]] | None = None
    grams: Future[dict[str, Any]] | None = None
    postings_done = threading.Event()
    pool: ThreadPoolExecutor | None = None
    if side_thread and wanted:
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"stage1-{data.mode}")
        side = pool.submit(_phrases, data, pc)
        if pc.enable_chargrams:
            grams = pool.submit(_chargrams_after, side, postings_done, pc)
    try:
        try:
            tp, sigs, fields = token_field_postings_and_minhash(
                data.tokens, data.field_tokens if fielded else None, compact=True
            )
        finally:
            postings_done.set()  # the side thread's chargrams may start: their peak no
            # longer stacks on the token postings' temporaries, only on the writes below
        data.vocab_size = len(tp["vocab"])
        if w is not None:
            w.write_json(
                "token_postings",
                tp,
                count=len(tp["vocab"]),
                plain_floats=plain_float(tp["avgDocLen"]),
            )
        data.stage1["token_postings"] = tp
        if fields is not None:
            avg_plain = all(plain_float(v["avgDocLen"]) for v in fields.values())
            if w is not None:
                w.write_json(
                    "field_postings", {"fields": fields}, count=len(fields), plain_floats=avg_plain
                )
            data.stage1["field_postings"] = {"fields": fields}
        if then is not None:
            then()
        if wanted:
            ts, pn = _phrases(data, pc) if side is None else side.result()
            if pn is not None:
                if w is not None:
                    w.write_json("phrase_ngrams", pn, count=len(pn["vocab"]), plain_floats=True)
                data.stage1["phrase_ngrams"] = pn
            del pn
            if pc.enable_chargrams:
                cp = _chargrams(ts, pc) if grams is None else grams.result()
                if w is not None:
                    w.write_json("chargram_postings", cp, count=len(cp["vocab"]), plain_floats=True)
                data.stage1["chargram_postings"] = cp
            del ts
    finally:
        postings_done.set()
        if pool is not None:
            pool.shutdown(wait=True)  # on an error here too: the side thread ends first
    if w is not None:
        w.write_json("minhash_signatures", {"signatures": sigs}, count=len(sigs), plain_floats=True)
    data.stage1["minhash_signatures"] = sigs


def _chargrams(ts: Streams, pc: PostingsConfig) -> dict[str, Any]:
    return ts.chargram_postings(
        pc.chargram_min_n, pc.chargram_max_n, pc.chargram_max_token_length, compact=True
    )


def _chargrams_after(
    side: Future[tuple[Streams, dict[str, Any] | None]],
    postings_done: threading.Event,
    pc: PostingsConfig,
) -> dict[str, Any]:
    """The chargrams of the phrase streams, once the main thread's token postings are done."""
    ts, _ = side.result()  # done: this pool's one thread ran it first
    postings_done.wait()
    return _chargrams(ts, pc)


def _phrases(data: ModeData, pc: PostingsConfig) -> tuple[Streams, dict[str, Any] | None]:
    """The phrase fields' interned streams and their phrase n-grams (None if disabled)."""
    ts = Streams([[ft.get(f, []) for f in PHRASE_FIELDS] for ft in data.field_tokens])
    pn = None
    if pc.enable_phrase_ngrams:
        pn = ts.phrase_postings(pc.phrase_min_n, pc.phrase_max_n, compact=True)
    return ts, pn


def _path_grams(path: str) -> set[str]:
    p = path.lower()
    return {p[i : i + FILE_CHARGRAM_N] for i in range(len(p) - FILE_CHARGRAM_N + 1)}


def write_stage2(
    w: PieceWriter, data: ModeData, annotations: dict[str, tuple[str | None, str | None]]
) -> None:
    """file_meta, file_relations, repo_map, filter_index."""
    file_meta = []
    by_ext: dict[str, list[int]] = defaultdict(list)
    by_lang: dict[str, list[int]] = defaultdict(list)
    by_kind: dict[str, list[int]] = defaultdict(list)
    by_author: dict[str, list[int]] = defaultdict(list)
    by_call: dict[str, list[int]] = defaultdict(list)
    by_use: dict[str, list[int]] = defaultdict(list)
    file_grams: dict[str, list[int]] = defaultdict(list)
    for fid, f in enumerate(data.files):
        b = f["bundle"]
        last_mod, author = annotations.get(b["file"], (None, None))
        entry: dict[str, Any] = {
            "id": fid,
            "file": b["file"],
            "ext": b["ext"],
            "lang": b["lang"],
            "size": b["size"],
            "hash": b["hash"],
            "mtimeMs": b["mtimeMs"],
            "encoding": b["encoding"],
            "encodingFallback": b["encodingFallback"],
            "lines": b["lines"],
            "chunkCount": len(f["chunkIds"]),
            "lastModified": last_mod,
            "lastAuthor": author,
        }
        if b.get("unstable"):
            entry["unstable"] = True
        file_meta.append(entry)
        for g in sorted(_path_grams(b["file"])):
            file_grams[g].append(fid)
        for cid in f["chunkIds"]:
            if author:
                by_author[author].append(cid)
    tails: dict[str, str] = {}  # call -> its base name: calls repeat across chunks
    for c in data.chunks:
        cid = c["id"]
        by_ext[(c.get("ext") or "").lower() or "unknown"].append(cid)
        by_lang[c.get("lang") or "unknown"].append(cid)
        by_kind[c.get("kind") or "unknown"].append(cid)
        rel = c["metaV2"]["codeRelations"]
        calls = rel["calls"]
        if calls:
            # each key lists a chunk once; the order keys are met in is lost in the sort
            keys = set(calls)
            for call in list(keys):
                tail = tails.get(call)
                if tail is None:
                    tail = tails[call] = _CALL_SPLIT.split(call)[-1]
                keys.add(tail)
            keys.discard("")
            for key in keys:
                by_call[key].append(cid)
        for use in set(rel["usages"]):
            by_use[use].append(cid)
    # file_meta, relations, repo_map and filter_index hold no floats at all
    w.write_json("file_meta", file_meta, count=len(file_meta), plain_floats=True)
    w.write_json("file_relations", data.relations, count=len(data.relations), plain_floats=True)
    w.write_json("repo_map", data.repo_map, count=len(data.repo_map), plain_floats=True)

    def _sorted(d: dict[str, list[int]]) -> dict[str, list[int]]:
        return {k: d[k] for k in sorted(d)}

    filt = {
        "fileChargramN": FILE_CHARGRAM_N,
        "fileById": [f["bundle"]["file"] for f in data.files],
        "fileChunksById": [f["chunkIds"] for f in data.files],
        "byExt": _sorted(by_ext),
        "byLang": _sorted(by_lang),
        "byKind": _sorted(by_kind),
        "byAuthor": _sorted(by_author),
        "byCall": _sorted(by_call),
        "byUse": _sorted(by_use),
        "fileChargrams": _sorted(file_grams),
    }
    w.write_json("filter_index", filt, count=len(data.chunks), plain_floats=True, compact=False)
