"""The stub embedder equals upstream's output bit for bit (§7 goldens, acceptance 10)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.embeddings import get_embedder
from pairofcleats.embeddings.stub import StubEmbedder, stub_matrix, stub_vector

HELLO_8 = [
    -0.540358186,
    -0.175804764,
    0.302466065,
    0.405304193,
    0.530103862,
    -0.00266179186,
    -0.373049885,
    -0.0341330431,
]
HELLO_384_HEAD = [-0.0795011297, -0.025865579, 0.0445008427, 0.0596310757]


def _reference(text: str, dims: int) -> list[float]:
    """The spec's pseudo-code, step by step in plain Python (float32 via numpy scalars)."""
    s = 0
    for b in hashlib.sha256(text.encode("utf-8")).digest():
        s = (s * 31 + b) % 2**32
    x = s
    v: list[np.float32] = []
    for _ in range(dims):
        x = (x * 1664525 + 1013904223) % 2**32
        v.append(np.float32(x / 4294967295 * 2 - 1))
    n = 0.0
    for val in v:
        n += float(val) ** 2
    n = math.sqrt(n) or 1.0
    return [float(np.float32(float(val) / n)) for val in v]


def test_hello_8_dims_is_bit_identical_to_golden() -> None:
    got = stub_vector("hello", 8)
    assert got.dtype == np.float32
    assert got.tobytes() == np.array(HELLO_8, dtype=np.float32).tobytes()


def test_hello_384_starts_with_golden() -> None:
    got = stub_vector("hello")
    assert got.shape == (384,)
    assert got[:4].tobytes() == np.array(HELLO_384_HEAD, dtype=np.float32).tobytes()


def test_non_positive_dims_mean_384() -> None:
    assert stub_vector("x", 0).shape == (384,)
    assert stub_vector("x", -5).shape == (384,)
    assert StubEmbedder(-1).dims == 384


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=1, max_value=48))
def test_vectorised_matches_the_pseudo_code(text: str, dims: int) -> None:
    assert stub_vector(text, dims).tolist() == _reference(text, dims)


def test_batch_rows_equal_single_vectors_and_are_unit() -> None:
    texts = ["alpha", "beta", "", "ünïcode ✓"]
    mat = get_embedder("stub", 16).embed(texts)
    assert mat.shape == (4, 16)
    assert mat.dtype == np.float32
    for row, text in zip(mat, texts, strict=True):
        assert row.tobytes() == stub_vector(text, 16).tobytes()
    assert np.allclose(np.linalg.norm(mat, axis=1), 1.0, atol=1e-6)
    assert stub_matrix([], 8).shape == (0, 8)
