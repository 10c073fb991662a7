"""Query intent (§9.2): code, prose, path or mixed, which picks field weights, the default
match mode and the dense-vector variant.

URLs are removed before anything else, so ``see https://example.com/a/b for setup`` is prose
(upstream called it a path, R1). Everything here is a pure function of the query text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FIELD_WEIGHTS",
    "Intent",
    "IntentType",
    "classify_intent",
    "field_weights",
    "is_path_token",
    "is_segment_path",
    "strip_urls",
    "vector_variant",
]

IntentType = Literal["code", "prose", "path", "mixed"]

URL_RE = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_CODE_PUNCT_RE = re.compile(r"=>|->|::|\+\+|--|\|\||&&|[{}()\[\];:<>.=]")
_CAMEL_RE = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2,}[a-z]")
_WORD_RE = re.compile(r"[A-Za-z]+")
_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")
_EXT_RE = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_SYMBOL_RE = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|->)[A-Za-z_$][\w$]*)*\(?\)?$")
_TRAILING = ".,;:!?)\"'"
_OPERATOR_WORDS = frozenset({"AND", "OR", "NOT"})

FIELD_WEIGHTS: dict[str, dict[str, float]] = {
    "code": {
        "name": 2.0,
        "signature": 1.5,
        "doc": 1.2,
        "comment": 0.6,
        "body": 1.0,
        "keyword": 0.25,
        "operator": 0.05,
    },
    "prose": {
        "name": 1.2,
        "signature": 0.9,
        "doc": 2.1,
        "comment": 1.8,
        "body": 1.7,
        "keyword": 0.2,
        "operator": 0.05,
    },
    "path": {
        "name": 2.4,
        "signature": 1.7,
        "doc": 0.9,
        "comment": 0.4,
        "body": 0.7,
        "keyword": 0.2,
        "operator": 0.05,
    },
    "mixed": {
        "name": 1.8,
        "signature": 1.3,
        "doc": 1.6,
        "comment": 1.2,
        "body": 1.2,
        "keyword": 0.25,
        "operator": 0.05,
    },
}


@dataclass(frozen=True, slots=True)
class Intent:
    """The classification and why (``signals``), as ``--explain`` shows it."""

    type: IntentType
    scores: dict[str, int]
    signals: tuple[str, ...]
    url_count: int

    def to_json(self) -> dict[str, object]:
        return {
            "type": self.type,
            "scores": dict(self.scores),
            "signals": list(self.signals),
            "urlCount": self.url_count,
        }


def strip_urls(query: str) -> tuple[str, int]:
    """The query without URLs, and how many were removed."""
    stripped, count = URL_RE.subn(" ", query)
    return stripped, count


def is_path_token(token: str) -> bool:
    """A path signal of §9.2: ``./x``, ``../x``, ``~/x``, a drive root, ``/seg``, or a token
    with ≥ 2 separators or 1 separator and a dot-extension (``and/or`` is not a path)."""
    tok = token.strip(_TRAILING)
    if tok.startswith(("./", "../", "~/", ".\\", "..\\")) or _DRIVE_RE.match(tok):
        return True
    if len(tok) > 1 and tok[0] == "/" and tok[1].isalnum():
        return True
    seps = tok.count("/") + tok.count("\\")
    if seps >= 2:
        return True
    if seps == 1:
        last = re.split(r"[\\/]", tok)[-1]
        return (bool(_EXT_RE.search(last)) and not last.startswith(".")) or last.count(".") > 1
    return False


_SEGMENT_PATH_RE = re.compile(r"[\w$@.-]*[A-Za-z0-9][\w$@.-]*[\\/][\w$@.-]*[A-Za-z0-9][\w$@.-]*")


def is_segment_path(token: str) -> bool:
    """A term with one separator and no dot-extension (``core/schemas``, ``locales/en``):
    no path signal for §9.2 (``and/or`` is not a path), but it may name files the way an
    import specifier does, so it is matched against file paths at a path-segment start
    (a term no file path holds is an ordinary term)."""
    tok = token.strip(_TRAILING)
    return not is_path_token(tok) and bool(_SEGMENT_PATH_RE.fullmatch(tok))


def classify_intent(query: str, *, phrase_count: int = 0, path_filter: bool = False) -> Intent:
    """Score the query's code, prose and path signals and pick the type (§9.2)."""
    text, urls = strip_urls(query)
    tokens = text.split()
    scores = {"code": 0, "prose": 0, "path": 0}
    signals: list[str] = []
    if path_filter or any(is_path_token(t) for t in tokens):
        scores["path"] += 3
        signals.append("path-filter" if path_filter else "path-token")
    if _CODE_PUNCT_RE.search(text) or any(not any(c.isalnum() for c in t) for t in tokens):
        scores["code"] += 2
        signals.append("code-punctuation")
    if any(_CAMEL_RE.search(t) or "_" in t for t in tokens):
        scores["code"] += 1
        signals.append("identifier-case")
    # AND/OR/NOT (any case) are operators, not words: ``recovery NOT writer`` must classify
    # like ``recovery -writer`` (else it turns prose and its implicit AND stops being hard).
    words = [
        t
        for t in tokens
        if _WORD_RE.fullmatch(t.strip(_TRAILING)) and t.upper() not in _OPERATOR_WORDS
    ]
    if len(words) >= 3:
        scores["prose"] += 2
        signals.append("words")
    if phrase_count >= 2:
        scores["prose"] += 1
        signals.append("phrases")
    symbols = [
        t
        for t in tokens
        if _SYMBOL_RE.match(t) and (_CAMEL_RE.search(t) or "_" in t or "." in t or "::" in t)
    ]
    if len(symbols) >= 2:
        scores["code"] += 1
        signals.append("symbols")
    ranked = sorted(scores.values(), reverse=True)
    top, second = ranked[0], ranked[1]
    kind: IntentType
    if scores["path"] >= 3 and scores["path"] >= max(scores["code"], scores["prose"]):
        kind = "path"
    elif top == 0 or (top >= 2 and top - second <= 1):
        kind = "mixed"
    else:
        kind = "code" if scores["code"] >= scores["prose"] else "prose"
        if scores["code"] == scores["prose"]:
            kind = "mixed"
    return Intent(kind, scores, tuple(signals), urls)


def field_weights(intent: IntentType) -> dict[str, float]:
    """The §9.2 field-weight row for an intent (a fresh copy)."""
    return dict(FIELD_WEIGHTS[intent])


def vector_variant(intent: IntentType, available: tuple[str, ...] = ("merged",)) -> str:
    """Which dense vectors to query: prose → doc, code/path → code, mixed → merged; merged
    whenever the preferred variant was not built."""
    want = {"prose": "doc", "code": "code", "path": "code"}.get(intent, "merged")
    return want if want in available else "merged"
