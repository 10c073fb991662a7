"""One mode's index as search sees it, read through its pieces manifest (§1, §5, §9.5).

Pieces are found only through the manifest (the build's ``IndexReader``); large pieces are
parsed on first use, and posting lists become numpy arrays per token on demand, so a cold
query pays only for what it touches. ``signature`` (the build's ``index_signature``, roadmap
§1.4) keys every cache: any change to any listed piece changes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import orjson
from groundwork import jsonio

from pairofcleats.artifacts import scan
from pairofcleats.artifacts.reader import IndexReader, signature_files, stat_signature
from pairofcleats.embeddings.quantize import dequantize
from pairofcleats.errors import IndexInvalid
from pairofcleats.search.rank import FieldStats, Postings

__all__ = ["DenseVectors", "LazyRows", "ModeIndex", "PackedPostings", "PostingsTable"]

T = TypeVar("T")
Buf = scan.FileBytes
#: Chunk weights are read for runs of this many records at once (one read per run).
WEIGHT_PAGE = 512
#: Vocabularies up to this many bytes are held in memory (larger ones are read per probe).
VOCAB_IN_MEMORY = 8 << 20
#: What the fast reader may meet in a piece it cannot index; it then parses the piece whole.
_FALLBACK = (scan.ShapeError, ValueError, IndexError, KeyError, TypeError, OSError)


class PostingsTable:
    """A vocabulary and its posting lists, with length statistics.

    ``postings[id]`` stays the parsed ``[[docId, tf], …]`` list until a query asks for that
    token; then it becomes two int64 arrays (cached).
    """

    def __init__(
        self,
        vocab: list[str],
        postings: list[Any],
        stats: FieldStats | None,
        *,
        with_tf: bool = True,
    ) -> None:
        self.vocab = vocab
        self._ids: dict[str, int] | None = None
        self._raw = postings
        self._cache: dict[int, Postings] = {}
        self.stats = stats
        self.with_tf = with_tf
        self._lock = threading.Lock()

    @property
    def ids(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {tok: i for i, tok in enumerate(self.vocab)}
        return self._ids

    def __contains__(self, token: str) -> bool:
        return token in self.ids

    def df(self, token: str) -> int:
        tid = self.ids.get(token)
        return 0 if tid is None else len(self._raw[tid])

    def lookup(self, token: str) -> Postings | None:
        """Posting list of ``token`` (None when absent)."""
        tid = self.ids.get(token)
        if tid is None:
            return None
        hit = self._cache.get(tid)
        if hit is not None:
            return hit
        raw = self._raw[tid]
        if self.with_tf:
            arr = np.asarray(raw, dtype=np.int64).reshape(-1, 2)
            built = Postings(np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]))
        else:
            ids = np.asarray(raw, dtype=np.int64).reshape(-1)
            built = Postings(ids, np.ones(ids.size, dtype=np.int64))
        with self._lock:
            self._cache[tid] = built
        return built


def _stats(obj: Mapping[str, Any]) -> FieldStats:
    lengths = np.asarray(obj.get("docLengths", []), dtype=np.float64)
    total = int(obj.get("totalDocs", lengths.size))
    avg = float(obj.get("avgDocLen", float(lengths.mean()) if lengths.size else 0.0))
    return FieldStats(lengths, avg, total)


class PackedPostings:
    """A vocabulary and its posting lists left in the piece's bytes (read with ``pread``).

    Only positions are held: where each vocabulary string and each posting list starts and
    ends. A token is found by binary search over the sorted vocabulary (decoding ~20 short
    strings) and its list is decoded to int64 arrays when first asked for (then cached), so
    memory grows with the tokens queries touch, not with the index.
    """

    def __init__(
        self,
        buf: Buf,
        vocab_at: npt.NDArray[np.int64],
        vocab_end: int,
        lists: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
        stats: FieldStats | None,
        *,
        with_tf: bool = True,
    ) -> None:
        if not (vocab_at.size == lists[0].size == lists[1].size):
            raise scan.ShapeError("vocab and postings differ in length")
        self._buf = buf
        self._vocab_at = vocab_at
        self._vocab_end = vocab_end
        # a small vocabulary is kept in memory: a lookup's ~20 probes then cost no syscall
        first = int(vocab_at[0]) if vocab_at.size else vocab_end
        self._vocab_base = first
        self._vocab: bytes | None = (
            buf[first:vocab_end] if vocab_end - first <= VOCAB_IN_MEMORY else None
        )
        self._open, self._close = lists
        self.stats = stats
        self.with_tf = with_tf
        self._ids: dict[str, int | None] = {}
        self._cache: dict[int, Postings] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._vocab_at.size)

    def term(self, i: int) -> str:
        """Vocabulary entry ``i``."""
        start = int(self._vocab_at[i])
        end = int(self._vocab_at[i + 1]) if i + 1 < self._vocab_at.size else self._vocab_end
        if self._vocab is not None:
            raw = self._vocab[start - self._vocab_base : end - self._vocab_base]
        else:
            raw = self._buf[start:end]
        value = orjson.loads(raw.rstrip(b", \t\r\n"))
        if not isinstance(value, str):
            raise scan.ShapeError("vocabulary entry is not a string")
        return value

    def _find(self, token: str) -> int | None:
        hit = self._ids.get(token, -1)
        if hit != -1:
            return hit
        lo, hi = 0, len(self)
        while lo < hi:  # the vocabulary is sorted by code point (§5), as str compares
            mid = (lo + hi) // 2
            if self.term(mid) < token:
                lo = mid + 1
            else:
                hi = mid
        found = lo if lo < len(self) and self.term(lo) == token else None
        with self._lock:
            self._ids[token] = found
        return found

    def __contains__(self, token: str) -> bool:
        return self._find(token) is not None

    def df(self, token: str) -> int:
        hit = self.lookup(token)
        return 0 if hit is None else int(hit.doc_ids.size)

    def lookup(self, token: str) -> Postings | None:
        """Posting list of ``token`` (None when absent)."""
        tid = self._find(token)
        if tid is None:
            return None
        hit = self._cache.get(tid)
        if hit is not None:
            return hit
        flat = scan.parse_ints(self._buf[int(self._open[tid]) + 1 : int(self._close[tid])])
        if self.with_tf:
            if flat.size % 2:
                raise scan.ShapeError("odd posting list")
            pairs = flat.reshape(-1, 2)
            built = Postings(np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1]))
        else:
            built = Postings(flat, np.ones(flat.size, dtype=np.int64))
        with self._lock:
            self._cache[tid] = built
        return built


@dataclass(frozen=True, slots=True)
class _Member:
    start: int  # first byte of the value
    end: int  # last byte of a container value (its closing bracket), else one past the value
    container: bool


def _members(sk: scan.Skeleton, buf: Buf, lo: int, hi: int, level: int) -> dict[str, _Member]:
    """The members of the object spanning bytes ``lo..hi`` whose keys sit at ``level``."""
    strings = sk.strings(level, lo, hi).tolist()
    child_opens = sk.opens(level + 1, lo, hi)
    child_closes = sk.closes(level + 1, lo, hi)
    out: dict[str, _Member] = {}
    n = 0
    while n < len(strings):
        at = strings[n]
        colon = buf.find(b'":', at + 1)
        if colon < 0 or colon >= hi:
            raise scan.ShapeError("key without a value")
        key = orjson.loads(buf[at : colon + 1])
        start = colon + 2
        while buf[start : start + 1] in (b" ", b"\n", b"\t", b"\r"):
            start += 1
        n += 1
        if buf[start : start + 1] in (b"[", b"{"):
            k = int(np.searchsorted(child_opens, start))
            if k >= child_opens.size or child_opens[k] != start:
                raise scan.ShapeError("container not indexed")
            out[key] = _Member(start, int(child_closes[k]), True)
            continue
        if n < len(strings) and strings[n] == start:
            n += 1  # a string value sits at this level too: it is not the next key
        stop = strings[n] if n < len(strings) else hi
        out[key] = _Member(start, stop, False)
    return out


def _scalar(buf: Buf, m: _Member) -> Any:
    return orjson.loads(buf[m.start : m.end].rstrip(b", \t\r\n}"))


def _packed_table(
    sk: scan.Skeleton, buf: Buf, lo: int, hi: int, level: int, *, with_tf: bool, stats: bool
) -> PackedPostings:
    """The ``{vocab, postings[, docLengths, avgDocLen, totalDocs]}`` object at ``lo..hi``."""
    mem = _members(sk, buf, lo, hi, level)
    vocab, postings = mem["vocab"], mem["postings"]
    if not (vocab.container and postings.container):
        raise scan.ShapeError("vocab/postings are not arrays")
    lists = (
        sk.opens(level + 2, postings.start, postings.end),
        sk.closes(level + 2, postings.start, postings.end),
    )
    field_stats = None
    if stats:
        dl = mem.get("docLengths")
        lengths = (
            scan.parse_ints(buf[dl.start + 1 : dl.end]).astype(np.float64)
            if dl is not None and dl.container
            else np.zeros(0, dtype=np.float64)
        )
        total = int(_scalar(buf, mem["totalDocs"])) if "totalDocs" in mem else lengths.size
        avg = (
            float(_scalar(buf, mem["avgDocLen"]))
            if "avgDocLen" in mem
            else (float(lengths.mean()) if lengths.size else 0.0)
        )
        field_stats = FieldStats(lengths, avg, total)
    return PackedPostings(
        buf,
        sk.strings(level + 1, vocab.start, vocab.end),
        vocab.end,
        lists,
        field_stats,
        with_tf=with_tf,
    )


class LazyRows(Sequence[Any]):
    """JSON rows (array elements or JSONL lines) located in mapped pieces, decoded on access.

    ``weight(i)`` reads a chunk record's ``weight`` from the record's tail (canonical records
    end with it, keys being sorted) without decoding the record.
    """

    def __init__(
        self,
        parts: list[tuple[Buf, npt.NDArray[np.int64], npt.NDArray[np.int64]]],
        exact: Callable[[], list[tuple[Buf, npt.NDArray[np.int64], npt.NDArray[np.int64]]]]
        | None = None,
    ) -> None:
        self._parts = parts
        self._exact = exact  # positions from the full scan, if these came from byte patterns
        counts = [int(starts.size) for _b, starts, _e in parts]
        self._offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def _slice(self, i: int) -> bytes:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        p = int(np.searchsorted(self._offsets, i, side="right")) - 1
        buf, starts, ends = self._parts[p]
        k = i - int(self._offsets[p])
        return buf[int(starts[k]) : int(ends[k])]

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        try:
            return orjson.loads(self._slice(int(i)))
        except orjson.JSONDecodeError:
            if self._exact is None:
                raise
            exact, self._exact = self._exact, None
            self._parts = exact()  # a pattern matched inside a record: use the exact scan
            return self[i]

    def __iter__(self) -> Iterator[Any]:
        for k in range(len(self)):
            yield self[k]

    def weight(self, i: int) -> float:
        return _tail_weight(self._slice(i))

    def weights_page(self, first: int, last: int) -> list[float]:
        """Weights of records ``first..last`` (one read for the run, then tail lookups)."""
        out: list[float] = []
        k = first
        while k <= last:
            p = int(np.searchsorted(self._offsets, k, side="right")) - 1
            buf, starts, ends = self._parts[p]
            lo, hi = k - int(self._offsets[p]), min(last - int(self._offsets[p]), starts.size - 1)
            base = int(starts[lo])
            raw = buf[base : int(ends[hi])]
            for a, b in zip(starts[lo : hi + 1].tolist(), ends[lo : hi + 1].tolist(), strict=True):
                out.append(_tail_weight(raw[a - base : b - base]))
            k += hi - lo + 1
        return out


def _tail_weight(raw: bytes) -> float:
    """A chunk record's ``weight``: canonical records end with it (keys are sorted)."""
    tail = raw[-40:]
    at = tail.rfind(b'"weight":')
    if at >= 0 and tail.endswith(b"}"):
        try:
            return float(tail[at + 9 : -1]) or 1.0
        except ValueError:
            pass
    record = orjson.loads(raw)
    return float(record.get("weight", 1.0) or 1.0) if isinstance(record, dict) else 1.0


