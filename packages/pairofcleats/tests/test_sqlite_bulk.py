"""Stage 4's lazily made columns load the same rows as whole lists would."""

from __future__ import annotations

import sqlite3

import numpy as np
import pairofcleats.sqlite_bulk as bulk
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pairofcleats.sqlite_bulk import Slices, doc_blobs, insert_columns, insert_packed, row_blobs


def test_slices_index_and_slice_like_a_list() -> None:
    calls: list[tuple[int, int]] = []

    def make(lo: int, hi: int) -> list[int]:
        calls.append((lo, hi))
        return [i * i for i in range(lo, hi)]

    col = Slices(5, make, "squares")
    assert len(col) == 5 and col[2] == 4 and col[-1] == 16
    assert col[1:4] == [1, 4, 9] and col[3:99] == [9, 16] and col[4:2] == []
    assert list(col) == [0, 1, 4, 9, 16]
    with pytest.raises(IndexError, match="squares index out of range"):
        col[5]
    with pytest.raises(ValueError, match="squares slices are contiguous"):
        col[::2]


@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=6), max_size=40))
def test_doc_blobs_are_each_lists_u4_bytes(lists: list[list[int]]) -> None:
    blobs = doc_blobs([sorted(set(x)) for x in lists])
    want = [np.asarray(sorted(set(x)), dtype="<u4").tobytes() for x in lists]
    assert len(blobs) == len(want) and blobs[:] == want
    if want:
        assert blobs[len(want) - 1] == want[-1] and blobs[1:3] == want[1:3]


def test_row_blobs_and_wide_blocks_insert_every_row() -> None:
    mat = np.arange(5 * 3, dtype="<u4").reshape(5, 3)
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    assert insert_columns(con, "t", [range(5), row_blobs(mat)], block_rows=2) == 5
    got = [np.frombuffer(b, "<u4").tolist() for (b,) in con.execute("SELECT v FROM t ORDER BY id")]
    assert got == mat.tolist()
    assert row_blobs(np.zeros((0, 4), dtype="<u4"))[:] == []


@given(st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 2**20)), max_size=600))
def test_insert_packed_in_blocks_keeps_every_value(rows: list[tuple[int, int]]) -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t(k TEXT, a INTEGER, b INTEGER)")
    cols = [np.asarray([r[i] for r in rows], dtype=np.int32) for i in range(2)]
    old, bulk.PACKED_ROWS = bulk.PACKED_ROWS, 7  # several blocks
    try:
        assert insert_packed(con, "t", cols, ("x",)) == len(rows)
    finally:
        bulk.PACKED_ROWS = old
    assert con.execute("SELECT k, a, b FROM t ORDER BY rowid").fetchall() == [
        ("x", a, b) for a, b in rows
    ]
