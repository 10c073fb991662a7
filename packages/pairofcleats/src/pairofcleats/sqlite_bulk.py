"""Bulk loading for stage 4: multi-row ``INSERT … VALUES`` straight from column arrays.

Measured on a 723k-row ``token_postings`` load, ``executemany`` with one row per
statement costs ~0.7 µs a row, of which SQLite's B-tree append is only ~0.14 µs: the
rest is per-statement work (bind, step, reset) in the ``sqlite3`` module. Statements of
:data:`ROWS_PER_STMT` rows cut that 3x. Values are flattened a block at a time
(row-major, by strided list assignment in C), so a load holds at most one block of
Python objects instead of every row as a tuple.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import orjson

from pairofcleats.postings import PostingLists

#: Rows per statement: past ~256 the gain flattens (measured 64: 0.185 s, 256: 0.162 s,
#: 1024: 0.155 s for 723k rows).
ROWS_PER_STMT = 512
#: Phrases per ``phrase_postings`` block (a medium repo has ~3M phrases, most in one doc).
PHRASE_BLOCK = 256
#: Separator of a block's phrases: tokens never hold a character <= U+0020.
PHRASE_SEP = "\n"
#: Rows flattened to Python objects at once.
BLOCK_ROWS = 65_536
#: ... for rows of a few KB (phrase blocks, signatures, vectors): a few MB at once.
WIDE_BLOCK_ROWS = 2048

Column = Sequence[Any] | npt.NDArray[Any]


def _values(ncols: int, rows: int) -> str:
    one = "(" + ",".join("?" * ncols) + ")"
    return ",".join([one] * rows)


def insert_columns(
    con: sqlite3.Connection,
    table: str,
    columns: Sequence[Column],
    block_rows: int = BLOCK_ROWS,
) -> int:
    """Insert ``zip(*columns)`` into ``table`` (all its columns, in order); returns rows.

    A column is a list, a 1-d numpy array (converted to Python scalars per block) or any
    sequence that makes a slice on demand (:class:`Slices`); ``block_rows`` rows are read
    from the columns at once (fewer for wide rows, to hold less)."""
    ncols = len(columns)
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError(f"{table}: columns differ in length")
    limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(ROWS_PER_STMT, limit // ncols))
    step = per * ncols
    full_sql = f"INSERT INTO {table} VALUES {_values(ncols, per)}"
    block = max(block_rows // per, 1) * per
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        flat: list[Any] = [None] * ((hi - lo) * ncols)
        for j, col in enumerate(columns):
            part = col[lo:hi]
            flat[j::ncols] = part.tolist() if isinstance(part, np.ndarray) else part
        whole = (len(flat) // step) * step
        con.executemany(full_sql, (flat[i : i + step] for i in range(0, whole, step)))
        if whole < len(flat):
            rest = (len(flat) - whole) // ncols
            con.execute(f"INSERT INTO {table} VALUES {_values(ncols, rest)}", flat[whole:])
    return n


#: Rows per ``json_each`` statement of :func:`insert_packed` (a few MB of JSON text).
PACKED_ROWS = 262_144


def insert_packed(
    con: sqlite3.Connection,
    table: str,
    columns: Sequence[npt.NDArray[Any]],
    const: Sequence[Any] = (),
) -> int:
    """Insert rows ``(*const, *zip(*columns))`` of non-negative integer columns; returns rows.

    Each row's integers are packed into one int64 and a block of rows goes in as one JSON
    array unpacked by ``json_each`` with shifts and masks, so SQLite reads the values itself
    (one bound parameter per block instead of one per value, and the GIL is free while it
    runs). Columns too wide to pack into 63 bits go through :func:`insert_columns`."""
    n = len(columns[0]) if columns else 0
    if any(len(c) != n for c in columns):
        raise ValueError(f"{table}: columns differ in length")
    if n == 0:
        return 0
    cols = [np.asarray(c) for c in columns]
    ints = all(c.dtype.kind in "iub" for c in cols)
    widths = [int(c.max()).bit_length() if ints and c.min() >= 0 else 64 for c in cols]
    if not ints or sum(widths) > 63:
        return insert_columns(con, table, [*([v] * n for v in const), *cols])
    shifts: list[int] = []
    exprs: list[str] = []
    shift = sum(widths)
    for width in widths:
        shift -= width
        shifts.append(shift)
        mask = (1 << width) - 1
        exprs.append(f"(value >> {shift}) & {mask}" if shift else f"value & {mask}")
    marks = ["?"] * len(const)
    sql = f"INSERT INTO {table} SELECT {', '.join([*marks, *exprs])} FROM json_each(?)"
    for lo in range(0, n, PACKED_ROWS):
        # packed a block at a time: whole-column int64 temporaries were 4 arrays of the
        # postings' size at a code db's peak
        hi = min(lo + PACKED_ROWS, n)
        packed = np.zeros(hi - lo, dtype=np.int64)
        for col, sh in zip(cols, shifts, strict=True):
            packed |= col[lo:hi].astype(np.int64) << sh
        text = orjson.dumps(packed, option=orjson.OPT_SERIALIZE_NUMPY)
        con.execute(sql, (*const, text.decode("ascii")))
    return n


def csr(postings: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any], npt.NDArray[Any] | None]:
    """``(bounds, docs, tfs)`` of posting lists: a :class:`PostingLists` as it is (no Python
    lists), plain ``[[docId, tf], …]`` / ``[docId, …]`` lists packed once."""
    if isinstance(postings, PostingLists):
        b = np.asarray(postings.bounds, dtype=np.int64)
        lo, hi = (int(b[0]), int(b[-1])) if len(b) else (0, 0)
        tfs = None if postings.tfs is None else postings.tfs[lo:hi]
        return b - lo, postings.docs[lo:hi], tfs
    lengths = np.fromiter(map(len, postings), dtype=np.int64, count=len(postings))
    bounds = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    total = int(bounds[-1])
    if total and not isinstance(postings[int(np.flatnonzero(lengths)[0])][0], int):
        pairs = np.array([p for lst in postings for p in lst], dtype=np.int64).reshape(-1, 2)
        return bounds, pairs[:, 0], pairs[:, 1]
    flat = np.fromiter((d for lst in postings for d in lst), dtype=np.int64, count=total)
    return bounds, flat, None


def posting_columns(postings: Any) -> tuple[npt.NDArray[Any], npt.NDArray[Any], Any]:
    """``token_id, doc_id, tf`` columns, one row per posting (token ids = list positions)."""
    bounds, docs, tfs = csr(postings)
    ids = np.arange(len(bounds) - 1, dtype=np.int32 if len(bounds) < 2**31 else np.int64)
    tids = np.repeat(ids, np.diff(bounds))
    if tfs is None:
        if len(docs):
            raise ValueError("posting lists carry no term frequencies")
        tfs = docs
    return tids, docs, tfs


def _span(i: int | slice, n: int, what: str) -> tuple[int, int]:
    """``[lo, hi)`` of an index or a contiguous slice into a column of ``n`` values."""
    if isinstance(i, slice):
        lo, hi, step = i.indices(n)
        if step != 1:
            raise ValueError(f"{what} slices are contiguous")
        return lo, max(hi, lo)
    j = i + n if i < 0 else i
    if not 0 <= j < n:
        raise IndexError(f"{what} index out of range")
    return j, j + 1


def _as_u4(docs: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``docs`` as contiguous ``<u4`` (a view of 32-bit ids, the bytes ``astype`` gives)."""
    a = np.ascontiguousarray(docs)
    if a.dtype in (np.dtype("<u4"), np.dtype("<i4")):
        return a.view("<u4")
    return a.astype("<u4")


