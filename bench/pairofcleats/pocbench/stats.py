"""Percentiles and figure rows (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def row(
    name: str,
    value: float,
    unit: str,
    baseline: str | None = None,
    ratio: float | None = None,
    *,
    target: str | None = None,
    met: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One figure: ``ratio`` is value/baseline unless the row says otherwise; ``target`` is
    the §13 target text and ``met`` whether this run meets it (None: no target on the row)."""
    out: dict[str, Any] = {"name": name, "value": round(value, 3), "unit": unit}
    out["baseline"] = baseline
    out["ratio"] = None if ratio is None else float(f"{ratio:.4g}")
    if target is not None:
        out["target"] = target
        out["met"] = met
    out.update(extra)
    return out
