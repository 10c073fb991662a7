"""The key a caller meant when a search request (HTTP body, MCP arguments) has unknown ones.

Both services are strict about keys, which is right, but a bare "unknown argument(s):
filters" leaves an agent guessing: filters are top-level keys, ``compact`` is the MCP
spelling of the API's ``"output": "compact"``, ``limit`` is ``top``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["unknown_keys_hint"]

_FILTERS = ("path", "file", "lang", "ext", "kind", "name", "calls", "import")
#: Common spellings of agents and other search tools → the key here.
_MEANT = {
    "q": "query",
    "text": "query",
    "search": "query",
    "limit": "top",
    "n": "top",
    "k": "top",
    "topK": "top",
    "top_k": "top",
    "maxResults": "top",
    "repo": "repoPath",
    "match": "matchMode",
    "match_mode": "matchMode",
    "language": "lang",
    "languages": "lang",
    "files": "file",
    "paths": "path",
    "kinds": "kind",
    "types": "type",
    "imports": "import",
    "since": "modifiedSince",
    "modified_since": "modifiedSince",
}


def _meant(key: str, accepted: set[str]) -> str | None:
    if key == "compact" and "output" in accepted:
        return '"output": "compact"'
    if key == "output" and "compact" in accepted:
        return '"compact": true'
    if key in ("filters", "filter") and "lang" in accepted:
        listed = ", ".join(_FILTERS)
        return f'top-level filter keys ({listed}, …), e.g. "lang": "python"'
    target = _MEANT.get(key)
    if target is None or target not in accepted:
        close = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.75)
        target = close[0] if close else None
    return f'"{target}"' if target else None


def unknown_keys_hint(unknown: Iterable[str], accepted: Iterable[str]) -> str:
    """``for … use …`` for each unknown key with a likely meaning, else the accepted keys."""
    allowed = set(accepted)
    parts = [f"for {k!r} use {m}" for k in unknown if (m := _meant(k, allowed)) is not None]
    if parts:
        return "; ".join(parts)
    return "accepted: " + ", ".join(sorted(allowed))