class Slices(Sequence[Any]):
    """A column whose values are made a contiguous slice at a time, which is how
    ``insert_columns`` reads it: a load holds one block of them, not the whole column."""

    __slots__ = ("make", "n", "what")

    def __init__(self, n: int, make: Callable[[int, int], list[Any]], what: str) -> None:
        self.n, self.make, self.what = n, make, what

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        lo, hi = _span(i, self.n, self.what)
        part = self.make(lo, hi)
        return part if isinstance(i, slice) else part[0]


def _cut(data: bytes, offsets: list[int]) -> list[bytes]:
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


def doc_blobs(postings: Any) -> Slices:
    """One ``<u4`` blob of ascending doc ids per posting list. Blobs are cut (as ``bytes``
    slices: a memoryview slice costs ~1.5 us each) from one ``tobytes`` of the slice being
    inserted, so no copy of all the doc ids is held."""
    bounds, docs, _tfs = csr(postings)
    data = _as_u4(docs)

    def make(lo: int, hi: int) -> list[bytes]:
        edges = bounds[lo : hi + 1]
        if not len(edges):
            return []
        e0 = int(edges[0])
        return _cut(data[e0 : int(edges[-1])].tobytes(), ((edges - e0) * 4).tolist())

    return Slices(max(len(bounds) - 1, 0), make, "doc blobs")


