"""``swbench.stats``: the percentile and counting arithmetic behind every figure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from swbench import stats

pytestmark = pytest.mark.slow

samples = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200)


@given(samples, st.floats(0, 100))
def test_percentile_is_an_observed_value_with_its_rank(values: list[float], q: float) -> None:
    p = stats.percentile(values, q)
    assert p in values
    at_or_below = sum(1 for v in values if v <= p)
    assert at_or_below >= math.ceil(q / 100 * len(values))


@given(samples, st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_monotonic_in_q(values: list[float], a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert stats.percentile(values, lo) <= stats.percentile(values, hi)


def test_percentile_edges() -> None:
    assert math.isnan(stats.percentile([], 50))
    assert stats.percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert stats.percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert stats.percentile(list(range(1, 101)), 99) == 99
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


@given(st.lists(st.dictionaries(st.sampled_from("abc"), st.integers(0, 100)), max_size=5))
def test_merge_counts_sums_every_key(parts: list[dict[str, int]]) -> None:
    total = stats.merge_counts(*parts)
    for key in "abc":
        assert total.get(key, 0) == sum(p.get(key, 0) for p in parts)


def test_ratio_rate_growth() -> None:
    assert stats.ratio(3.0, 1.5) == 2.0
    assert math.isnan(stats.ratio(1.0, 0.0))
    assert stats.rate(10, 2.0) == 5.0 and stats.rate(10, 0.0) == 0.0
    assert stats.growth_pct(100.0, 110.0) == pytest.approx(10.0)
    assert math.isnan(stats.growth_pct(0.0, 1.0))
