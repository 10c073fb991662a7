"""Postings, phrase n-grams, chargrams and MinHash (§5), batched with numpy.

Every builder takes per-document token lists in docId order and returns
JSON-ready dicts whose vocabularies are sorted, unique code-point order and
whose token ids are vocabulary positions (§15 P2). Profiling showed the Python
per-token dict lookups dominate, so the counting and grouping run as one
``np.unique`` over packed ``(tokenId, docId)`` keys instead of nested dicts.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson

MINHASH_SEEDS = 128
MINHASH_EMPTY = 0xFFFFFFFF
#: (doc, token) pairs whose hash rows ``_minhash_array`` reduces at once: 2,048 rows of
#: 512 bytes stay in cache (65,536 was 2.5x slower on the medium corpus's code mode).
MINHASH_BLOCK = 2048
_CHARGRAM_START = "\u0002"
_CHARGRAM_END = "\u0003"
#: Distinct phrase n-grams spelled (joined) at once by ``phrase_postings``.
_T = TypeVar("_T")
PHRASE_SPELL_BATCH = 65_536


#: Tokens a single C-level pass (``set.update``, ``np.fromiter`` of a ``map``) takes at once.
#: Such a call holds the GIL throughout and a thread switch only happens between
#: bytecodes, so one pass over a mode's 10M tokens kept a second stage-1 thread (its
#: numpy work released the GIL, but it could not get it back) waiting for ~1.5 s.
GIL_BLOCK = 1 << 18


def _distinct_strs(flat: list[str]) -> list[str]:
    """``sorted(set(flat))``, the set filled ``GIL_BLOCK`` tokens at a time."""
    seen: set[str] = set()
    for lo in range(0, len(flat), GIL_BLOCK):
        seen.update(flat[lo : lo + GIL_BLOCK])
    return sorted(seen)


def _lookup(index: Mapping[str, int], flat: list[str]) -> npt.NDArray[np.int64]:
    """``index[t]`` of every token of ``flat``, ``GIL_BLOCK`` tokens at a time.

    ``map(index.__getitem__, …)`` keeps the per-token lookup in C (a generator
    expression here was the single hottest line of the build).
    """
    out = np.empty(len(flat), dtype=np.int64)
    it = map(index.__getitem__, flat)
    for lo in range(0, len(flat), GIL_BLOCK):
        k = min(GIL_BLOCK, len(flat) - lo)
        out[lo : lo + k] = np.fromiter(it, dtype=np.int64, count=k)
    return out


def _flatten(docs: Sequence[Sequence[str]]) -> list[str]:
    """Every doc's tokens in one list, extended a few thousand docs at a time."""
    flat: list[str] = []
    step = 4096
    for lo in range(0, len(docs), step):
        flat.extend(itertools.chain.from_iterable(docs[lo : lo + step]))
    return flat


