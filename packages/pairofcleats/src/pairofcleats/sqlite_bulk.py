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
from collections.abc import Sequence
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

Column = Sequence[Any] | npt.NDArray[Any]


def _values(ncols: int, rows: int) -> str:
    one = "(" + ",".join("?" * ncols) + ")"
    return ",".join([one] * rows)


def insert_columns(con: sqlite3.Connection, table: str, columns: Sequence[Column]) -> int:
    """Insert ``zip(*columns)`` into ``table`` (all its columns, in order); returns rows.

    A column is a list or a 1-d numpy array (converted to Python scalars per block)."""
    ncols = len(columns)
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError(f"{table}: columns differ in length")
    limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(ROWS_PER_STMT, limit // ncols))
    step = per * ncols
    full_sql = f"INSERT INTO {table} VALUES {_values(ncols, per)}"
    block = max(BLOCK_ROWS // per, 1) * per
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
    packed = np.zeros(n, dtype=np.int64)
    exprs: list[str] = []
    shift = sum(widths)
    for col, width in zip(cols, widths, strict=True):
        shift -= width
        packed |= col.astype(np.int64) << shift
        mask = (1 << width) - 1
        exprs.append(f"(value >> {shift}) & {mask}" if shift else f"value & {mask}")
    marks = ["?"] * len(const)
    sql = f"INSERT INTO {table} SELECT {', '.join([*marks, *exprs])} FROM json_each(?)"
    for lo in range(0, n, PACKED_ROWS):
        text = orjson.dumps(packed[lo : lo + PACKED_ROWS], option=orjson.OPT_SERIALIZE_NUMPY)
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


def posting_columns(postings: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any], Any]:
    """``token_id, doc_id, tf`` columns, one row per posting (token ids = list positions)."""
    bounds, docs, tfs = csr(postings)
    tids = np.repeat(np.arange(len(bounds) - 1, dtype=np.int64), np.diff(bounds))
    if tfs is None:
        if len(docs):
            raise ValueError("posting lists carry no term frequencies")
        tfs = docs
    return tids, docs, tfs


class DocBlobs(Sequence[bytes]):
    """One ``<u4`` blob of ascending doc ids per entry, cut from one packed buffer only for
    the slice being inserted (``bytes`` slices: a memoryview slice costs ~1.5 µs each)."""

    __slots__ = ("data", "edges")

    def __init__(self, postings: Any) -> None:
        bounds, docs, _tfs = csr(postings)
        self.data = np.ascontiguousarray(docs, dtype="<u4").tobytes()
        self.edges = bounds * 4

    def __len__(self) -> int:
        return max(len(self.edges) - 1, 0)

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(self))
            if step != 1:
                raise ValueError("DocBlobs slices are contiguous")
            data = self.data
            edges = self.edges[lo : max(hi, lo) + 1].tolist()
            return [data[a:b] for a, b in itertools.pairwise(edges)]
        n = len(self)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError("DocBlobs index out of range")
        a, b = self.edges[j : j + 2].tolist()
        return self.data[a:b]


class RowBlobs(Sequence[bytes]):
    """Row ``i`` of a 2-d array as one blob of its bytes (``<u4`` MinHash signatures, uint8
    vectors), cut from one buffer only for the slice being inserted."""

    __slots__ = ("data", "rows", "width")

    def __init__(self, matrix: npt.NDArray[Any]) -> None:
        arr = np.ascontiguousarray(matrix)
        self.rows = int(arr.shape[0])
        self.width = int(arr.strides[0]) if arr.ndim == 2 and self.rows else 0
        self.data = arr.tobytes()

    def __len__(self) -> int:
        return self.rows

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        data, w = self.data, self.width
        if isinstance(i, slice):
            lo, hi, step = i.indices(self.rows)
            if step != 1:
                raise ValueError("RowBlobs slices are contiguous")
            return [data[r * w : (r + 1) * w] for r in range(lo, hi)]
        j = i + self.rows if i < 0 else i
        if not 0 <= j < self.rows:
            raise IndexError("RowBlobs index out of range")
        return data[j * w : (j + 1) * w]


def phrase_blocks(
    vocab: list[str], postings: Any
) -> tuple[range, list[str], list[str], list[bytes], list[bytes]]:
    """Phrase n-grams in blocks of :data:`PHRASE_BLOCK` consecutive (sorted) entries:
    ``(block ids, first phrase of each block, PHRASE_SEP-joined phrases, <u4 bounds of
    each phrase's doc ids within the block, <u4 doc ids)``.

    Most phrases occur in one chunk, so a row per phrase (twice: vocab and postings) was
    the largest load of a code db; per block, one vocab row keys the block by its first
    phrase and a lookup reads the last block whose key is <= the phrase (see
    ``decode_phrase_block``)."""
    bounds, docs, _tfs = csr(postings)
    data = np.ascontiguousarray(docs, dtype="<u4")
    n = len(vocab)
    starts = range(0, n, PHRASE_BLOCK)
    firsts = [vocab[lo] for lo in starts]
    texts = [PHRASE_SEP.join(vocab[lo : lo + PHRASE_BLOCK]) for lo in starts]
    bnds: list[bytes] = []
    blobs: list[bytes] = []
    for lo in starts:
        b = bounds[lo : min(lo + PHRASE_BLOCK, n) + 1]
        bnds.append((b - b[0]).astype("<u4").tobytes())
        blobs.append(data[b[0] : b[-1]].tobytes())
    return range(len(firsts)), firsts, texts, bnds, blobs