def row_blobs(matrix: npt.NDArray[Any]) -> Slices:
    """Row ``i`` of a 2-d array as one blob of its bytes (``<u4`` MinHash signatures,
    uint8 vectors), cut from one ``tobytes`` of the slice being inserted."""
    arr = np.ascontiguousarray(matrix)
    rows = int(arr.shape[0])
    width = int(arr.strides[0]) if arr.ndim == 2 and rows else 0

    def make(lo: int, hi: int) -> list[bytes]:
        return _cut(arr[lo:hi].tobytes(), list(range(0, (hi - lo) * width + 1, width or 1)))

    return Slices(rows, make, "row blobs")


def phrase_blocks(
    vocab: list[str], postings: Any
) -> tuple[range, list[str], Slices, Slices, Slices]:
    """Phrase n-grams in blocks of :data:`PHRASE_BLOCK` consecutive (sorted) entries:
    ``(block ids, first phrase of each block, PHRASE_SEP-joined phrases, <u4 bounds of
    each phrase's doc ids within the block, <u4 doc ids)``; the last three are made a
    slice of blocks at a time (joined, they were ~130 MB of a medium code db's load).

    Most phrases occur in one chunk, so a row per phrase (twice: vocab and postings) was
    the largest load of a code db; per block, one vocab row keys the block by its first
    phrase and a lookup reads the last block whose key is <= the phrase (see
    ``decode_phrase_block``)."""
    bounds, docs, _tfs = csr(postings)
    data = _as_u4(docs)
    n = len(vocab)
    starts = range(0, n, PHRASE_BLOCK)
    firsts = [vocab[lo] for lo in starts]

    def texts(lo: int, hi: int) -> list[str]:
        return [PHRASE_SEP.join(vocab[s : s + PHRASE_BLOCK]) for s in starts[lo:hi]]

    def block_bounds(lo: int, hi: int) -> list[bytes]:
        out = []
        for s in starts[lo:hi]:
            b = bounds[s : min(s + PHRASE_BLOCK, n) + 1]
            out.append((b - b[0]).astype("<u4").tobytes())
        return out

    def block_docs(lo: int, hi: int) -> list[bytes]:
        return [data[bounds[s] : bounds[min(s + PHRASE_BLOCK, n)]].tobytes() for s in starts[lo:hi]]

    k = len(firsts)
    return (
        range(k),
        firsts,
        Slices(k, texts, "phrase texts"),
        Slices(k, block_bounds, "phrase bounds"),
        Slices(k, block_docs, "phrase docs"),
    )
