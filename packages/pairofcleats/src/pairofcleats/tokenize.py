"""Tokenization shared by the build and the query side (§5).

``split_id`` turns identifiers and text into lowercase sub-words; code adds
punctuation tokens; prose drops the packaged English stopwords and posts each
token's Snowball stem as an extra token. The search side imports this module, so
it must stay free of tree-sitter and other heavy imports.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Bumped whenever any rule here changes: it feeds the compatibilityKey.
TOKENIZER_VERSION = 1

MAX_PUNCT_PER_CHUNK = 20_000

_WORD_RE = re.compile(r"[^\W_]+")
_RAW_RE = re.compile(r"\w+")
PUNCT_RE = re.compile(r"[=<>!:+\-*/%&|^~.?]{1,4}|[()\[\]{}.,;:]")


def _classes(word: str) -> list[int]:
    """Character classes for boundary detection: 0 lower/other, 1 upper, 2 digit."""
    out = []
    for ch in word:
        if ch.isdigit():
            out.append(2)
        elif ch.isupper():
            out.append(1)
        else:
            out.append(0)
    return out


def _split_word(word: str) -> tuple[str, ...]:
    """Split one run of letters/digits at lower→upper and acronym ends.

    Digits stay with the letters before them (``md5Sum`` → md5|sum).
    """
    if word.isascii() and (word.islower() or word.isdigit()):
        return (word,)
    cls = _classes(word)
    parts: list[str] = []
    start = 0
    n = len(word)
    for i in range(1, n):
        prev, cur = cls[i - 1], cls[i]
        boundary = False
        if cur == 1 and prev in (0, 2):
            boundary = True  # getUser, md5Sum
        elif cur == 1 and prev == 1 and i + 1 < n and cls[i + 1] == 0 and word[i + 1].isalpha():
            boundary = True  # HTTPServer: boundary before the S
        if boundary:
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return tuple(p.lower() for p in parts if p)


class _Memo(dict[str, tuple[str, ...]]):
    """Per-process memo of one word's sub-words: a build sees each distinct word
    thousands of times, and ``map(memo.__getitem__, words)`` keeps hits in C."""

    __slots__ = ()

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= _MEMO_MAX:
            self.clear()
        parts = tuple(sys.intern(p) for p in _split_word(word))
        self[word] = parts
        return parts


class _RawMemo(dict[str, tuple[str, ...]]):
    """Memo of a raw ``\\w+`` code identifier's body sub-words (underscores split)."""

    __slots__ = ()

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= _MEMO_MAX:
            self.clear()
        if word.isalnum() and word.islower() and word.isascii():
            parts: tuple[str, ...] = (sys.intern(word),)
        else:
            subs = map(_SUBWORDS.__getitem__, _WORD_RE.findall(word))
            parts = tuple(itertools.chain.from_iterable(subs))
        self[word] = parts
        return parts


class _LowerMemo(dict[str, str]):
    """Memo of a keyword's interned lowercase form."""

    __slots__ = ()

    def __missing__(self, word: str) -> str:
        low = sys.intern(word.lower())
        self[word] = low
        return low


_MEMO_MAX = 1 << 19
_SUBWORDS = _Memo()
_RAW_SUBWORDS = _RawMemo()
_LOWER = _LowerMemo()


def split_id(text: str) -> list[str]:
    """Lowercase sub-words of ``text``: NFC, runs of letters/digits, camel/snake split."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return list(itertools.chain.from_iterable(map(_SUBWORDS.__getitem__, _WORD_RE.findall(text))))


def raw_words(text: str) -> list[str]:
    """The ``\\w+`` runs of ``text``: what ``code_tokens`` and ``raw_identifiers`` scan."""
    return _RAW_RE.findall(text)


def code_tokens(
    text: str, keywords: frozenset[str] = frozenset(), words: list[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Scan code into ``(body, keyword, operator)`` streams in text order.

    A raw identifier equal to a language keyword goes to ``keyword`` (lowercased);
    punctuation runs go to ``operator`` (capped at 20,000 per chunk). Words and
    punctuation share no character, so each stream is one ``findall`` of its own, and
    per-word results are memoised: the per-occurrence work is C (``map`` over a dict).
    Tokens are interned: each occurrence is otherwise its own str object (the bulk of a
    build's memory), and pickling a worker's bundle shares repeated objects.
    ``words``: ``raw_words(text)`` when the caller already has it (ASCII text only).
    """
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        words = None
    if words is None:
        words = _RAW_RE.findall(text)
    kw: list[str] = []
    if keywords and not keywords.isdisjoint(words):
        kw = list(map(_LOWER.__getitem__, [w for w in words if w in keywords]))
        words = [w for w in words if w not in keywords]
    body = list(itertools.chain.from_iterable(map(_RAW_SUBWORDS.__getitem__, words)))
    ops = PUNCT_RE.findall(text)
    if len(ops) > MAX_PUNCT_PER_CHUNK:
        del ops[MAX_PUNCT_PER_CHUNK:]
    return body, kw, list(map(sys.intern, ops))


