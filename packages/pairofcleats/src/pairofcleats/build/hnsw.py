"""Stage 3's HNSW graphs (§7): usearch, cosine, M 16, efConstruction 200, built off the
main thread.

Insertion is sequential, in id order, so a graph's bytes are the same for any
``--threads`` (usearch's parallel add links nodes in whatever order its threads race to).
That makes one graph a long single-core job: ~1 minute per 65k vectors. usearch releases
the GIL while it inserts, so each mode's graph is built on a thread of its own
(``GraphBuilds``) while the main thread embeds the next mode, and two graphs take the wall
time of one on two cores, each still byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from pairofcleats.artifacts.writer import PieceWriter

HNSW_ADD_THREADS = 1
#: Finer than the uint8 rows the graph is made from (a 2/255 step), so nothing is lost,
#: while its distances cost less: insertion went from ~1,080 to ~1,780 vectors/s on 40k
#: real rows, and the file halves.
HNSW_DTYPE = "f16"
HNSW_COPY_BLOCK = 1 << 20
#: Rows dequantised per step: the f32 temporaries stay ~25 MB whatever the mode's size.
_ROW_BLOCK = 16384


def unit_rows_f16(mat: npt.NDArray[np.uint8]) -> npt.NDArray[np.float16]:
    """The uint8 rows dequantised and L2-normalised, as f16 (what the graph stores; usearch
    builds the same bytes from these as from f32 rows, checked). Block by block: a whole
    f32 copy of a medium code mode's rows was ~200 MB, two of them with graphs in parallel."""
    out = np.empty(mat.shape, dtype=np.float16)
    for s in range(0, mat.shape[0], _ROW_BLOCK):
        f = mat[s : s + _ROW_BLOCK].astype(np.float32)
        f *= 2.0 / 255.0
        f -= 1.0
        norms = np.linalg.norm(f, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        f /= norms
        out[s : s + _ROW_BLOCK] = f
    return out


def write_hnsw(writer: PieceWriter, mat: npt.NDArray[np.uint8], dims: int, ef_search: int) -> None:
    """Build the graph of ``mat``'s rows (ids = row numbers) and write its two pieces."""
    from usearch.index import Index

    rows = unit_rows_f16(mat)
    count = int(rows.shape[0])
    index = Index(
        ndim=dims,
        metric="cos",
        connectivity=16,
        expansion_add=200,
        expansion_search=ef_search,
        dtype=HNSW_DTYPE,
    )
    # copy=False: the graph points into ``rows`` instead of holding a second f16 copy (the
    # same saved bytes, checked); ``rows`` lives until the graph is saved
    index.add(np.arange(count, dtype=np.uint64), rows, threads=HNSW_ADD_THREADS, copy=False)
    tmp = writer.dir / "dense_vectors_hnsw.usearch.tmp"
    index.save(str(tmp))
    del index, rows  # the graph and its vectors: the saved file is streamed, never held whole

    def saved() -> Iterator[bytes]:
        with tmp.open("rb") as fh:
            while block := fh.read(HNSW_COPY_BLOCK):
                yield block

    writer.write_stream(
        "dense_vectors_hnsw",
        "dense_vectors_hnsw.usearch",
        saved(),
        type="embeddings",
        format="usearch",
        count=count,
    )
    tmp.unlink()
    writer.write_json(
        "dense_vectors_hnsw_meta",
        {
            "dims": dims,
            "count": count,
            "space": "cosine",
            "m": 16,
            "efConstruction": 200,
            "efSearch": ef_search,
        },
        count=count,
    )


class GraphBuilds:
    """The modes' graph builds, each on its own thread; ``wait`` before the writers they
    write to are read (stage 4, the manifests).

    A job owns its mode's writer until ``wait`` returns: it is submitted once that mode's
    other stage-3 pieces are written. The manifest lists pieces by name, so when a graph
    lands among them does not change any byte. ``close`` drops the jobs not yet started
    and waits for a running one: an insert cannot be interrupted (inline, it held off a
    Ctrl-C just as long), and a cancelled build removes its dir only once nothing writes
    into it.
    """

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="hnsw")
        self._jobs: list[Future[None]] = []

    def submit(self, job: Callable[[], Any]) -> None:
        self._jobs.append(self._pool.submit(job))

    def wait(self) -> None:
        """Every graph written; the first job's error, if any, raised here."""
        for fut in self._jobs:
            fut.result()
        self._jobs.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
