"""Line windows: cuts near blank lines, linear splitting (§4, §15 B2)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from pairofcleats.lang.model import ChunkingLimits
from pairofcleats.lang.windows import window_bounds, window_chunks


def test_cut_lands_on_nearby_blank_line() -> None:
    lines = [f"line {i}" for i in range(200)]
    lines[84] = ""
    bounds = window_bounds(lines, 0, 199, 80, 1 << 20)
    assert bounds[0] == (0, 84)


@given(st.lists(st.sampled_from(["", "x = 1", "word"]), min_size=1, max_size=400))
def test_windows_partition_the_range(lines: list[str]) -> None:
    bounds = window_bounds(lines, 0, len(lines) - 1, 80, 1 << 20)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == len(lines) - 1
    for (_, e), (s2, _) in itertools.pairwise(bounds):
        assert s2 == e + 1
    assert all(e - s + 1 <= 90 for s, e in bounds)


def test_window_chunks_skip_empty_windows() -> None:
    lines = ["text"] + [""] * 200
    chunks = window_chunks(lines, "Section", "notes", "text", ChunkingLimits())
    assert len(chunks) == 1