class _UsageMemo(dict[str, str | None]):
    """Memo of a raw word as an interned usage (``None``: starts with a digit)."""

    __slots__ = ()

    def __missing__(self, word: str) -> str | None:
        if len(self) >= _MEMO_MAX:
            self.clear()
        use = None if word[0].isdigit() else sys.intern(word)
        self[word] = use
        return use


_USAGES = _UsageMemo()


def raw_identifiers(text: str, words: list[str] | None = None) -> list[str]:
    """Distinct raw identifiers in first-occurrence order (for ``usages``).

    ``words``: ``raw_words(text)`` when the caller already has it.
    """
    found = dict.fromkeys(_RAW_RE.findall(text) if words is None else words)
    return [u for u in map(_USAGES.__getitem__, found) if u is not None]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The packaged English stopword list (``data/stopwords_en.txt``)."""
    # read beside this module: importlib.resources (with zipfile, tempfile) costs a cold
    # search ~10 ms of imports for one packaged text file
    raw = (Path(__file__).parent / "data" / "stopwords_en.txt").read_text("utf-8")
    return frozenset(w.strip() for w in raw.splitlines() if w.strip())


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    """The English stemmer, made on first use.

    PyStemmer (C libstemmer, a dependency) is preferred: the same Snowball English stems as
    ``snowballstemmer`` 3.1 on all 78,828 distinct words of the medium bench corpus, ~19x
    faster. The pure-Python fallback avoids ``snowballstemmer``'s package ``__init__``, which
    imports all ~30 language modules (a tenth of a cold search): the submodule is imported
    under a bare package object (no ``__init__``) that is removed again; a later ``import
    snowballstemmer`` runs the real ``__init__``, which reuses the loaded submodules.
    """
    try:
        import Stemmer  # type: ignore[import-not-found]

        return Stemmer.Stemmer("english")
    except ImportError:
        pass
    import importlib
    import importlib.util
    import sys

    if "snowballstemmer" not in sys.modules:
        spec = importlib.util.find_spec("snowballstemmer")
        if spec is not None and spec.submodule_search_locations is not None:
            bare = importlib.util.module_from_spec(spec)
            sys.modules["snowballstemmer"] = bare
            try:
                module = importlib.import_module("snowballstemmer.english_stemmer")
            finally:
                if sys.modules.get("snowballstemmer") is bare:
                    del sys.modules["snowballstemmer"]
            return module.EnglishStemmer()
    module = importlib.import_module("snowballstemmer.english_stemmer")
    return module.EnglishStemmer()


class _StemMemo(dict[str, str]):
    """Per-process memo of stems (the pure-Python Snowball stemmer is ~20 µs a word)."""

    __slots__ = ()

    def __missing__(self, token: str) -> str:
        if len(self) >= _MEMO_MAX:
            self.clear()
        s = str(_stemmer().stemWord(token))
        s = sys.intern(s)
        self[token] = s
        return s


_STEMS = _StemMemo()


def stem(token: str) -> str:
    """Snowball English stem of one lowercase token."""
    return _STEMS[token]


def prose_tokens(text: str) -> list[str]:
    """Surface tokens of prose: split_id minus stopwords (stems not included)."""
    sw = stopwords()
    return [t for t in split_id(text) if t not in sw]


def stems_for(tokens: list[str]) -> list[str]:
    """The stems that differ from their token, in token order (extra postings)."""
    return [s for t, s in zip(tokens, map(_STEMS.__getitem__, tokens), strict=True) if s != t]


def is_punct(token: str) -> bool:
    """True for a code punctuation token."""
    return PUNCT_RE.fullmatch(token) is not None


def fts_token(token: str) -> str:
    """Token as written in the FTS ``tokens`` column: punctuation → ``op`` + hex UTF-8."""
    if token and not token[0].isalnum() and is_punct(token):
        return "op" + token.encode("utf-8").hex()
    return token


def query_subwords(term: str, mode: str) -> list[str]:
    """Tokenize a query term the way chunks of ``mode`` were tokenized."""
    if mode == "code":
        body, kw, ops = code_tokens(term)
        return body + kw + ops
    return prose_tokens(term)


def settings_fingerprint(mode: str) -> dict[str, object]:
    """The tokenizer settings of ``mode`` (input of the tokenizationKey)."""
    return {
        "algorithm": TOKENIZER_VERSION,
        "mode": mode,
        "punctuation": mode == "code",
        "stopwords": sorted(stopwords()) if mode != "code" else [],
        "stemmer": "snowball-english" if mode != "code" else None,
        "maxPunct": MAX_PUNCT_PER_CHUNK,
    }