def _vocab_and_ids(
    docs: Sequence[Sequence[str]],
) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted vocabulary, then flat token ids and doc ids for every occurrence."""
    flat = _flatten(docs)
    vocab = _distinct_strs(flat)
    index = dict(zip(vocab, range(len(vocab)), strict=True))
    tids = _lookup(index, flat)
    del flat
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    dids = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    return vocab, tids, dids


def _distinct(keys: npt.NDArray[np.int64], owned: bool = False) -> npt.NDArray[np.int64]:
    """Sorted distinct ``keys``: what ``np.unique(keys)`` returns, ~40x faster.

    numpy 2.x answers a plain ``np.unique`` of integers from a hash table and then
    sorts it (profiled at 3-4 s for the medium corpus's 10M token keys); a sort and a
    neighbour mask take 0.1 s. The sort is numpy's stable one (timsort for int64):
    the build's keys come doc-major or as concatenated sorted blocks, runs timsort
    merges, and it was 2-3x faster than the default introsort on them (an integer
    sort's output is the same either way). ``owned``: ``keys`` is a temporary of the
    caller's, sorted in place instead of copied (one array of its size less at the peak).
    """
    if len(keys) < 2:
        return keys.copy()
    s, keep = _sorted_firsts(keys, owned)
    return s[keep]


def _sorted_firsts(
    keys: npt.NDArray[np.int64], owned: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """``keys`` stably sorted (in place when ``owned``) and the mask of each run's first
    element (``keys`` is not empty)."""
    if owned:
        keys.sort(kind="stable")
        s = keys
    else:
        s = np.sort(keys, kind="stable")
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s, keep


def _distinct_counts(
    keys: npt.NDArray[np.int64], owned: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``np.unique(keys, return_counts=True)`` with ``_distinct``'s stable sort (in place
    when ``owned``)."""
    if not len(keys):
        return keys.copy(), np.zeros(0, np.int64)
    s, keep = _sorted_firsts(keys, owned)
    firsts = np.flatnonzero(keep)
    counts = np.diff(firsts, append=len(s))
    return s[firsts], counts


def _distinct_inverse(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``np.unique(keys, return_inverse=True)[1]``: each key's rank among the distinct
    keys, from one stable argsort (faster than ``np.unique``'s introsort on the
    build's n-gram keys)."""
    inv = np.empty(len(keys), dtype=np.int64)
    if not len(keys):
        return inv
    perm = np.argsort(keys, kind="stable")
    s = keys[perm]
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    del s
    inv[perm] = np.cumsum(keep) - 1
    return inv


def _key_bounds(keys: npt.NDArray[np.int64], size: int, stride: int) -> npt.NDArray[np.int64]:
    """CSR bounds of sorted ``id * stride + doc`` keys for ids ``0..size-1``: where each id's
    keys start (``keys >= id * stride``), without an array of ``keys // stride``."""
    return np.searchsorted(keys, np.arange(size + 1, dtype=np.int64) * stride).astype(np.int64)


def _key_docs(keys: npt.NDArray[np.int64], stride: int) -> npt.NDArray[np.int32]:
    """The doc of every ``id * stride + doc`` key as int32; ``keys`` is consumed."""
    np.remainder(keys, stride, out=keys)
    return keys.astype(np.int32)


class _BatchedSeq(Sequence[_T]):
    """A read-only sequence whose items are decoded ``BATCH`` at a time by ``_range``.

    The postings and the phrase vocabulary keep their items packed (numpy arrays, one
    blob) and only materialise the span being read, so indexing, iteration, equality and
    ``tolist`` are the same code over ``_range``."""

    __slots__ = ()
    BATCH = 4096
    _WHAT = "sequence"

    @abstractmethod
    def _range(self, lo: int, hi: int) -> list[_T]:
        """Items ``lo..hi-1`` (0 <= lo < hi <= len)."""

    def __getitem__(self, i: Any) -> Any:
        n = len(self)
        if isinstance(i, slice):
            lo, hi, step = i.indices(n)
            out = self._range(lo, hi) if hi > lo else []
            return out if step == 1 else out[::step]
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"{self._WHAT} index out of range")
        return self._range(i, i + 1)[0]

    def __iter__(self) -> Iterator[_T]:
        n = len(self)
        for lo in range(0, n, self.BATCH):
            yield from self._range(lo, min(lo + self.BATCH, n))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self) | list):
            same: bool = len(self) == len(other) and self.tolist() == list(other)
            return same
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[_T]:
        """Every item as plain Python objects."""
        return self._range(0, len(self)) if len(self) else []


class PostingLists(_BatchedSeq[list[Any]]):
    """Per-token posting lists held as flat numpy arrays (CSR) rather than Python lists.

    A medium build's postings as nested lists of Python ints were gigabytes; this keeps
    12 bytes per entry and materialises lists only for the slice being read, written
    (``json_bytes``, batch by batch) or loaded into SQLite (iteration).
    """

    __slots__ = ("bounds", "docs", "tfs")
    _WHAT = "posting list"

    def __init__(
        self,
        bounds: npt.NDArray[np.int64],
        docs: npt.NDArray[np.int32],
        tfs: npt.NDArray[np.int32] | None,
    ) -> None:
        self.bounds = bounds
        self.docs = docs
        self.tfs = tfs

    def __len__(self) -> int:
        return max(len(self.bounds) - 1, 0)

    def _range(self, lo: int, hi: int) -> list[list[Any]]:
        """Tokens ``lo..hi-1`` as ``[[docId, tf]…]`` (or ``[docId…]``) lists."""
        bounds: list[int] = self.bounds[lo : hi + 1].tolist()
        a, b = bounds[0], bounds[-1]
        if self.tfs is not None:
            flat: list[Any] = np.column_stack((self.docs[a:b], self.tfs[a:b])).tolist()
        else:
            flat = self.docs[a:b].tolist()
        return [flat[x - a : y - a] for x, y in itertools.pairwise(bounds)]

    def json_chunks(self) -> Iterator[bytes]:
        """Canonical JSON of ``tolist()`` (orjson spelling), a batch of tokens at a time.

        Each batch is orjson's dump of the flat numpy entries with the per-token
        brackets inserted where the token boundaries fall (``_bracketed``): no Python
        int or list per entry (the list form was ~40 % of the parent's stage-1 time).
        """
        n = len(self)
        if n and not bool(np.all(self.bounds[1:] > self.bounds[:-1])):
            yield from self._json_chunks_lists()  # an empty list: spelled the slow way
            return
        yield b"["
        lo = 0
        while lo < n:
            # about JSON_ENTRIES entries a batch, at least one token
            hi = int(np.searchsorted(self.bounds, self.bounds[lo] + self.JSON_ENTRIES, "right"))
            hi = min(max(hi - 1, lo + 1), n)
            part = self._bracketed(lo, hi)
            yield part if lo == 0 else b"," + part
            lo = hi
        yield b"]"

    #: Posting entries spelled by one ``_bracketed`` call.
    JSON_ENTRIES = 1 << 20

    def _bracketed(self, lo: int, hi: int) -> bytes:
        """``orjson.dumps(self._range(lo, hi))[1:-1]`` for tokens with non-empty lists."""
        a, b = int(self.bounds[lo]), int(self.bounds[hi])
        if self.tfs is not None:
            flat = orjson.dumps(
                np.column_stack((self.docs[a:b], self.tfs[a:b])), option=orjson.OPT_SERIALIZE_NUMPY
            )[1:-1]  # [d,t],[d,t],...
            raw = np.frombuffer(flat, dtype=np.uint8)
            starts = np.flatnonzero(raw == 0x5B)  # '[' opens each entry
            ends = np.flatnonzero(raw == 0x5D) + 1  # just past each entry's ']'
        else:
            flat = orjson.dumps(
                np.ascontiguousarray(self.docs[a:b]), option=orjson.OPT_SERIALIZE_NUMPY
            )[1:-1]  # d,d,...
            raw = np.frombuffer(flat, dtype=np.uint8)
            commas = np.flatnonzero(raw == 0x2C)
            starts = np.concatenate(([0], commas + 1))
            ends = np.concatenate((commas, [len(raw)]))
        rel = self.bounds[lo : hi + 1] - a
        opens = starts[rel[:-1]]
        closes = ends[rel[1:] - 1]
        count = hi - lo
        at = np.empty(2 * count, dtype=np.int64)
        at[0::2] = opens
        at[1::2] = closes
        marks = np.empty(2 * count, dtype=np.uint8)
        marks[0::2] = 0x5B
        marks[1::2] = 0x5D
        return np.insert(raw, at, marks).tobytes()

    def _json_chunks_lists(self) -> Iterator[bytes]:
        yield b"["
        for lo in range(0, len(self), self.BATCH):
            part = orjson.dumps(self._range(lo, min(lo + self.BATCH, len(self))))[1:-1]
            yield part if lo == 0 else b"," + part
        yield b"]"

    def json_bytes(self) -> bytes:
        """``json_chunks`` joined."""
        return b"".join(self.json_chunks())


class StrTable(_BatchedSeq[str]):
    """A sorted vocabulary of strings held as one UTF-8 blob, each entry ended by ``\\n``.

    The phrase vocabulary of a medium build was millions of Python strs (~70 bytes each:
    the object header dwarfs the text); here each entry costs its UTF-8 bytes plus one
    offset. Entries must hold no ``\\n`` (phrases never hold a character <= U+0020).
    Slices decode one span of the blob at once; ``json_chunks`` writes the same bytes as
    the list's canonical JSON, batch by batch.
    """

    __slots__ = ("blob", "ends")
    _WHAT = "string table"
    SEP = "\n"

    def __init__(self, blob: bytes, ends: npt.NDArray[np.int64]) -> None:
        self.blob = blob
        #: ``ends[i]``: the offset of entry i's terminating ``\n`` in ``blob``.
        self.ends = ends

    @classmethod
    def from_batches(cls, batches: Iterable[Sequence[str]]) -> StrTable:
        """Build from successive lists of entries (each dropped once encoded)."""
        parts: list[bytes] = []
        for batch in batches:
            if batch:
                parts.append((cls.SEP.join(batch) + cls.SEP).encode("utf-8", "surrogatepass"))
        blob = b"".join(parts)
        del parts
        ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 10).astype(np.int64)
        return cls(blob, ends)

    def __len__(self) -> int:
        return len(self.ends)

    def _range(self, lo: int, hi: int) -> list[str]:
        """Entries ``lo..hi-1`` (0 <= lo < hi <= len)."""
        a = int(self.ends[lo - 1]) + 1 if lo else 0
        b = int(self.ends[hi - 1])
        return self.blob[a:b].decode("utf-8", "surrogatepass").split(self.SEP)

    def json_chunks(self) -> Iterator[bytes]:
        """Canonical JSON of ``tolist()`` as the writer spells a list of strs: orjson's
        bytes, and jsonio's verdict on a batch orjson refuses."""
        from groundwork import jsonio

        yield b"["
        for lo in range(0, len(self), self.BATCH):
            batch = self._range(lo, min(lo + self.BATCH, len(self)))
            try:
                part = orjson.dumps(batch)[1:-1]
            except (orjson.JSONEncodeError, TypeError):
                part = jsonio.dumps(batch)[1:-1]
            yield part if lo == 0 else b"," + part
        yield b"]"

    def json_bytes(self) -> bytes:
        """``json_chunks`` joined."""
        return b"".join(self.json_chunks())


