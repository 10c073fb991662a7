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
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Bumped whenever any rule here changes: it feeds the compatibilityKey.
TOKENIZER_VERSION = 1

MAX_PUNCT_PER_CHUNK = 20_000

_WORD_RE = re.compile(r"[^\W_]+")
_RAW_RE = re.compile(r"\w+")
#: ASCII non-word bytes to spaces: ``word_text(text).split()`` is ``_RAW_RE.findall(text)``
#: for ASCII text (word characters are never whitespace) and ~5x faster. ``bytes.translate``
#: is a plain table lookup; ``str.translate`` with a dict looks each distinct character up
#: again on every call, which was most of its cost on short texts.
_NON_WORD_BYTES = bytes(
    i if i >= 128 or chr(i).isalnum() or chr(i) == "_" else 0x20 for i in range(256)
)


def word_text(text: str) -> str:
    """ASCII ``text`` with every non-word character a space (same length, same offsets)."""
    return text.encode().translate(_NON_WORD_BYTES).decode()


def _words(text: str) -> list[str]:
    """``_RAW_RE.findall(text)``."""
    if text.isascii():  # a flag of the str object: O(1)
        return text.encode().translate(_NON_WORD_BYTES).decode().split()
    return _RAW_RE.findall(text)


#: ``[=<>!:+\-*/%&|^~.?]{1,4}|[()\[\]{}.,;:]`` (runs of up to 4 operator characters, or
#: one bracket/separator), written to open with a single character class: ``re`` then
#: skips to candidate positions in C instead of trying both alternatives at every
#: character (~1.7x faster ``findall`` over code).
PUNCT_RE = re.compile(
    r"[=<>!:+\-*/%&|^~.?()\[\]{},;](?:(?<=[=<>!:+\-*/%&|^~.?])[=<>!:+\-*/%&|^~.?]{0,3})?"
)


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


#: the boundaries ``_split_word_classes`` finds in an ASCII letter/digit run: an upper after
#: a lower or a digit (getUser, md5Sum), and an upper after an upper that a lower follows
#: (HTTPServer: before the S)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _split_word(word: str) -> tuple[str, ...]:
    """Split one run of letters/digits at lower→upper and acronym ends.

    Digits stay with the letters before them (``md5Sum`` → md5|sum). ASCII runs take three
    C calls (the boundaries as spaces, lowercase, split); the rest go by character classes.
    """
    if word.isascii() and word.isalnum():
        if word.islower() or word.isdigit():
            return (word,)
        return tuple(_CAMEL.sub(" ", word).lower().split())
    return _split_word_classes(word)


def _camel_parts(word: str) -> list[str]:
    """``_split_word`` of each ``[^\\W_]+`` run of an ASCII ``\\w+`` word, flattened: an
    underscore ends a run the way the space that replaces it ends a boundary look-around."""
    return _CAMEL.sub(" ", word.replace("_", " ")).lower().split()


def _split_word_classes(word: str) -> tuple[str, ...]:
    """``_split_word`` by a character-class loop (any Unicode run; the ASCII oracle)."""
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
        parts = tuple(map(sys.intern, _split_word(word)))
        self[word] = parts
        return parts


class _RawMemo(dict[str, tuple[str, ...]]):
    """Memo of a raw ``\\w+`` code identifier's body sub-words (underscores split)."""

    __slots__ = ()

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= _MEMO_MAX:
            self.clear()
        if not word.isascii():
            subs = map(_SUBWORDS.__getitem__, _WORD_RE.findall(word))
            parts: tuple[str, ...] = tuple(itertools.chain.from_iterable(subs))
        elif word.isalnum() and (word.islower() or word.isdigit()):
            parts = (sys.intern(word),)
        else:  # ASCII: underscores and camel boundaries in C
            parts = tuple(map(sys.intern, _camel_parts(word)))
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
    elif text.isidentifier():  # one ASCII \w+ run (a name): its memo entry
        return list(_RAW_SUBWORDS[text])
    # the letter/digit runs of the text are those of its \w+ runs split at underscores: one
    # memo lookup per raw word (its sub-words as the code body would give them), and
    # \w+ scans faster than [^\W_]+
    return list(itertools.chain.from_iterable(map(_RAW_SUBWORDS.__getitem__, _words(text))))


def raw_words(text: str) -> list[str]:
    """The ``\\w+`` runs of ``text``: what ``code_tokens`` and ``raw_identifiers`` scan."""
    return _words(text)


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
        words = _words(text)
    return _code_streams(words, PUNCT_RE.findall(text), keywords)


class _KeywordMemo(dict[str, tuple[str, ...]]):
    """``_RAW_SUBWORDS`` for one keyword set, with no body sub-words for its keywords: the
    body stream is one ``map`` over all words (no ``filterfalse`` pass to drop them)."""

    __slots__ = ("keywords",)

    def __init__(self, keywords: frozenset[str]) -> None:
        super().__init__()
        self.keywords = keywords

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= _MEMO_MAX:
            self.clear()
        if word in self.keywords:
            parts: tuple[str, ...] = ()
        elif not word.isascii():
            parts = _RAW_SUBWORDS[word]
        elif word.isalnum() and (word.islower() or word.isdigit()):  # _RawMemo's rule, inline
            parts = (sys.intern(word),)
        else:
            parts = tuple(map(sys.intern, _CAMEL.sub(" ", word.replace("_", " ")).lower().split()))
        self[word] = parts
        return parts


