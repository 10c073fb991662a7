"""Output shapes (§9.6): full JSON hits, ``--compact`` hits, and the text lines.

Only this module formats results; the engine returns full hits and this trims them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "COMPACT_KEYS",
    "compact_result",
    "explain_line",
    "mode_summary",
    "render_text",
    "stats_line",
]

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


def render_text(result: Mapping[str, Any], *, explain: bool = False, stats: bool = False) -> str:
    """One line per hit, ``file:start-end  kind name  score  headline``, grouped by mode;
    with ``stats`` a last ``stats …`` line (``--stats`` must show something without --json)."""
    lines: list[str] = []
    for key, mode in _HIT_LISTS:
        hits = result.get(key) or []
        if not hits:
            continue
        lines.append(f"[{mode}]")
        if explain:
            summary = mode_summary(result.get("stats") or {}, mode)
            if summary:
                lines.append("  " + summary)
        for h in hits:
            span = f"{h.get('file')}:{h.get('startLine')}-{h.get('endLine')}"
            label = " ".join(str(x) for x in (h.get("kind"), h.get("name")) if x)
            lines.append(
                f"{span}  {label}  {_score(h.get('score'))}  {h.get('headline') or ''}".rstrip()
            )
            if explain and "scoreBreakdown" in h:
                lines.append("    " + explain_line(h["scoreBreakdown"]))
    if not lines:
        lines.append("no results")
    lines.extend(_warning_lines(result.get("warnings") or []))
    if stats and result.get("stats"):
        lines.append(stats_line(result["stats"]))
    return "\n".join(lines)


def stats_line(st: Mapping[str, Any]) -> str:
    """``stats backend memory · ann auto · 12.3 ms · cache miss · rss 240.1 MB · parse > …``."""
    parts = [f"backend {st.get('backend', '-')}", f"ann {st.get('annBackend', '-')}"]
    if isinstance(st.get("elapsedMs"), int | float):
        parts.append(f"{st['elapsedMs']:.1f} ms")
    cache = st.get("cache")
    if isinstance(cache, Mapping) and "hit" in cache:
        parts.append("cache hit" if cache["hit"] else "cache miss")
    memory = st.get("memory")
    if isinstance(memory, Mapping) and isinstance(memory.get("rssMb"), int | float):
        parts.append(f"rss {memory['rssMb']:.1f} MB")
    if st.get("pipeline"):
        parts.append(" > ".join(str(x) for x in st["pipeline"]))
    return "stats " + " · ".join(parts)


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


def explain_line(bd: Mapping[str, Any]) -> str:
    """A hit's ``scoreBreakdown`` as one line: how the score was made, then each boost.

    ``rrf 0.0371 = sparse #2 bm25-fielded 25.2711 + dense #2 0.2531 · definition ×1.15``: a
    reader sees which list ranked the hit where without reading the JSON.
    """
    sel = bd.get("selected") or {}
    head = f"{sel.get('type')} {_score(sel.get('score'))}"
    parts: list[str] = []
    sparse, ann = bd.get("sparse"), bd.get("ann")
    if sparse:
        parts.append(
            f"sparse{_rank(sparse.get('rank'))} {sparse.get('type')} {_score(sparse.get('score'))}"
        )
    if ann:
        parts.append(
            f"{ann.get('source') or 'dense'}{_rank(ann.get('rank'))} {_score(ann.get('score'))}"
        )
    if len(parts) > 1 or (parts and sel.get("type") in ("rrf", "blend")):
        head += " = " + " + ".join(parts)
    extras: list[str] = []
    phrase = bd.get("phrase")
    if phrase:
        n = phrase.get("matches")
        extras.append(f"phrase {n} match{'es' if n != 1 else ''} +{_pct(phrase.get('factor'))}")
    sym = bd.get("symbol")
    if sym:
        what = [
            w
            for w, on in (("definition", sym.get("definition")), ("exported", sym.get("export")))
            if on
        ]
        if sym.get("name"):
            what.append(f"name {sym['name']}")
        extras.append(f"{' '.join(what) or 'symbol'} ×{_factor(sym.get('factor'))}")
    return " · ".join([head, *extras])


def mode_summary(stats: Mapping[str, Any], mode: str) -> str:
    """``stats.explain``'s facts about one mode on one line (empty when not explained)."""
    ex = stats.get("explain") or {}
    m = (ex.get("modes") or {}).get(mode)
    if not m:
        return ""
    bits: list[str] = []
    intent = ex.get("intent") or {}
    if intent.get("type"):
        signals = ", ".join(intent.get("signals") or [])
        bits.append(f"intent {intent['type']}" + (f" ({signals})" if signals else ""))
    if m.get("matchMode"):
        bits.append(f"match {m['matchMode']}")
    for key in ("candidates", "allowed"):
        if isinstance(m.get(key), int):
            bits.append(f"{m[key]:,} {key}")
    steps = (m.get("relaxed") or {}).get("steps") or []
    if steps:
        bits.append("relaxed: " + ", ".join(map(str, steps)))
    for term, exps in sorted((m.get("expansions") or {}).items()):
        toks = ", ".join(str(e.get("token")) for e in exps if isinstance(e, Mapping))
        bits.append(f"{term} → {toks or '(none)'}")
    for term, pieces in sorted((m.get("splits") or {}).items()):
        bits.append(f"{term} → {' '.join(map(str, pieces))}")
    if isinstance(m.get("pathMatches"), int):
        bits.append(f"{m['pathMatches']:,} path matches")
    return " · ".join(bits)


def _rank(rank: Any) -> str:
    return f" #{rank}" if isinstance(rank, int) else ""


def _pct(factor: Any) -> str:
    return f"{factor * 100:.0f}%" if isinstance(factor, int | float) else "-"


def _factor(factor: Any) -> str:
    return f"{factor:.3g}" if isinstance(factor, int | float) else "-"