def _group(
    vocab: Sequence[str],
    tids: npt.NDArray[np.int64],
    dids: npt.NDArray[np.int64],
    n_docs: int,
    with_tf: bool,
) -> PostingLists:
    """Per-token posting lists sorted by docId (strictly ascending, deduplicated)."""
    if not len(vocab):
        return PostingLists(np.zeros(1, np.int64), np.zeros(0, np.int32), None)
    stride = max(n_docs, 1)
    if not with_tf:  # doc lists only: no counts array
        keys = _distinct(tids * stride + dids, owned=True)
        bounds = _key_bounds(keys, len(vocab), stride)
        return PostingLists(bounds, _key_docs(keys, stride), None)
    keys, counts = _distinct_counts(tids * stride + dids, owned=True)
    bounds = _key_bounds(keys, len(vocab), stride)
    doc = _key_docs(keys, stride)
    del keys
    return PostingLists(bounds, doc, counts.astype(np.int32))


def _out(p: PostingLists, compact: bool) -> Any:
    return p if compact else p.tolist()


class Signatures(Sequence[list[int]]):
    """MinHash rows as one ``(n, 128)`` uint32 array; rows read back as int lists.

    ``np.asarray(sigs)`` gives the array itself, so a consumer of the list form keeps
    working while the build holds 512 bytes a chunk instead of 128 Python ints.
    """

    __slots__ = ("array",)

    def __init__(self, array: npt.NDArray[np.uint32]) -> None:
        self.array = array

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            rows: list[list[int]] = self.array[i].tolist()
            return rows
        row: list[int] = self.array[i].tolist()
        return row

    def __iter__(self) -> Iterator[list[int]]:
        for lo in range(0, len(self), 4096):
            yield from self.array[lo : lo + 4096].tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        return self.array if dtype is None else self.array.astype(dtype)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Signatures):
            return bool(np.array_equal(self.array, other.array))
        if isinstance(other, list):
            same: bool = self.array.tolist() == other
            return same
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[list[int]]:
        rows: list[list[int]] = self.array.tolist()
        return rows

    def json_chunks(self) -> Iterator[bytes]:
        """Canonical JSON of ``tolist()``, one batch of rows at a time."""
        yield b"["
        for lo in range(0, len(self), 4096):
            rows = np.ascontiguousarray(self.array[lo : lo + 4096])
            part = orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
            yield part if lo == 0 else b"," + part
        yield b"]"

    def json_bytes(self) -> bytes:
        """``json_chunks`` joined."""
        return b"".join(self.json_chunks())