def _array_rows(path: Path) -> tuple[Buf, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Element spans of a top-level JSON array of objects."""
    sk = scan.skeleton(path, 2)
    if sk.opens(1).size != 1:
        raise scan.ShapeError("not one top-level array")
    starts, closes = sk.opens(2), sk.closes(2)
    buf = scan.open_map(path)
    if buf[int(sk.opens(1)[0]) : int(sk.opens(1)[0]) + 1] != b"[":
        raise scan.ShapeError("not an array")
    return buf, starts, closes + 1


def _line_rows(path: Path) -> tuple[Buf, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    bounds = scan.line_starts(path)
    return scan.open_map(path), bounds[:-1], bounds[1:]


def _canonical_rows(fb: Buf, expected: int | None) -> tuple[npt.NDArray[np.int64], ...]:
    """Record spans of a canonical chunk_meta array: records are split at ``},{"end":``
    (sorted keys: ``end`` comes first). Trusted only when the count is the manifest's; a
    match inside a record would also make some span fail to decode (see ``LazyRows``)."""
    if fb[0:2] != b"[{" or fb[fb.size - 2 : fb.size] != b"}]" or expected is None:
        raise scan.ShapeError("not a canonical array of records")
    cuts = np.asarray(scan.find_all(fb, b'},{"end":'), dtype=np.int64)
    starts = np.concatenate(([1], cuts + 2)).astype(np.int64)
    ends = np.concatenate((cuts + 1, [fb.size - 1])).astype(np.int64)
    if starts.size != expected:
        raise scan.ShapeError("record count differs from the manifest")
    return starts, ends


def _key_at(fb: Buf, key: bytes, lo: int, hi: int) -> int:
    hits = scan.find_all(fb, key, lo, hi)
    if len(hits) != 1:
        raise scan.ShapeError(f"{key!r} not found once")
    return hits[0]


def _canonical_table(fb: Buf, lo: int, hi: int, *, with_tf: bool, stats: bool) -> PackedPostings:
    """The canonical ``{avgDocLen?, docLengths?, postings, totalDocs?, vocab}`` object
    spanning ``lo`` (``{``) .. ``hi`` (``}``), located from byte patterns."""
    if fb[lo : lo + 1] != b"{" or fb[hi : hi + 1] != b"}":
        raise scan.ShapeError("not an object")
    p_key = _key_at(fb, b'"postings":[', lo, hi)
    v_key = _key_at(fb, b'"vocab":[', lo, hi)
    p0 = p_key + 11
    after = _key_at(fb, b',"totalDocs":', p0, v_key) if stats else v_key - 1
    p1 = after - 1
    v0, v1 = v_key + 8, hi - 1
    if fb[p1 : p1 + 1] != b"]" or fb[v1 : v1 + 1] != b"]" or fb[p0 : p0 + 1] != b"[":
        raise scan.ShapeError("unexpected postings layout")
    if with_tf:
        opens = scan.pair_marks(fb, p0, p1 + 1, 91, 91)[1:]
        closes = scan.pair_marks(fb, p0, p1 + 1, 93, 93)[:-1] + 1
    else:
        opens = scan.byte_marks(fb, p0 + 1, p1, 91)
        closes = scan.byte_marks(fb, p0 + 1, p1, 93)
    field_stats = None
    if stats:
        d_key = _key_at(fb, b'"docLengths":[', lo, p_key)
        lengths = scan.parse_ints(fb[d_key + 14 : p_key - 2]).astype(np.float64)
        avg_text = fb[lo + 1 : d_key].removeprefix(b'"avgDocLen":').rstrip(b",")
        total_text = fb[after + 13 : v_key - 1]
        field_stats = FieldStats(lengths, float(orjson.loads(avg_text)), int(total_text))
    return PackedPostings(
        fb, scan.string_list_starts(fb, v0, v1), v1, (opens, closes), field_stats, with_tf=with_tf
    )


def _canonical_fields(fb: Buf) -> dict[str, PackedPostings | PostingsTable]:
    """``{"fields":{name:{…},…}}`` split at each field's ``:{"avgDocLen":``."""
    if fb[0:11] != b'{"fields":{' or fb[fb.size - 3 : fb.size] != b"}}}":
        raise scan.ShapeError("not canonical field postings")
    marks = scan.find_all(fb, b':{"avgDocLen":', 10)
    out: dict[str, PackedPostings | PostingsTable] = {}
    for k, at in enumerate(marks):
        name_start = 11  # {"fields":{"<name>
        if k:
            name_start = fb[max(0, at - 256) : at].rfind(b',"') + max(0, at - 256) + 1
        name = orjson.loads(fb[name_start:at])
        end = (
            fb[max(0, marks[k + 1] - 256) : marks[k + 1]].rfind(b'},"') + max(0, marks[k + 1] - 256)
            if k + 1 < len(marks)
            else fb.size - 3
        )
        if not isinstance(name, str):
            raise scan.ShapeError("field name is not a string")
        out[name] = _canonical_table(fb, at + 1, end, with_tf=True, stats=True)
    return out


def _top_object(sk: scan.Skeleton, buf: Buf) -> tuple[int, int]:
    """Span of the document's one top-level object."""
    if sk.opens(1).size != 1 or sk.closes(1).size != 1:
        raise scan.ShapeError("not one top-level value")
    lo, hi = int(sk.opens(1)[0]), int(sk.closes(1)[0])
    if buf[lo : lo + 1] != b"{":
        raise scan.ShapeError("not an object")
    return lo, hi


def _streams(row: Any) -> dict[str, list[str]]:
    streams = row.get("fields", row) if isinstance(row, dict) else {}
    return {k: v for k, v in streams.items() if isinstance(v, list)}


class _FieldRows(Sequence[dict[str, list[str]]]):
    """``field_tokens`` rows as field streams, decoded on access."""

    def __init__(self, rows: LazyRows) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return _streams(self._rows[i])


class _ListRows(list[Any]):
    """Parsed chunk records behind the :class:`LazyRows` interface (fallback)."""

    def weight(self, i: int) -> float:
        return float(self[i].get("weight", 1.0) or 1.0)

    def weights_page(self, first: int, last: int) -> list[float]:
        return [self.weight(k) for k in range(first, last + 1)]


def _dense_piece(variant: str) -> str:
    return "dense_vectors_uint8" if variant == "merged" else f"dense_vectors_{variant}_uint8"


@dataclass(frozen=True, slots=True)
class DenseVectors:
    """Unit float32 rows of one variant plus the model that made them."""

    variant: str
    model: str
    dims: int
    matrix: npt.NDArray[np.float32]


class ModeIndex:
    """Everything one ``index-<mode>/`` holds, parsed lazily and thread-safely."""

    def __init__(self, mode: str, index_dir: Path) -> None:
        self.mode = mode
        self.dir = index_dir
        self.reader = IndexReader(index_dir)
        state_path = index_dir / "index_state.json"
        try:
            state = jsonio.loads(state_path.read_bytes()) if state_path.exists() else {}
        except (OSError, ValueError) as err:
            raise IndexInvalid(f"cannot read {state_path}: {err}") from err
        self.state: dict[str, Any] = state if isinstance(state, dict) else {}
        self._signed = signature_files(index_dir, self.reader)
        self.signature = stat_signature(index_dir, self._signed)
        self._values: dict[str, Any] = {}
        self._lock = threading.RLock()

    def stale(self) -> bool:
        """True when any signed file (manifest, state, a listed piece) changed since load.

        Cheap enough per request (one ``stat`` per piece, no parse), so a warm searcher never
        serves data or cached results of a piece rewritten in place (R2).
        """
        return stat_signature(self.dir, self._signed) != self.signature

    # -- pieces ---------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return self.reader.has(name)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """Compute ``build()`` once per loaded index (derived columns, caches)."""
        with self._lock:
            if key not in self._values:
                self._values[key] = build()
            value: T = self._values[key]
            return value

    def _json(self, name: str) -> Any:
        return self.memo("json:" + name, lambda: self.reader.read_json(name))

    def _jsonl(self, name: str) -> list[Any]:
        return self.memo("jsonl:" + name, lambda: list(self.reader.iter_jsonl(name)))

    def _fast(self, key: str, fast: Callable[[], T], slow: Callable[[], T]) -> T:
        """``fast()`` (positions only, see :mod:`pairofcleats.artifacts.scan`), or ``slow()``
        (parse the piece whole) when the piece is not laid out as the fast reader expects."""

        def build() -> T:
            try:
                return fast()
            except _FALLBACK:
                return slow()

        return self.memo(key, build)

    def _expected(self, name: str) -> int | None:
        count = getattr(self.reader.entry(name), "count", None)
        return int(count) if count is not None else None

    # -- chunk metadata -------------------------------------------------------------------
    @property
    def rows(self) -> LazyRows | _ListRows:
        """``chunk_meta`` records in id order, decoded one at a time on access."""

        def fast() -> LazyRows | _ListRows:
            if self.has("chunk_meta"):
                path = self.reader.path("chunk_meta")
                buf = scan.open_map(path)
                try:
                    starts, ends = _canonical_rows(buf, self._expected("chunk_meta"))
                    return LazyRows([(buf, starts, ends)], lambda: [_array_rows(path)])
                except _FALLBACK:
                    return LazyRows([_array_rows(path)])
            meta = self.reader.read_json("chunk_meta.meta")
            return LazyRows(
                [
                    _line_rows(self.reader.path(f"chunk_meta.part-{k:05d}"))
                    for k in range(len(meta.get("parts", [])))
                ]
            )

        def slow() -> LazyRows | _ListRows:
            return _ListRows(self.chunks)

        return self._fast("rows", fast, slow)

    @property
    def chunks(self) -> list[dict[str, Any]]:
        """Every ``chunk_meta`` record parsed (sharded JSONL parts are joined); filters and
        tools that need them all use this, a query reads :attr:`rows`."""
        return self.memo("chunks", self.reader.chunk_meta)

    def chunk(self, doc: int) -> dict[str, Any]:
        row: dict[str, Any] = self.rows[doc]
        return row

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        return self.memo("weights", lambda: self.weights_of(np.arange(self.count)))

    def weights_of(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Chunk weights of ``ids``, read from their records' tails once and remembered."""
        col = self.memo("weight-col", lambda: np.full(self.count, np.nan, dtype=np.float64))
        ids = np.asarray(ids, dtype=np.int64)
        want = ids[np.isnan(col[ids])]
        if want.size:
            rows = self.rows
            for page in np.unique(want // WEIGHT_PAGE).tolist():
                first = page * WEIGHT_PAGE
                last = min(first + WEIGHT_PAGE, self.count) - 1
                col[first : last + 1] = rows.weights_page(first, last)
        return col[ids]

    @property
    def file_meta(self) -> list[dict[str, Any]]:
        return self.memo(
            "file_meta", lambda: list(self._json("file_meta")) if self.has("file_meta") else []
        )

    @property
    def file_relations(self) -> list[dict[str, Any]]:
        return self.memo(
            "file_relations",
            lambda: list(self._json("file_relations")) if self.has("file_relations") else [],
        )

    @property
    def filter_index(self) -> dict[str, Any]:
        return self.memo(
            "filter_index",
            lambda: dict(self._json("filter_index")) if self.has("filter_index") else {},
        )

    # -- postings -------------------------------------------------------------------------
    @property
    def tokens(self) -> PackedPostings | PostingsTable:
        def fast() -> PackedPostings | PostingsTable:
            path = self.reader.path("token_postings")
            buf = scan.open_map(path)
            try:
                return _canonical_table(buf, 0, buf.size - 1, with_tf=True, stats=True)
            except _FALLBACK:
                sk = scan.skeleton(path, 3, (1, 2))
                lo, hi = _top_object(sk, buf)
                return _packed_table(sk, buf, lo, hi, 1, with_tf=True, stats=True)

        def slow() -> PackedPostings | PostingsTable:
            data = self._json("token_postings")
            return PostingsTable(list(data["vocab"]), data["postings"], _stats(data))

        return self._fast("tokens", fast, slow)

    @property
    def fields(self) -> Mapping[str, PackedPostings | PostingsTable]:
        def fast() -> dict[str, PackedPostings | PostingsTable]:
            path = self.reader.path("field_postings")
            buf = scan.open_map(path)
            try:
                return _canonical_fields(buf)
            except _FALLBACK:
                pass
            sk = scan.skeleton(path, 5, (1, 2, 3, 4))
            lo, hi = _top_object(sk, buf)
            top = _members(sk, buf, lo, hi, 1)
            if "fields" not in top:
                return {}
            fobj = top["fields"]
            if not fobj.container:
                raise scan.ShapeError("fields is not an object")
            out: dict[str, PackedPostings | PostingsTable] = {}
            for name, m in _members(sk, buf, fobj.start, fobj.end, 2).items():
                if not m.container:
                    raise scan.ShapeError("a field is not an object")
                out[name] = _packed_table(sk, buf, m.start, m.end, 3, with_tf=True, stats=True)
            return out

        def slow() -> dict[str, PackedPostings | PostingsTable]:
            data = self._json("field_postings")
            out: dict[str, PackedPostings | PostingsTable] = {}
            for field, obj in dict(data.get("fields", {})).items():
                out[field] = PostingsTable(list(obj["vocab"]), obj["postings"], _stats(obj))
            return out

        if not self.has("field_postings"):
            return {}
        return self._fast("fields", fast, slow)

    @property
    def field_tokens(self) -> Sequence[dict[str, list[str]]]:
        """Per chunk its field streams (JSONL rows decoded on access)."""

        def fast() -> Sequence[dict[str, list[str]]]:
            return _FieldRows(LazyRows([_line_rows(self.reader.path("field_tokens"))]))

        def slow() -> Sequence[dict[str, list[str]]]:
            return [_streams(row) for row in self._jsonl("field_tokens")]

        if not self.has("field_tokens"):
            return []
        return self._fast("field_tokens", fast, slow)

    def _doc_table(self, name: str) -> PackedPostings | PostingsTable | None:
        def fast() -> PackedPostings | PostingsTable:
            path = self.reader.path(name)
            buf = scan.open_map(path)
            try:
                return _canonical_table(buf, 0, buf.size - 1, with_tf=False, stats=False)
            except _FALLBACK:
                sk = scan.skeleton(path, 3, (1, 2))
                lo, hi = _top_object(sk, buf)
                return _packed_table(sk, buf, lo, hi, 1, with_tf=False, stats=False)

        def slow() -> PackedPostings | PostingsTable:
            data = self._json(name)
            return PostingsTable(list(data["vocab"]), data["postings"], None, with_tf=False)

        if not self.has(name):
            return None
        return self._fast("table:" + name, fast, slow)

    @property
    def phrases(self) -> PackedPostings | PostingsTable | None:
        return self._doc_table("phrase_ngrams")

    @property
    def chargrams(self) -> PackedPostings | PostingsTable | None:
        return self._doc_table("chargram_postings")

    @property
    def minhash(self) -> npt.NDArray[np.uint32] | None:
        def load() -> npt.NDArray[np.uint32] | None:
            if not self.has("minhash_signatures"):
                return None
            data = self._json("minhash_signatures")
            sigs = data.get("signatures", []) if isinstance(data, dict) else data
            return np.asarray(sigs, dtype=np.uint32).reshape(len(sigs), -1)

        return self.memo("minhash", load)

    @property
    def postings_settings(self) -> dict[str, Any]:
        features = self.state.get("features", {})
        return dict(features.get("postings", {})) if isinstance(features, dict) else {}

    @property
    def fielded(self) -> bool:
        features = self.state.get("features", {})
        if isinstance(features, dict) and "fielded" in features:
            return bool(features["fielded"])
        return bool(self.fields)

    # -- dense ----------------------------------------------------------------------------
    def dense_variants(self) -> tuple[str, ...]:
        names = {"dense_vectors_uint8": "merged"}
        names.update({f"dense_vectors_{v}_uint8": v for v in ("doc", "code")})
        return tuple(v for name, v in names.items() if self.has(name))

    def dense_info(self, variant: str) -> tuple[str, int] | None:
        """``(model, dims)`` of a variant's vectors, from their small JSON meta only: a query
        answered by the HNSW graph needs no float matrix (on a 500k-chunk repo, building
        it cost a cold CLI search 1.3 GB of RSS and ~2 s before the graph was asked)."""
        name = _dense_piece(variant)
        if not self.has(name):
            return None

        def load() -> tuple[str, int]:
            meta = self.reader.read_json(name)
            return str(meta.get("model", "")), int(meta["dims"])

        return self.memo("dense-info:" + variant, load)

    def dense_rows(
        self, variant: str, rows: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32] | None:
        """Unit float32 rows ``rows`` of a variant: from the float matrix if a query already
        built it, else dequantised from the uint8 rows alone (the same floats)."""
        with self._lock:
            built = self._values.get("dense:" + variant)
        if built is not None:
            matrix: npt.NDArray[np.float32] = built.matrix[rows]
            return matrix
        name = _dense_piece(variant)
        if not self.has(name):
            return None
        meta, raw = self.memo("dense-raw:" + variant, lambda: self.reader.dense(name))
        return dequantize(
            raw[rows],
            min_val=float(meta.get("minVal", -1.0)),
            scale=float(meta.get("scale", 2 / 255)),
        )

    def dense(self, variant: str) -> DenseVectors | None:
        name = _dense_piece(variant)
        if not self.has(name):
            return None

        def load() -> DenseVectors:
            # the uint8 rows ``dense_rows`` kept, if it ran first: read once, and not held
            # beside the float matrix that serves every later query
            with self._lock:
                kept = self._values.pop("dense-raw:" + variant, None)
            meta, raw = kept if kept is not None else self.reader.dense(name)
            matrix = dequantize(
                raw,
                min_val=float(meta.get("minVal", -1.0)),
                scale=float(meta.get("scale", 2 / 255)),
            )
            return DenseVectors(variant, str(meta.get("model", "")), int(meta["dims"]), matrix)

        return self.memo("dense:" + variant, load)

    def hnsw(self) -> Any | None:
        """The usearch HNSW graph over the merged vectors (memory-mapped), if one was built.

        ``usearch`` is imported only here, when a search actually uses the graph.
        """
        if not self.has("dense_vectors_hnsw"):
            return None

        def load() -> Any:
            from usearch.index import Index

            graph = Index.restore(str(self.reader.path("dense_vectors_hnsw")), view=True)
            if graph is None:
                raise IndexInvalid(f"{self.dir.name}/dense_vectors_hnsw cannot be opened")
            return graph

        return self.memo("hnsw", load)
