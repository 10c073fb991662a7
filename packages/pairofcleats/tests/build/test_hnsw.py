"""Stage 3's graphs on their own threads (``build.hnsw``): same bytes, real overlap, and
errors surface at ``wait``."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from pairofcleats.artifacts.writer import PieceWriter
from pairofcleats.build.hnsw import GraphBuilds, unit_rows_f16, write_hnsw


def _checksum(w: PieceWriter) -> str:
    (entry,) = [e for e in w.entries if e["name"] == "dense_vectors_hnsw"]
    return str(entry["checksum"])


def test_graphs_built_on_threads_equal_inline_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    mats = [rng.integers(0, 256, size=(3_000, 16), dtype=np.uint8) for _ in range(2)]
    inline = []
    for k, mat in enumerate(mats):
        w = PieceWriter(tmp_path / f"inline{k}")
        write_hnsw(w, mat, 16, 64)
        inline.append(_checksum(w))
    writers = [PieceWriter(tmp_path / f"thread{k}") for k in range(2)]
    graphs = GraphBuilds(2)
    try:
        for w, mat in zip(writers, mats, strict=True):
            graphs.submit(lambda w=w, mat=mat: write_hnsw(w, mat, 16, 64))
        graphs.wait()
    finally:
        graphs.close()
    assert [_checksum(w) for w in writers] == inline


def test_two_jobs_run_at_once() -> None:
    barrier = threading.Barrier(2, timeout=10)  # broken unless both jobs run together
    graphs = GraphBuilds(2)
    try:
        graphs.submit(barrier.wait)
        graphs.submit(barrier.wait)
        graphs.wait()
    finally:
        graphs.close()


def test_a_failing_job_raises_at_wait() -> None:
    def boom() -> None:
        raise OSError("disk full")

    graphs = GraphBuilds(1)
    try:
        graphs.submit(boom)
        with pytest.raises(OSError, match="disk full"):
            graphs.wait()
    finally:
        graphs.close()


def test_unit_rows_match_the_whole_matrix_formula() -> None:
    rng = np.random.default_rng(5)
    mat = rng.integers(0, 256, size=(40_000, 8), dtype=np.uint8)  # more than one block
    mat[7] = 127  # a row that dequantises near zero still normalises
    f = mat.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    assert np.array_equal(unit_rows_f16(mat), f.astype(np.float16))


def test_the_graph_equals_one_that_copied_its_vectors(tmp_path: Path) -> None:
    # copy=False saves a second f16 copy of the rows while inserting; same bytes
    from usearch.index import Index

    rng = np.random.default_rng(9)
    mat = rng.integers(0, 256, size=(2_000, 16), dtype=np.uint8)
    w = PieceWriter(tmp_path / "ours")
    write_hnsw(w, mat, 16, 64)
    ref = Index(
        ndim=16, metric="cos", connectivity=16, expansion_add=200, expansion_search=64, dtype="f16"
    )
    ref.add(np.arange(2_000, dtype=np.uint64), unit_rows_f16(mat), threads=1, copy=True)
    ref.save(str(tmp_path / "ref.usearch"))
    ours = (tmp_path / "ours" / "dense_vectors_hnsw.usearch").read_bytes()
    assert ours == (tmp_path / "ref.usearch").read_bytes()