def token_postings(docs: Sequence[Sequence[str]], *, compact: bool = False) -> dict[str, Any]:
    """``{vocab, postings[[docId, tf]…], docLengths, avgDocLen, totalDocs}``.

    ``compact``: postings as a ``PostingLists`` (the build's form) instead of lists.
    """
    vocab, tids, dids = _vocab_and_ids(docs)
    lengths = [len(d) for d in docs]
    n = len(docs)
    return {
        "vocab": vocab,
        "postings": _out(_group(vocab, tids, dids, n, with_tf=True), compact),
        "docLengths": lengths,
        "avgDocLen": (sum(lengths) / n) if n else 0.0,
        "totalDocs": n,
    }


def doc_postings(docs: Sequence[Sequence[str]], *, compact: bool = False) -> dict[str, Any]:
    """``{vocab, postings[[docId…]]}``: which docs hold each term (repeats collapse)."""
    vocab, tids, dids = _vocab_and_ids(docs)
    grouped = _group(vocab, tids, dids, len(docs), with_tf=False)
    return {"vocab": vocab, "postings": _out(grouped, compact)}


def phrase_ngrams(tokens: Sequence[str], min_n: int, max_n: int) -> list[str]:
    """Space-joined n-grams (n in min_n..max_n) of one field stream."""
    out: list[str] = []
    count = len(tokens)
    for n in range(max(min_n, 1), max_n + 1):
        if n > count:
            break
        if n == 1:
            out.extend(tokens)
        elif n == 2:
            out.extend([f"{a} {b}" for a, b in itertools.pairwise(tokens)])
        else:
            out.extend([" ".join(tokens[i : i + n]) for i in range(count - n + 1)])
    return out