class _KeywordUsageMemo(dict[str, str | None]):
    """``_USAGES`` for one excluded-word set: ``None`` for the excluded words as well."""

    __slots__ = ("exclude",)

    def __init__(self, exclude: frozenset[str]) -> None:
        super().__init__()
        self.exclude = exclude

    def __missing__(self, word: str) -> str | None:
        if len(self) >= _MEMO_MAX:
            self.clear()
        # _UsageMemo's rule, not a lookup there (a second miss, a second frame)
        use = None if word in self.exclude or word[0].isdigit() else sys.intern(word)
        self[word] = use
        return use


#: per keyword set (a handful of languages), made on first use
_KEYWORD_MEMOS: dict[frozenset[str], _KeywordMemo] = {}
_KEYWORD_USAGES: dict[frozenset[str], _KeywordUsageMemo] = {}


def _keyword_memo(keywords: frozenset[str]) -> _KeywordMemo:
    memo = _KEYWORD_MEMOS.get(keywords)
    if memo is None:
        memo = _KEYWORD_MEMOS[keywords] = _KeywordMemo(keywords)
    return memo


def _usage_memo(exclude: frozenset[str]) -> _KeywordUsageMemo:
    memo = _KEYWORD_USAGES.get(exclude)
    if memo is None:
        memo = _KEYWORD_USAGES[exclude] = _KeywordUsageMemo(exclude)
    return memo


def code_body(text: str, keywords: frozenset[str] = frozenset()) -> list[str]:
    """``code_tokens(text, keywords)[0]`` alone: no punctuation scan nor keyword stream."""
    if not text:
        return []
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    memo = _keyword_memo(keywords) if keywords else _RAW_SUBWORDS
    return list(itertools.chain.from_iterable(map(memo.__getitem__, _words(text))))


def _code_streams(
    words: list[str], ops: list[str], keywords: frozenset[str]
) -> tuple[list[str], list[str], list[str]]:
    kw: list[str] = []
    memo: dict[str, tuple[str, ...]] = _RAW_SUBWORDS
    if keywords and not keywords.isdisjoint(words):
        # filter with a C predicate: no frames
        kw = list(map(_LOWER.__getitem__, filter(keywords.__contains__, words)))
        memo = _keyword_memo(keywords)
    body = list(itertools.chain.from_iterable(map(memo.__getitem__, words)))
    if len(ops) > MAX_PUNCT_PER_CHUNK:
        del ops[MAX_PUNCT_PER_CHUNK:]
    return body, kw, list(map(sys.intern, ops))


def code_tokens_ranges(
    text: str,
    ranges: Iterable[tuple[int, int, bool]],
    keywords: frozenset[str] = frozenset(),
    wtext: str | None = None,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """``code_tokens`` of the kept ranges of ``text`` joined by newlines, plus the raw words
    of all ranges in order (``raw_words`` of the whole span, for usages).

    ``ranges``: ``(start, end, kept)`` code-point ranges of whole rows, in order, each
    bounded by newlines (or the text ends); words and punctuation never cross a newline,
    so scanning each range in place equals scanning the joined kept rows, and no row is
    scanned twice. ASCII text only (no NFC step). ``wtext``: ``word_text(text)`` when the
    caller has it (one translation of a file serves all its chunks); without it each range
    is translated on its own (``text`` may be a whole file around a few rows).
    """
    find_ops = PUNCT_RE.findall
    every: list[str] = []
    words: list[str] = []
    ops: list[str] = []
    for a, b, kept in ranges:
        ws = (wtext[a:b] if wtext is not None else word_text(text[a:b])).split()
        every += ws
        if kept:
            words += ws
            ops += find_ops(text, a, b)
    body, kw, ops = _code_streams(words, ops, keywords)
    return body, kw, ops, every


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


def raw_identifiers(
    text: str,
    words: list[str] | None = None,
    exclude: frozenset[str] = frozenset(),
    limit: int | None = None,
) -> list[str]:
    """Distinct raw identifiers in first-occurrence order (for ``usages``).

    ``words``: ``raw_words(text)`` when the caller already has it. ``exclude``: words
    left out (a language's keywords); ``limit``: at most this many are returned.
    """
    found = dict.fromkeys(_words(text) if words is None else words)
    memo = _usage_memo(exclude) if exclude else _USAGES
    # None (a leading digit, an excluded word) is the only falsy value the memos hold:
    # filter(None, ...) in C
    ids: Iterator[str] = filter(None, map(memo.__getitem__, found))
    return list(ids if limit is None else itertools.islice(ids, limit))


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


class _ExtraStemMemo(dict[str, tuple[str, ...]]):
    """A token's stem when it differs from the token (a 1-tuple), else ``()``."""

    __slots__ = ()

    def __missing__(self, token: str) -> tuple[str, ...]:
        if len(self) >= _MEMO_MAX:
            self.clear()
        s = _STEMS[token]
        extra = (s,) if s != token else ()
        self[token] = extra
        return extra


_EXTRA_STEMS = _ExtraStemMemo()


def stem(token: str) -> str:
    """Snowball English stem of one lowercase token."""
    return _STEMS[token]


def prose_tokens(text: str) -> list[str]:
    """Surface tokens of prose: split_id minus stopwords (stems not included)."""
    return list(itertools.filterfalse(stopwords().__contains__, split_id(text)))


def stems_for(tokens: list[str]) -> list[str]:
    """The stems that differ from their token, in token order (extra postings)."""
    # one memo lookup per token, in C (was stems, then a compare per token, then compress)
    return list(itertools.chain.from_iterable(map(_EXTRA_STEMS.__getitem__, tokens)))


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
