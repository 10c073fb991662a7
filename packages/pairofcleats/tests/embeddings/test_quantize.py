"""uint8 quantisation follows §7's formula and round-trips unit vectors closely."""

from __future__ import annotations

import numpy as np
from pairofcleats.embeddings.quantize import SCALE, dequantize, quantization_meta, quantize
from pairofcleats.embeddings.stub import stub_matrix


def test_formula_on_edges() -> None:
    f = np.array([-1.0, -2.0, 1.0, 3.0, 0.0, 1 / 255], dtype=np.float32)
    # (f + 1) * 127.5 + 0.5, floored, clamped
    assert quantize(f).tolist() == [0, 0, 255, 255, 128, 128]


def test_round_trip_keeps_cosine() -> None:
    vec = stub_matrix(["a", "b", "c"], 384)
    back = dequantize(quantize(vec))
    assert back.dtype == np.float32
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)
    cos = (vec * back).sum(axis=1)
    assert (cos > 0.998).all()


def test_dequantize_without_normalising() -> None:
    q = np.array([[0, 255]], dtype=np.uint8)
    raw = dequantize(q, normalise=False)
    assert raw.tolist() == [[-1.0, np.float32(-1 + 255 * np.float32(SCALE))]]


def test_meta_shape() -> None:
    meta = quantization_meta("stub", 8, 3, "dense_vectors_uint8.bin")
    assert meta == {
        "model": "stub",
        "dims": 8,
        "scale": 2 / 255,
        "minVal": -1.0,
        "maxVal": 1.0,
        "levels": 256,
        "count": 3,
        "path": "dense_vectors_uint8.bin",
    }