def _dense_rank(key: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each key's position among the sorted distinct keys (order-preserving)."""
    return _distinct_inverse(key)


class Streams:
    """Token streams interned once: the sorted distinct tokens and every occurrence's id.

    ``streams[d]`` is doc d's streams (lists of tokens); empty streams are dropped.
    The phrase n-grams and the chargrams of the same streams are built from one of these
    (its methods), so the per-occurrence dict lookups run once.
    """

    __slots__ = ("docs", "ids", "lens", "n_docs", "streams", "vocab")

    def __init__(self, streams: Sequence[Sequence[Sequence[str]]]) -> None:
        flat: list[str] = []
        stream_lens: list[int] = []
        stream_docs: list[int] = []
        for d, fields in enumerate(streams):
            for st in fields:
                if st:
                    flat.extend(st)
                    stream_lens.append(len(st))
                    stream_docs.append(d)
        self.streams = streams
        self.n_docs = len(streams)
        #: sorted distinct tokens (code-point order)
        self.vocab: list[str] = _distinct_strs(flat)
        index = dict(zip(self.vocab, range(len(self.vocab)), strict=True))
        #: each occurrence's position in ``vocab``, in stream order
        self.ids = _lookup(index, flat)
        #: each non-empty stream's length and doc
        self.lens = np.asarray(stream_lens, dtype=np.int64)
        self.docs = np.asarray(stream_docs, dtype=np.int64)

    def phrase_postings(self, min_n: int, max_n: int, *, compact: bool = False) -> dict[str, Any]:
        """``phrase_postings(streams, min_n, max_n)``."""
        return _phrase_postings(self, min_n, max_n, compact)

    def chargram_postings(
        self, min_n: int, max_n: int, max_len: int, *, compact: bool = False
    ) -> dict[str, Any]:
        """``chargram_postings`` of each doc's streams concatenated."""
        return _chargram_postings(self, min_n, max_n, max_len, compact)


def phrase_postings(
    streams: Sequence[Sequence[Sequence[str]]], min_n: int, max_n: int, *, compact: bool = False
) -> dict[str, Any]:
    """``doc_postings`` of every doc's ``phrase_ngrams`` over its field streams, in numpy.

    The string path hashed, sorted and looked up every n-gram occurrence (millions)
    and was the build's hottest step. Here n-grams are windows of token ids inside
    one stream: with tokens ranked in code-point order and padded with a rank below
    every token, lexicographic id order equals the order of the space-joined strings
    as long as no token holds a character <= U+0020 (else the string path runs), so
    sorting and deduplicating happen on integers and only distinct grams are joined.
    """
    return _phrase_postings(Streams(streams), min_n, max_n, compact)


def _phrase_postings(ts: Streams, min_n: int, max_n: int, compact: bool) -> dict[str, Any]:
    """``phrase_postings`` of ``ts.streams``."""
    lo = max(min_n, 1)
    tvocab = ts.vocab
    if any(not t or min(t) <= " " for t in tvocab):
        return doc_postings(
            [[g for s in fields for g in phrase_ngrams(s, min_n, max_n)] for fields in ts.streams],
            compact=compact,
        )
    size = len(ts.ids)
    width = max_n
    if size == 0 or lo > max_n:
        return {"vocab": [], "postings": []}
    ranks = ts.ids + 1  # 1-based: rank 0 pads
    lens = ts.lens
    # positions and stream ids as int32 when they fit: the occurrence arrays below are
    # alive next to the main thread's token postings (see ``assemble.stage1_values``)
    idt = np.int32 if size < 1 << 31 else np.int64
    sid = np.repeat(np.arange(len(lens), dtype=idt), lens)
    sdoc = ts.docs
    starts: list[npt.NDArray[Any]] = []
    ns: list[npt.NDArray[np.int64]] = []
    for n in range(lo, max_n + 1):
        if n > size:
            break
        pos = np.flatnonzero(sid[: size - n + 1] == sid[n - 1 :]).astype(idt)
        starts.append(pos)
        ns.append(np.full(len(pos), n, dtype=np.int8))  # n <= max_n: int8 is plenty
    if not starts or not sum(len(p) for p in starts):
        return {"vocab": [], "postings": []}
    # Every array below has one entry per n-gram occurrence (tens of millions on a real
    # repo), so each is dropped as soon as it is used: together they were ~1 GB of the
    # build's peak RSS on the medium corpus.
    start = np.concatenate(starts)
    glen = np.concatenate(ns)
    del starts, ns
    padded = np.concatenate((ranks, np.zeros(width, dtype=np.int64)))
    del ranks
    base = len(tvocab) + 1
    key = np.zeros(len(start), dtype=np.int64)
    for k in range(width):
        col = np.where(glen > k, padded[start + k], 0)
        if k and (int(key.max()) + 1) * base >= 1 << 62:
            key = _dense_rank(key)  # re-rank only when the next column would overflow
        key *= base
        key += col
        del col
    # One stable sort groups the occurrences by gram; within a gram they keep their
    # stream order, which is doc order (one n per gram, and each n's windows were listed
    # in position order), so the posting lists fall out of the same order: no gram ids,
    # no second sort of (gram, doc) keys.
    perm = np.argsort(key, kind="stable")
    new_gram = _new_runs(key, perm)
    del key
    rep = perm[np.flatnonzero(new_gram)]  # each gram's first occurrence spells it
    first = start[rep]
    width_of = glen[rep]
    del rep, glen
    docs = sdoc[sid[start[perm]]]  # occurrence docs in gram order
    del start, sid, perm
    keep = new_gram.copy()
    keep[1:] |= docs[1:] != docs[:-1]
    pdocs = docs[keep].astype(np.int32)
    del docs
    bounds = np.flatnonzero(new_gram[keep]).astype(np.int64)
    del new_gram, keep
    bounds = np.concatenate((bounds, [len(pdocs)])).astype(np.int64)

    # spelled a block at a time: the whole vocabulary as strs (and its spans as Python
    # ints) was the largest structure a code-mode build held; see StrTable
    table = _spell_table(tvocab, padded, first, width_of)
    del padded, first, width_of, tvocab
    vocab: Sequence[str] = table if compact else table.tolist()
    grouped = PostingLists(bounds, pdocs, None)
    return {"vocab": vocab, "postings": _out(grouped, compact)}


def _new_runs(key: npt.NDArray[np.int64], perm: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Where each run of equal keys starts in ``key[perm]`` (sorted), gathered a block at a
    time instead of holding the whole sorted copy."""
    out = np.empty(len(perm), dtype=bool)
    if not len(perm):
        return out
    out[0] = True
    step = 1 << 20
    for lo in range(1, len(perm), step):
        hi = min(lo + step, len(perm))
        k = key[perm[lo - 1 : hi]]
        np.not_equal(k[1:], k[:-1], out=out[lo:hi])
    return out


def _spell_table(
    tvocab: Sequence[str],
    ranks: npt.NDArray[np.int64],
    first: npt.NDArray[np.int64],
    width: npt.NDArray[np.integer[Any]],
) -> StrTable:
    """``StrTable`` of the space-joined grams: gram i is the tokens of ranks (1-based
    positions in ``tvocab``) ``ranks[first[i] : first[i] + width[i]]``.

    Spelled as bytes with numpy, a block of grams at a time: each token's UTF-8 bytes
    are kept once with a space after them, a gram gathers its tokens' bytes and its
    last space becomes the entry's ``\n`` (one Python ``join`` per gram was ~40 % of
    the phrase postings' time).
    """
    enc = [t.encode("utf-8", "surrogatepass") for t in tvocab]
    tlen = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc)) + 1  # + its space
    toff = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(tlen, out=toff[1:])
    tblob = np.frombuffer(b" ".join(enc) + b" ", dtype=np.uint8)
    del enc
    parts: list[bytes] = []
    w = width.astype(np.int64)
    for lo in range(0, len(first), PHRASE_SPELL_BATCH):
        hi = min(lo + PHRASE_SPELL_BATCH, len(first))
        bw = w[lo:hi]
        starts = np.repeat(first[lo:hi] - (np.cumsum(bw) - bw), bw)
        comp = ranks[starts + np.arange(len(starts), dtype=np.int64)] - 1  # tvocab indexes
        del starts
        clen = tlen[comp]
        cend = np.cumsum(clen)
        total = int(cend[-1])
        src = np.repeat(toff[comp] - (cend - clen), clen) + np.arange(total, dtype=np.int64)
        out = tblob[src]
        del src, comp
        out[cend[np.cumsum(bw) - 1] - 1] = 10  # each gram's last space ends the entry
        parts.append(out.tobytes())
        del out, clen, cend
    blob = b"".join(parts)
    del parts
    ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 10).astype(np.int64)
    return StrTable(blob, ends)


@lru_cache(maxsize=262_144)
def token_chargrams(token: str, min_n: int, max_n: int) -> tuple[str, ...]:
    """n-grams of ``\\u0002token\\u0003`` for n in min_n..max_n."""
    w = _CHARGRAM_START + token + _CHARGRAM_END
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        for i in range(len(w) - n + 1):
            out.append(w[i : i + n])
    return tuple(out)


def chargrams(tokens: Iterable[str], min_n: int, max_n: int, max_len: int) -> list[str]:
    """Chargrams of the tokens no longer than ``max_len`` (repeats kept; postings dedupe)."""
    uniq = {t for t in tokens if len(t) <= max_len}
    return list(itertools.chain.from_iterable(token_chargrams(t, min_n, max_n) for t in uniq))


#: Gram occurrences expanded at once by ``chargram_postings``: its expansion arrays are
#: this many int64s each, instead of every (token, doc) pair's grams at once (~1 GB of
#: temporaries on the medium corpus's code mode).
CHARGRAM_BLOCK = 1 << 21


def chargram_postings(
    docs: Sequence[Sequence[str]], min_n: int, max_n: int, max_len: int, *, compact: bool = False
) -> dict[str, Any]:
    """``doc_postings`` of every doc's ``chargrams``, expanded per distinct token.

    Grams are computed and ranked once per distinct token; each (token, doc) pair
    then expands to its grams' ids with numpy, instead of hashing and looking up
    every gram occurrence as a string.
    """
    return _chargram_postings(Streams([[d] for d in docs]), min_n, max_n, max_len, compact)


def _chargram_postings(
    ts: Streams, min_n: int, max_n: int, max_len: int, compact: bool
) -> dict[str, Any]:
    """``chargram_postings`` of each of ``ts``'s docs' streams concatenated.

    The output does not depend on how the tokens are numbered (the (gram, doc) keys are
    put in gram, then doc order at the end), so ``ts``'s sorted vocabulary serves as the
    distinct tokens."""
    utoks = ts.vocab
    # a token over max_len has no grams, so its (token, doc) pairs expand to nothing
    # uncached: every token here is distinct, and the cache would keep the build's grams
    # alive (and their arenas pinned) long after the build
    grams_of = token_chargrams.__wrapped__
    tgrams = [grams_of(t, min_n, max_n) if len(t) <= max_len else () for t in utoks]
    gflat = _flatten(tgrams)
    vocab = _distinct_strs(gflat)
    if not vocab:
        return {"vocab": [], "postings": []}
    gindex = dict(zip(vocab, range(len(vocab)), strict=True))
    counts = np.fromiter(map(len, tgrams), dtype=np.int64, count=len(tgrams))
    csr = _lookup(gindex, gflat)
    del gflat
    offs = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    tids = ts.ids
    stride = max(ts.n_docs, 1)
    ntok = max(len(utoks), 1)
    # doc-major (doc, token) pairs: every repeat of a (gram, doc) posting lies inside one
    # doc, so expanding and deduplicating a block of whole docs at a time is exact
    keys = np.repeat(ts.docs * ntok, ts.lens)
    keys += tids
    del tids
    pairs = _distinct(keys, owned=True)
    del keys, gindex, tgrams, utoks
    pdoc = pairs // ntok
    ptok = pairs % ntok
    del pairs
    reps = counts[ptok]
    ends = np.cumsum(reps)
    blocks: list[npt.NDArray[np.int64]] = []
    lo = 0
    while lo < len(ptok):
        start = int(ends[lo] - reps[lo])
        hi = max(int(np.searchsorted(ends, start + CHARGRAM_BLOCK, side="right")), lo + 1)
        hi = int(np.searchsorted(pdoc, pdoc[hi - 1], side="right"))  # whole docs only
        r = reps[lo:hi]
        within = np.arange(int(ends[hi - 1]) - start, dtype=np.int64) - np.repeat(
            np.cumsum(r) - r, r
        )
        gids = csr[np.repeat(offs[ptok[lo:hi]], r) + within]
        del within
        gids *= stride
        gids += np.repeat(pdoc[lo:hi], r)
        blocks.append(_distinct(gids, owned=True))
        del gids
        lo = hi
    del pdoc, ptok, reps, ends, csr, offs, counts
    grouped = _place_blocks(blocks, len(vocab), stride)
    return {"vocab": vocab, "postings": _out(grouped, compact)}


def _place_blocks(blocks: list[npt.NDArray[np.int64]], size: int, stride: int) -> PostingLists:
    """Posting lists of sorted ``id * stride + doc`` key blocks over increasing doc ranges
    (``blocks`` is consumed): what sorting their concatenation gives, placed by a counting
    pass instead. The concatenation, its sort buffer and the int32 copy were 2.5x the
    keys' size on top of the blocks (+350 MB on a medium code mode's chargrams)."""
    per_id = np.zeros(size, dtype=np.int64)
    for b in blocks:
        per_id += np.bincount(b // stride, minlength=size)
    bounds = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(per_id, out=bounds[1:])
    del per_id
    docs = np.empty(int(bounds[-1]), dtype=np.int32)
    filled = bounds[:-1].copy()  # where each id's next docs go
    blocks.reverse()
    while blocks:
        b = blocks.pop()  # in doc order, so each id's docs land ascending
        ids = b // stride
        b -= ids * stride  # the docs, in place
        starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
        runs = np.diff(starts, append=len(ids))
        run_ids = ids[starts]
        del ids
        pos = np.repeat(filled[run_ids] - starts, runs) + np.arange(len(b), dtype=np.int64)
        docs[pos] = b
        filled[run_ids] += runs
        del b, pos
    return PostingLists(bounds, docs, None)


def _token_hashes(vocab: Sequence[str]) -> npt.NDArray[np.uint32]:
    """``(V, 128)`` hashes: ``h = seed; h = (h*31 + c) mod 2^32`` over UTF-16 units.

    Unrolled, ``h = seed·31^L + P(token)`` with ``P = sum(c_i · 31^(L-1-i))``; uint32
    arithmetic wraps mod 2^32, the hash's own modulus, so ``31^L`` and ``P`` of every
    token come from numpy over the vocabulary's UTF-16 units at once (a Python loop per
    unit was most of MinHash's non-reduce time), and the 128 seeds are one broadcast.
    """
    size = len(vocab)
    if not size:
        return np.zeros((0, MINHASH_SEEDS), dtype=np.uint32)
    units = np.frombuffer(
        "".join(vocab).encode("utf-16-le", "surrogatepass"), dtype=np.uint16
    ).astype(np.uint32)
    if all(map(str.isascii, vocab)):
        lens = np.fromiter(map(len, vocab), dtype=np.int64, count=size)
    else:  # astral characters are two units
        lens = np.fromiter(map(_utf16_len, vocab), dtype=np.int64, count=size)
    longest = int(lens.max())
    pows = np.ones(longest + 1, dtype=np.uint32)
    for k in range(1, longest + 1):
        pows[k] = (int(pows[k - 1]) * 31) & 0xFFFFFFFF
    ends = np.cumsum(lens)
    starts = ends - lens
    # unit i of a token of length L weighs 31^(L-1-i): its distance to the token's end
    dist = np.repeat(ends - 1, lens) - np.arange(len(units), dtype=np.int64)
    units *= pows[dist]
    del dist
    poly = np.zeros(size, dtype=np.uint32)
    nonempty = lens > 0
    if bool(nonempty.any()):
        poly[nonempty] = np.add.reduceat(units, starts[nonempty], dtype=np.uint32)
    pow_l = pows[lens]
    seeds = np.arange(1, MINHASH_SEEDS + 1, dtype=np.uint32)
    h = pow_l[:, None] * seeds[None, :]
    h += poly[:, None]
    return h


def _utf16_len(token: str) -> int:
    """UTF-16 units of ``token`` (astral characters are two; a per-character Python loop
    over the vocabulary was 0.3 s of a medium build's code mode)."""
    return len(token.encode("utf-16-le", "surrogatepass")) >> 1


def minhash_signatures(
    docs: Sequence[Sequence[str]], batch_tokens: int = MINHASH_BLOCK
) -> list[list[int]]:
    """Per-doc 128 per-seed minima over distinct tokens; empty docs are all ``2^32-1``."""
    vocab, tids, dids = _vocab_and_ids(docs)
    rows: list[list[int]] = _minhash_array(vocab, tids, dids, len(docs), batch_tokens).tolist()
    return rows


def token_postings_and_minhash(
    docs: Sequence[Sequence[str]], *, compact: bool = False
) -> tuple[dict[str, Any], Any]:
    """``token_postings(docs)`` and ``minhash_signatures(docs)`` from one vocabulary pass
    (both run over the same unfielded streams; the vocabulary was built twice).

    ``compact``: postings as ``PostingLists`` and signatures as ``Signatures``.
    """
    tp, sigs, _ = token_field_postings_and_minhash(docs, None, compact=compact)
    return tp, sigs


def token_field_postings_and_minhash(
    docs: Sequence[Sequence[str]],
    field_tokens: Sequence[Mapping[str, Sequence[str]]] | None,
    *,
    compact: bool = False,
) -> tuple[dict[str, Any], Any, dict[str, dict[str, Any]] | None]:
    """``token_postings_and_minhash(docs)`` plus, given ``field_tokens``, every field's
    ``token_postings`` (``{field: …}``, fields in sorted order).

    A doc's unfielded stream is its field streams concatenated (prose adds stems after
    them), so when that holds for every doc each field's token ids are slices of the
    unfielded ids: no per-field vocabulary, sort or dict lookups. Otherwise each field
    is built on its own.
    """
    vocab, tids, dids = _vocab_and_ids(docs)
    lengths = [len(d) for d in docs]
    n = len(docs)
    tp = {
        "vocab": vocab,
        "postings": _out(_group(vocab, tids, dids, n, with_tf=True), compact),
        "docLengths": lengths,
        "avgDocLen": (sum(lengths) / n) if n else 0.0,
        "totalDocs": n,
    }
    sigs = Signatures(_minhash_array(vocab, tids, dids, n))
    fields = None
    if field_tokens is not None:
        fields = _sliced_fields(docs, field_tokens, vocab, tids, lengths, compact)
        if fields is None:
            names = sorted(dict.fromkeys(k for ft in field_tokens for k in ft))
            fields = {
                f: token_postings([ft.get(f, []) for ft in field_tokens], compact=compact)
                for f in names
            }
    return tp, (sigs if compact else sigs.tolist()), fields


def _prefix_tiles(ft: Mapping[str, Sequence[str]], toks: Sequence[str]) -> bool:
    """True when ``toks`` starts with ``ft``'s streams concatenated in key order."""
    i = 0
    for v in ft.values():
        j = i + len(v)
        if toks[i:j] != v:
            return False
        i = j
    return True


def _sliced_fields(
    docs: Sequence[Sequence[str]],
    field_tokens: Sequence[Mapping[str, Sequence[str]]],
    vocab: list[str],
    tids: npt.NDArray[np.int64],
    lengths: list[int],
    compact: bool,
) -> dict[str, dict[str, Any]] | None:
    """Per-field ``token_postings`` cut out of the unfielded ids (``None``: not tiled)."""
    n = len(docs)
    if not n or len(field_tokens) != n:
        return None
    keys = tuple(field_tokens[0])
    if not keys or any(tuple(ft) != keys for ft in field_tokens):
        return None
    if not all(map(_prefix_tiles, field_tokens, docs)):
        return None
    width = len(keys)
    flens = np.fromiter(
        map(len, itertools.chain.from_iterable(ft.values() for ft in field_tokens)),
        dtype=np.int64,
        count=n * width,
    ).reshape(n, width)
    doc_start = np.concatenate(([0], np.cumsum(np.asarray(lengths, dtype=np.int64))[:-1]))
    field_start = doc_start[:, None] + np.cumsum(flens, axis=1) - flens
    doc_ids = np.arange(n, dtype=np.int64)
    out: dict[str, dict[str, Any]] = {}
    for k in sorted(range(width), key=lambda i: keys[i]):
        lens = flens[:, k]
        total = int(lens.sum())
        ends = np.cumsum(lens)
        pos = np.repeat(field_start[:, k] - (ends - lens), lens) + np.arange(total, dtype=np.int64)
        gids = tids[pos]
        del pos
        # the field's vocabulary and its ids: a mask over the vocabulary, no sort
        seen = np.zeros(len(vocab), dtype=bool)
        seen[gids] = True
        present = np.flatnonzero(seen)
        local = (np.cumsum(seen, dtype=np.int64) - 1)[gids]
        del gids, seen
        fvocab = list(map(vocab.__getitem__, present.tolist()))
        del present
        flist = lens.tolist()
        out[keys[k]] = {
            "vocab": fvocab,
            "postings": _out(
                _group(fvocab, local, np.repeat(doc_ids, lens), n, with_tf=True), compact
            ),
            "docLengths": flist,
            "avgDocLen": sum(flist) / n,
            "totalDocs": n,
        }
    return out


def _minhash_array(
    vocab: Sequence[str],
    tids: npt.NDArray[np.int64],
    dids: npt.NDArray[np.int64],
    n: int,
    batch_tokens: int = MINHASH_BLOCK,
) -> npt.NDArray[np.uint32]:
    """MinHash rows from token-occurrence ids, distinct per doc and grouped by doc.

    The ``(pairs, 128)`` hash rows are gathered and min-reduced a block of whole docs
    (about ``batch_tokens`` pairs) at a time: a block that stays in cache, and block
    bounds found with ``searchsorted`` rather than a Python loop over every doc.
    """
    out = np.full((n, MINHASH_SEEDS), MINHASH_EMPTY, dtype=np.uint32)
    if not vocab or not len(tids):
        return out
    width = len(vocab)
    keys = _distinct(dids * width + tids, owned=True)
    # int32 when they fit: this runs next to the side thread's phrase n-grams
    idt = np.int32 if max(width, n) < 1 << 31 else np.int64
    tids = np.empty(len(keys), dtype=idt)
    np.remainder(keys, width, out=tids, casting="unsafe")
    docs = np.empty(len(keys), dtype=idt)
    np.floor_divide(keys, width, out=docs, casting="unsafe")
    del keys
    hashes = _token_hashes(vocab)
    # where each doc's run of distinct tokens starts (docs without tokens have no run)
    starts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    rows = docs[starts]
    del docs
    runs = len(starts)
    cuts = np.searchsorted(starts, np.arange(0, len(tids), max(batch_tokens, 1)), side="left")
    bounds: list[int] = np.unique(np.concatenate((cuts, [runs]))).tolist()
    for a, b in itertools.pairwise(bounds):
        if a == b:
            continue
        lo = int(starts[a])
        hi = int(starts[b]) if b < runs else len(tids)
        block = hashes[tids[lo:hi]]
        out[rows[a:b]] = np.minimum.reduceat(block, starts[a:b] - lo, axis=0)
        del block  # else the next block is gathered while this one is alive
    return out
