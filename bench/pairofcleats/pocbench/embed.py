"""Embedding throughput: real MiniLM vs the stub, on corpus texts of ~128 word pieces.

Texts are cut from the medium corpus's Python files with the MiniLM tokenizer's own
offsets, so each is 126 word pieces plus ``[CLS]``/``[SEP]`` (shorter only at a file end).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pocbench.stats import row

PIECES = 126
#: The embedder's default batch size (``indexing.embeddings.batchSize``), used for the figure.
BATCH_SIZE = 32
#: Other batch sizes reported in the detail, on the first ``BY_BATCH_TEXTS`` texts (enough
#: that the embedder's cap, a batch of at most ceil(texts / threads), leaves 64 intact).
BATCH_SIZES = (1, 16, 64)
BY_BATCH_TEXTS = 128


def minilm_installed() -> bool:
    """True when the MiniLM weights distribution is installed (its module is not imported)."""
    from pairofcleats.embeddings import minilm_available

    return minilm_available()


def _texts(root: Path, tokenizer: Any, count: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        while text.strip() and len(texts) < count:
            enc = tokenizer.encode(text[:4000], add_special_tokens=False)
            if not enc.offsets:
                break
            cut = enc.offsets[min(PIECES, len(enc.offsets)) - 1][1]
            texts.append(text[:cut])
            text = text[cut:]
        if len(texts) >= count:
            break
    return texts


def _by_batch_size(cache_root: Path, texts: list[str], threads: int) -> dict[str, float]:
    """chunks/s per batch size on the same texts (one warm embedder each)."""
    from pairofcleats.embeddings import get_embedder

    rates: dict[str, float] = {}
    for size in BATCH_SIZES:
        emb = get_embedder("minilm", 384, cache_root=cache_root, batch_size=size, threads=threads)
        emb.embed(texts[:2])
        t0 = time.perf_counter()
        emb.embed(texts)
        rates[str(size)] = round(len(texts) / (time.perf_counter() - t0), 2)
    return rates


def embedding_figures(
    root: Path, cache: Path, quick: bool
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, str]]]:
    """MiniLM chunks/s (target >= 20 at ~128 word pieces) with the stub as baseline; the
    detail adds chunks/s at batch sizes 1/16/64 and the worker threads (the CPU count, as a
    default build uses)."""
    from pairofcleats.embeddings import get_embedder

    if not minilm_installed():
        return [], {}, [{"figure": "MiniLM embedding", "reason": "MiniLM not installed"}]
    from pairofcleats.embeddings.minilm import ensure_extracted
    from tokenizers import Tokenizer

    cache_root = cache / "cache-v1"
    tokenizer = Tokenizer.from_file(str(ensure_extracted(cache_root) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    texts = _texts(root, tokenizer, 16 if quick else 256)
    pieces = [len(tokenizer.encode(t).ids) for t in texts]
    threads = os.cpu_count() or 1
    minilm = get_embedder(
        "minilm", 384, cache_root=cache_root, batch_size=BATCH_SIZE, threads=threads
    )
    stub = get_embedder("stub", 384)
    minilm.embed(texts[:2])  # load weights outside the timing
    t0 = time.perf_counter()
    minilm.embed(texts)
    t_minilm = time.perf_counter() - t0
    t0 = time.perf_counter()
    stub.embed(texts)
    t_stub = time.perf_counter() - t0
    rate, stub_rate = len(texts) / t_minilm, len(texts) / t_stub
    info: dict[str, Any] = {
        "texts": len(texts),
        "meanPieces": round(sum(pieces) / len(pieces), 1),
        "threads": threads,
        "batchSize": BATCH_SIZE,
        "byBatchSizeTexts": min(len(texts), BY_BATCH_TEXTS),
        "chunksPerSByBatchSize": _by_batch_size(cache_root, texts[:BY_BATCH_TEXTS], threads),
    }
    figures = [
        row("MiniLM embedding chunks/s (~128 pieces)", rate, "chunks/s", "stub embedder",
            rate / stub_rate, target=">= 20 chunks/s", met=rate >= 20,
            stubChunksPerS=round(stub_rate, 1), meanPieces=info["meanPieces"]),
    ]  # fmt: skip
    return figures, info, []
