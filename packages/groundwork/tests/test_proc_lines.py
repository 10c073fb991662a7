"""LineSplitter: any chunking of any byte stream gives the same capped lines."""

from __future__ import annotations

import itertools

import pytest
from groundwork.proc.lines import LineSplitter
from hypothesis import given
from hypothesis import strategies as st


def reference(data: bytes, cap: int) -> list[bytes]:
    parts = data.split(b"\n")
    last = parts.pop()
    out: list[bytes] = []
    for line in [*parts, *([last] if last else [])]:
        if line.endswith(b"\r"):
            line = line[:-1]
        out.extend([line[i : i + cap] for i in range(0, len(line), cap)] or [b""])
    return out


def run(splitter: LineSplitter, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    return out + splitter.flush()


_bytes = st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r", b"\r\n", b"xyz"]), max_size=60).map(
    b"".join
)


@given(_bytes, st.lists(st.integers(0, 70), max_size=8), st.integers(1, 12))
def test_any_chunking_matches_reference(data: bytes, cuts: list[int], cap: int) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert run(LineSplitter(cap), chunks) == reference(data, cap)


@given(_bytes, st.integers(1, 12))
def test_bytewise_feeding_never_buffers_past_the_cap(data: bytes, cap: int) -> None:
    splitter = LineSplitter(cap)
    out: list[bytes] = []
    for i in range(len(data)):
        out.extend(splitter.feed(data[i : i + 1]))
        assert len(splitter._buf) <= cap + 1
    assert out + splitter.flush() == reference(data, cap)


def test_examples() -> None:
    s = LineSplitter(4)
    assert s.feed(b"ab\r\ncd") == [b"ab"]
    assert s.feed(b"efghij\n") == [b"cdef", b"ghij"]
    assert s.feed(b"\n") == [b""]
    assert s.flush() == []
    assert s.feed(b"tail\r") == []
    assert s.flush() == [b"tail"]
    with pytest.raises(ValueError):
        LineSplitter(0)
