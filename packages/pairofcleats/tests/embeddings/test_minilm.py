"""MiniLM parity with published sentence-transformers values (§7, acceptance 11)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pairofcleats.embeddings import get_embedder, minilm_available
from pairofcleats.embeddings.minilm import (
    EXPECTED_SHA256,
    _openblas_thread_api,
    ensure_extracted,
    model_dir,
    single_threaded_blas,
)
from pairofcleats.errors import InvalidRequest

pytestmark = pytest.mark.skipif(not minilm_available(), reason="MiniLM weights not installed")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_extraction_is_verified_and_reused(cache_root: Path) -> None:
    directory = ensure_extracted(cache_root)
    assert directory == model_dir(cache_root)
    assert directory.name == EXPECTED_SHA256["model.safetensors"][:12]
    for name, want in EXPECTED_SHA256.items():
        assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == want
    assert ensure_extracted(cache_root) == directory
    leftovers = [p.name for p in directory.parent.iterdir() if p.name.startswith(".extract-")]
    assert leftovers == []


def test_parity_with_sentence_transformers(cache_root: Path) -> None:
    emb = get_embedder("minilm", 384, cache_root=cache_root)
    assert (emb.name, emb.dims) == ("minilm", 384)
    vecs = emb.embed(
        [
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
            "This is an example sentence",
        ]
    )
    assert vecs.shape == (4, 384)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert float(vecs[0] @ vecs[1]) == pytest.approx(0.6660, abs=0.002)
    assert float(vecs[0] @ vecs[2]) == pytest.approx(0.1046, abs=0.002)
    assert float(vecs[1] @ vecs[2]) == pytest.approx(0.1411, abs=0.002)
    head = [0.0677, 0.0635, 0.0487, 0.0793, 0.0374]
    assert vecs[3][:5].tolist() == pytest.approx(head, abs=0.001)


def test_batching_and_order_do_not_change_rows(cache_root: Path) -> None:
    texts = ["short", "a much longer sentence about parsing configuration files", "mid size"]
    emb = get_embedder("minilm", cache_root=cache_root, batch_size=1)
    one_by_one = emb.embed(texts)
    batched = get_embedder("minilm", cache_root=cache_root, batch_size=8).embed(texts)
    assert np.allclose(one_by_one, batched, atol=1e-5)
    assert np.allclose(batched[0], emb.embed(["short"])[0], atol=1e-5)


def test_threads_and_length_buckets_do_not_change_rows(cache_root: Path) -> None:
    # Lengths from 4 to ~60 pieces: batches of 4 pad to their own longest text and run on
    # two worker threads; every row must match the one-text-at-a-time encoding.
    texts = [f"def f{i}(x):\n    return x * {i}  # " + "token " * (i * 7 % 40) for i in range(13)]
    one_by_one = get_embedder("minilm", cache_root=cache_root, batch_size=1, threads=1)
    threaded = get_embedder("minilm", cache_root=cache_root, batch_size=4, threads=2)
    expected, got = one_by_one.embed(texts), threaded.embed(texts)
    assert got.shape == (13, 384)
    assert np.allclose(expected, got, atol=1e-5)
    assert float(np.min(np.sum(expected * got, axis=1))) > 0.99999


def test_single_threaded_blas_holds_and_restores_the_count() -> None:
    api = _openblas_thread_api()
    if api is None:
        pytest.skip("numpy is not linked against OpenBLAS")
    get, set_ = api
    before = get()
    set_(2)
    try:
        with single_threaded_blas():
            assert get() == 1
            with single_threaded_blas():  # nested/concurrent holders share the hold
                assert get() == 1
            assert get() == 1
        assert get() == 2
    finally:
        set_(before)


def test_other_dims_are_rejected(cache_root: Path) -> None:
    with pytest.raises(InvalidRequest):
        get_embedder("minilm", 128, cache_root=cache_root)


def test_model_module_is_never_imported(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pairofcleats.embeddings import get_embedder\n"
        f"e = get_embedder('minilm', cache_root=Path({str(tmp_path)!r}))\n"
        "e.embed(['hello world'])\n"
        "bad = [m for m in sys.modules if m.startswith('all_minilm')]\n"
        "print('BAD' if bad else 'CLEAN')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "CLEAN"
