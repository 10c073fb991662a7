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
    lines.extend(_warning_lines(result.get("warnings") or []))
    return "\n".join(lines)


def _warning_lines(warnings: list[Mapping[str, Any]]) -> list[str]:
    """One line per distinct warning, naming the modes it came from.

    The engine warns per mode, so a three-mode search would otherwise print the same
    ``QUERY_RELAXED`` line three times without saying which mode each one is about."""
    modes: dict[tuple[str, str], list[str]] = {}
    for w in warnings:
        key = (str(w.get("code")), str(w.get("message")))
        names = modes.setdefault(key, [])
        mode = w.get("mode")
        if mode is not None and str(mode) not in names:
            names.append(str(mode))
    lines = []
    for (code, message), names in modes.items():
        where = f" ({', '.join(names)})" if names else ""
        lines.append(f"warning {code}{where}: {message}")
    return lines
