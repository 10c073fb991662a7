"""The upstream stub embedder, ported bit for bit (§7): deterministic vectors for tests.

Each text seeds a 32-bit LCG from its SHA-256; values are computed in float64 and stored as
float32, then normalised by the float64 norm of the float32 values summed in index order. The
goldens in the spec are float32 values of upstream's output, so every step keeps its order.

The LCG is evaluated in closed form, ``x_i = A_i·x_0 + C_i (mod 2^32)`` with precomputed
``A_i = a^i`` and ``C_i = c·(1 + a + … + a^(i−1))``, so a batch is a few numpy operations
instead of ``dims`` Python steps per text; the products fit in uint64 exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

DEFAULT_DIMS = 384
_MASK = 0xFFFFFFFF
_A = 1664525
_C = 1013904223


def _seed(text: str) -> int:
    seed = 0
    for byte in hashlib.sha256(text.encode("utf-8")).digest():
        seed = (seed * 31 + byte) & _MASK
    return seed


@lru_cache(maxsize=8)
def _lcg_tables(dims: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """``A_i``, ``C_i`` for steps 1..dims (step i is the i-th value upstream stores)."""
    mult = np.empty(dims, dtype=np.uint64)
    add = np.empty(dims, dtype=np.uint64)
    a_i, c_i = 1, 0
    for i in range(dims):
        a_i, c_i = (a_i * _A) & _MASK, (c_i * _A + _C) & _MASK
        mult[i] = a_i
        add[i] = c_i
    return mult, add


def _normalise_rows(raw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    wide = raw.astype(np.float64)
    total = np.zeros(raw.shape[0], dtype=np.float64)
    for col in range(raw.shape[1]):  # index order, like upstream's loop (not pairwise)
        total += wide[:, col] * wide[:, col]
    norm = np.sqrt(total)
    norm[norm == 0] = 1.0
    return (wide / norm[:, None]).astype(np.float32)


def stub_matrix(texts: Sequence[str], dims: int = DEFAULT_DIMS) -> npt.NDArray[np.float32]:
    """Stub embeddings of ``texts``, shape ``(len(texts), dims)`` float32."""
    if dims <= 0:
        dims = DEFAULT_DIMS
    if not texts:
        return np.empty((0, dims), dtype=np.float32)
    mult, add = _lcg_tables(dims)
    seeds = np.fromiter((_seed(t) for t in texts), dtype=np.uint64, count=len(texts))
    states = (seeds[:, None] * mult[None, :] + add[None, :]) & np.uint64(_MASK)
    raw = (states.astype(np.float64) / 4294967295 * 2 - 1).astype(np.float32)
    return _normalise_rows(raw)


def stub_vector(text: str, dims: int = DEFAULT_DIMS) -> npt.NDArray[np.float32]:
    """The stub embedding of one text (non-positive ``dims`` means 384, as upstream)."""
    row: npt.NDArray[np.float32] = stub_matrix([text], dims)[0]
    return row


class StubEmbedder:
    """Embedder returning :func:`stub_matrix` rows; ``name`` is ``"stub"``."""

    name = "stub"
    model_id = "stub"

    def __init__(self, dims: int = DEFAULT_DIMS) -> None:
        self.dims = dims if dims > 0 else DEFAULT_DIMS

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One float32 row per text, shape ``(len(texts), dims)``."""
        return stub_matrix(texts, self.dims)
