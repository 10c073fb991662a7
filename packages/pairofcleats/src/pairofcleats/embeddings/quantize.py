"""uint8 quantisation of unit vectors (§7): 256 levels over [−1, 1], as upstream stores them.

``q = clamp(floor((f + 1)·255/2 + 0.5), 0, 255)``; loading maps back with ``f = −1 + q·scale``
(``scale = 2/255``) and re-normalises each row, so cosine stays a plain dot product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

MIN_VAL = -1.0
MAX_VAL = 1.0
LEVELS = 256
SCALE = (MAX_VAL - MIN_VAL) / (LEVELS - 1)


def quantize(vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
    """Quantise float rows to uint8 (same shape)."""
    f = np.asarray(vectors, dtype=np.float64)
    q = np.floor((f - MIN_VAL) * ((LEVELS - 1) / (MAX_VAL - MIN_VAL)) + 0.5)
    return np.clip(q, 0, LEVELS - 1).astype(np.uint8)


def dequantize(
    q: npt.NDArray[np.uint8],
    *,
    min_val: float = MIN_VAL,
    scale: float = SCALE,
    normalise: bool = True,
) -> npt.NDArray[np.float32]:
    """uint8 rows back to float32; rows are L2-normalised unless ``normalise`` is false
    (a zero row stays zero)."""
    f = (min_val + q.astype(np.float32) * np.float32(scale)).astype(np.float32)
    if normalise and f.size:
        norms = np.linalg.norm(f, axis=-1, keepdims=True)
        norms[norms == 0] = 1.0
        f /= norms
    return f


def quantization_meta(model: str, dims: int, count: int, path: str) -> dict[str, Any]:
    """The ``dense_vectors*_uint8.json`` record of §5 for a matrix written at ``path``."""
    return {
        "model": model,
        "dims": dims,
        "scale": SCALE,
        "minVal": MIN_VAL,
        "maxVal": MAX_VAL,
        "levels": LEVELS,
        "count": count,
        "path": path,
    }
