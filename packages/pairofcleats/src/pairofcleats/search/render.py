"""Output shapes (§9.6): full JSON hits, ``--compact`` hits, and the text lines.

Only this module formats results; the engine returns full hits and this trims them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["COMPACT_KEYS", "compact_result", "render_text"]

COMPACT_KEYS = (
    "id",
    "file",
    "start",
    "end",
    "startLine",
    "endLine",
    "ext",
    "kind",
    "name",
    "headline",
    "score",
    "scoreType",
    "sparseScore",
    "sparseType",
    "annScore",
    "annSource",
    "annType",
)
_HIT_LISTS = (("code", "code"), ("prose", "prose"), ("extractedProse", "extracted-prose"))


def compact_hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the §9.6 compact keys (plus ``scoreBreakdown`` when explained)."""
    out = {k: hit.get(k) for k in COMPACT_KEYS}
    if "scoreBreakdown" in hit:
        out["scoreBreakdown"] = hit["scoreBreakdown"]
    return out


def compact_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The result object with every hit list compacted."""
    out = dict(result)
    for key, _mode in _HIT_LISTS:
        out[key] = [compact_hit(h) for h in result.get(key, [])]
    return out


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def render_text(result: Mapping[str, Any], *, explain: bool = False) -> str:
    """One line per hit, ``file:start-end  kind name  score  headline``, grouped by mode."""
    lines: list[str] = []
    for key, mode in _HIT_LISTS:
        hits = result.get(key) or []
        if not hits:
            continue
        lines.append(f"[{mode}]")
        for h in hits:
            span = f"{h.get('file')}:{h.get('startLine')}-{h.get('endLine')}"
            label = " ".join(str(x) for x in (h.get("kind"), h.get("name")) if x)
            lines.append(
                f"{span}  {label}  {_score(h.get('score'))}  {h.get('headline') or ''}".rstrip()
            )
            if explain and "scoreBreakdown" in h:
                sel = h["scoreBreakdown"]["selected"]
                lines.append(f"    {sel['type']} {_score(sel['score'])}")
    if not lines:
        lines.append("no results")
    for w in result.get("warnings") or []:
        lines.append(f"warning {w.get('code')}: {w.get('message')}")
    return "\n".join(lines)
