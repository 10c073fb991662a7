"""Query-side MinHash signature (§5), the same function the build applies per chunk.

For seed ``s`` in 1..128 each token hashes as ``h = s; h = (h·31 + c) mod 2³²`` over its
UTF-16 code units, and the signature keeps the per-seed minimum. Vectorised over seeds.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["SIGNATURE_SIZE", "minhash_signature"]

SIGNATURE_SIZE = 128
_MASK = np.uint64(0xFFFFFFFF)


def minhash_signature(tokens: Iterable[str], size: int = SIGNATURE_SIZE) -> npt.NDArray[np.uint32]:
    """Per-seed minimum hash over ``tokens`` (all ``0xFFFFFFFF`` for no tokens)."""
    seeds = np.arange(1, size + 1, dtype=np.uint64)
    best = np.full(size, 0xFFFFFFFF, dtype=np.uint64)
    for tok in dict.fromkeys(tokens):
        units = np.frombuffer(tok.encode("utf-16-le"), dtype="<u2").astype(np.uint64)
        h = seeds.copy()
        for c in units:
            h = (h * np.uint64(31) + c) & _MASK
        np.minimum(best, h, out=best)
    return best.astype(np.uint32)
