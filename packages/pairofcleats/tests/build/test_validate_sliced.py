"""Sliced parsing of docId-list pieces gives the verdicts of parsing them whole."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pairofcleats.build import validate


def _report(name: str, data: bytes, n: int, sliced: bool) -> list[dict[str, Any]]:
    rep = validate._Report()
    if sliced:
        value = validate._sliced(data)
        assert value is not None
    else:
        value = orjson.loads(data)
    validate._check_vocab(rep, "code", name, value["vocab"])
    validate._check_postings(rep, "code", name, value["postings"], n, False)
    return rep.issues


lists = st.lists(st.lists(st.integers(min_value=0, max_value=60), max_size=6), max_size=30)


@given(lists, st.integers(min_value=1, max_value=64))
@settings(max_examples=200, deadline=None)
def test_sliced_verdicts_equal_whole_parse(postings: list[list[int]], slice_bytes: int) -> None:
    vocab = [f"t{i:03d}" for i in range(len(postings))]
    data = orjson.dumps({"postings": postings, "vocab": vocab}, option=orjson.OPT_SORT_KEYS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "_SLICE_BYTES", slice_bytes)
        got = _report("phrase_ngrams", data, 50, sliced=True)
        value = validate._sliced(data)
    assert got == _report("phrase_ngrams", data, 50, sliced=False)
    assert value is not None
    assert value["postings"].lengths.tolist() == [len(p) for p in postings]
    assert value["postings"].docs.tolist() == [d for p in postings for d in p]


@pytest.mark.parametrize(
    "data",
    [
        b'{"postings":[[1,-2]],"vocab":["a"]}',  # a negative docId: parsed whole, reported
        b'{"postings":[[1,[2]]],"vocab":["a"]}',  # nested: parsed whole, malformed
        b'{"postings":[[1]],"stats":{},"vocab":["a"]}',  # another key between
        b'{"postings":[[1]],"vocab":["a"],"x":1}',  # a key after vocab
        b'{"vocab":["a"],"postings":[[1]]}',  # not canon order
    ],
)
def test_unusual_layouts_fall_back_to_the_whole_parse(data: bytes) -> None:
    assert validate._sliced(data) is None


def test_empty_postings_slice_to_empty_arrays() -> None:
    value = validate._sliced(b'{"postings":[],"vocab":[]}')
    assert value is not None
    assert value["vocab"] == []
    assert value["postings"].lengths.size == 0
    assert np.array_equal(value["postings"].docs, np.zeros(0, dtype=np.int64))


def test_docids_far_apart_are_compared_not_subtracted() -> None:
    # their difference does not fit in 64 bits: subtracted, it wrapped to a negative step
    # and read as an order error; compared, they ascend and the range check reports them
    rep = validate._Report()
    postings = validate.FlatPostings(
        np.array([2], dtype=np.int64), np.array([-(2**62) - 5, 2**62 + 5], dtype=np.int64)
    )
    validate._check_postings(rep, "code", "phrase_ngrams", postings, 10, False)
    assert [i["code"] for i in rep.issues] == ["POSTINGS_RANGE"]


def test_sliced_arrays_are_filled_exactly() -> None:
    data = b'{"postings":[[0,3],[],[1],[2,4,5]],"vocab":["a","b","c","d"]}'
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "_SLICE_BYTES", 3)
        value = validate._sliced(data)
    assert value is not None
    assert value["postings"].lengths.tolist() == [2, 0, 1, 3]
    assert value["postings"].docs.tolist() == [0, 3, 1, 2, 4, 5]
