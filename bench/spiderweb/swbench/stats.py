"""Pure figure arithmetic: percentiles, rates, ratios (no I/O, no clocks)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); ``nan`` for no values.

    Nearest rank always returns an observed value, so p99 of 100 samples is
    the 99th smallest, never an interpolation between two turns.
    """
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be in 0..100, got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(value: float, baseline: float) -> float:
    """``value / baseline``; ``nan`` when the baseline is zero or missing."""
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return math.nan
    return value / baseline


def rate(count: int, seconds: float) -> float:
    """Events per second (``0.0`` for an empty interval)."""
    return count / seconds if seconds > 0 else 0.0


def growth_pct(start: float, end: float) -> float:
    """Relative growth from ``start`` to ``end`` in percent."""
    if start <= 0:
        return math.nan
    return (end - start) / start * 100.0


def merge_counts(*counts: dict[str, int]) -> dict[str, int]:
    """Sum several ``{name: n}`` maps (the shards of one load run)."""
    total: dict[str, int] = {}
    for part in counts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items()))
