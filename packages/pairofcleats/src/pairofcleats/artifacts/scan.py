"""A structural index of a JSON piece, built without parsing it (for the memory backend).

Parsing ``token_postings`` or ``chunk_meta`` into Python lists and dicts costs gigabytes on a
medium repo. Instead the file is read block by block (``os.pread``: the bytes never become
part of the process's resident set) and numpy finds, outside strings, where every container
at a few nesting levels opens and closes and where the strings at chosen levels start. Search
then reads exactly the bytes it needs with ``os.pread`` (one token's posting list, one chunk
record) and decodes only those. Escapes are honoured (a quote preceded by an odd
run of backslashes is not a delimiter), so any valid JSON is indexed correctly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from io import RawIOBase
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "FileBytes",
    "ShapeError",
    "Skeleton",
    "line_starts",
    "open_map",
    "parse_ints",
    "skeleton",
]

BLOCK = 1 << 22
I64 = npt.NDArray[np.int64]
_QUOTE, _BSLASH = 34, 92
_OPENERS = (91, 123)  # [ {
_CLOSERS = (93, 125)  # ] }
_NO_BRACKETS = bytes.maketrans(b"[]", b"  ")


class ShapeError(ValueError):
    """The piece does not have the layout the fast reader expects (callers fall back)."""


@dataclass(frozen=True, slots=True)
class Skeleton:
    """Container and string positions of one JSON document.

    ``level`` is the nesting depth inside a container (the top-level value is level 1); a
    string's level is that of the container holding it. The k-th open at a level matches the
    k-th close at that level.
    """

    open_pos: I64
    open_level: I64
    close_pos: I64
    close_level: I64
    str_pos: I64
    str_level: I64
    size: int

    def opens(self, level: int, lo: int = -1, hi: int | None = None) -> I64:
        return _within(self.open_pos[self.open_level == level], lo, hi)

    def closes(self, level: int, lo: int = -1, hi: int | None = None) -> I64:
        return _within(self.close_pos[self.close_level == level], lo, hi)

    def strings(self, level: int, lo: int = -1, hi: int | None = None) -> I64:
        return _within(self.str_pos[self.str_level == level], lo, hi)


def _within(pos: I64, lo: int, hi: int | None) -> I64:
    a = int(np.searchsorted(pos, lo, side="right"))
    b = pos.size if hi is None else int(np.searchsorted(pos, hi, side="left"))
    return pos[a:b]


def _escaped(
    b: npt.NDArray[np.uint8], quotes: I64, carry: int
) -> tuple[npt.NDArray[np.bool_], int]:
    """Which ``quotes`` are escaped, and the backslash run length at the block's end."""
    bs = np.flatnonzero(b == _BSLASH)
    if bs.size == 0:
        esc = np.zeros(quotes.size, dtype=np.bool_)
        if carry % 2 and quotes.size and quotes[0] == 0:
            esc[0] = True
        return esc, 0
    starts = np.ones(bs.size, dtype=np.bool_)
    starts[1:] = np.diff(bs) != 1
    first = np.maximum.accumulate(np.where(starts, np.arange(bs.size), 0))
    run_from = bs[first]  # where each backslash's run starts
    j = np.searchsorted(bs, quotes) - 1
    jj = np.maximum(j, 0)
    adjacent = (j >= 0) & (bs[jj] == quotes - 1)
    run = np.where(adjacent, bs[jj] - run_from[jj] + 1, 0)
    run = run + np.where(adjacent & (run_from[jj] == 0), carry, 0)
    run = np.where(~adjacent & (quotes == 0), carry, run)
    tail = 0
    if b.size and b[-1] == _BSLASH:
        tail = int(bs[-1] - run_from[-1] + 1) + (carry if run_from[-1] == 0 else 0)
    return (run % 2) == 1, tail


def skeleton(path: Path, max_level: int, str_levels: tuple[int, ...] = ()) -> Skeleton:
    """Index ``path``: containers up to ``max_level`` and string starts at ``str_levels``."""
    opens: list[I64] = []
    open_lv: list[I64] = []
    closes: list[I64] = []
    close_lv: list[I64] = []
    strs: list[I64] = []
    str_lv: list[I64] = []
    want_str = np.asarray(str_levels, dtype=np.int64)
    depth = 0
    in_str = 0
    carry_bs = 0
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        for base, b in _file_blocks(fh, size):
            quotes = np.flatnonzero(b == _QUOTE)
            if quotes.size:
                esc, carry_bs = _escaped(b, quotes, carry_bs)
                real = quotes[~esc]
            else:
                real = quotes
                carry_bs = _tail_backslashes(b, carry_bs)
            cont = np.flatnonzero(
                (b == _OPENERS[0]) | (b == _OPENERS[1]) | (b == _CLOSERS[0]) | (b == _CLOSERS[1])
            )
            if real.size and cont.size:
                outside = ((in_str + np.searchsorted(real, cont)) % 2) == 0
                cont = cont[outside]
            elif in_str:
                cont = cont[:0]
            is_open = (b[cont] == _OPENERS[0]) | (b[cont] == _OPENERS[1])
            delta = np.where(is_open, 1, -1).astype(np.int64)
            after = depth + np.cumsum(delta)
            level = np.where(is_open, after, after + 1)
            keep = level <= max_level
            o = keep & is_open
            c = keep & ~is_open
            opens.append(cont[o] + base)
            open_lv.append(level[o])
            closes.append(cont[c] + base)
            close_lv.append(level[c])
            if want_str.size and real.size:
                k = np.arange(real.size)
                starting = real[((in_str + k) % 2) == 0]
                idx = np.searchsorted(cont, starting)
                lv = (
                    np.where(idx > 0, after[np.maximum(idx - 1, 0)], depth)
                    if cont.size
                    else (np.full(starting.size, depth, dtype=np.int64))
                )
                sel = np.isin(lv, want_str)
                strs.append(starting[sel] + base)
                str_lv.append(np.asarray(lv, dtype=np.int64)[sel])
            if after.size:
                depth = int(after[-1])
            in_str = (in_str + int(real.size)) % 2
    if depth != 0 or in_str:
        raise ShapeError(f"{path.name}: unbalanced JSON")

    def cat(parts: list[I64]) -> I64:
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    return Skeleton(
        cat(opens), cat(open_lv), cat(closes), cat(close_lv), cat(strs), cat(str_lv), size
    )


def _tail_backslashes(b: npt.NDArray[np.uint8], carry: int) -> int:
    if not b.size or b[-1] != _BSLASH:
        return 0
    non = np.flatnonzero(b != _BSLASH)
    return int(b.size - 1 - non[-1]) if non.size else b.size + carry


def _file_blocks(fh: RawIOBase, size: int) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    """(offset, bytes) of each ``BLOCK``-sized read up to ``size``, through one reused buffer.

    A yielded array is only valid until the next one: callers keep derived arrays, not it.
    """
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    base = 0
    while base < size:
        n = fh.readinto(view)
        if not n:
            break
        yield base, np.frombuffer(buf, dtype=np.uint8, count=n)
        base += n


def line_starts(path: Path) -> I64:
    """Byte offsets of every non-empty line of a JSONL file, plus the file size at the end."""
    starts: list[I64] = [np.zeros(1, dtype=np.int64)]
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        for base, b in _file_blocks(fh, size):
            starts.append(np.flatnonzero(b == 10).astype(np.int64) + base + 1)
    bounds = np.concatenate(starts)
    if bounds[-1] != size:
        bounds = np.append(bounds, size)
    keep = np.diff(bounds) > 1  # drop empty lines (a lone "\n")
    return np.append(bounds[:-1][keep], size)


class FileBytes:
    """Slices of a file read with ``os.pread`` on demand (no ``mmap``).

    A map would turn a piece truncated in place under a warm reader into SIGBUS; a read past
    the end just comes back short (the reader's stat check then reloads). The descriptor pins
    the inode, so a piece replaced by rename keeps serving the bytes it was indexed from.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.size = os.fstat(self._fd).st_size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(self.size)
        return os.pread(self._fd, stop - start, start) if stop > start else b""

    def find(self, sub: bytes, start: int, step: int = 4096) -> int:
        """The first offset of ``sub`` at or after ``start`` (-1 when absent)."""
        at = start
        while at < self.size:
            chunk = self[at : at + step + len(sub)]
            hit = chunk.find(sub)
            if hit >= 0:
                return at + hit
            at += step
        return -1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def open_map(path: Path) -> FileBytes:
    """Random access to ``path``'s bytes."""
    return FileBytes(path)


def parse_ints(text: bytes) -> I64:
    """The integers of a (possibly nested) JSON array body such as ``[1,2],[3,4]``."""
    body = text.translate(_NO_BRACKETS).strip()
    if not body:
        return np.zeros(0, dtype=np.int64)
    want = body.count(b",") + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # older numpy only warns on unparsed text
            out = np.fromstring(body, dtype=np.int64, sep=",")  # text mode: C speed
    except (ValueError, DeprecationWarning) as exc:
        raise ShapeError("not a list of integers") from exc
    if out.size != want:
        raise ShapeError("not a list of integers")
    return out


# -- canonical-layout fast paths ----------------------------------------------------------------
# Pieces written by the build are canonical JSON (compact, sorted keys). For their two big
# shapes the positions can be found from byte patterns alone, which is several times faster
# than the general scan; every result is checked against counts the caller knows (vocabulary
# size, manifest record count) and a record that fails to decode sends the caller back to
# :func:`skeleton`, so a pattern that happens to match inside a string is never trusted.


def find_all(fb: FileBytes, pattern: bytes, lo: int = 0, hi: int | None = None) -> list[int]:
    """Every offset of ``pattern`` in ``fb[lo:hi]`` (for patterns that occur rarely-ish)."""
    end = fb.size if hi is None else hi
    out: list[int] = []
    at = lo
    k = len(pattern)
    while at < end:
        stop = min(end, at + BLOCK)
        chunk = fb[at : min(end, stop + k - 1)]
        pos = chunk.find(pattern)
        while pos >= 0 and at + pos < stop:
            out.append(at + pos)
            pos = chunk.find(pattern, pos + 1)
        at = stop
    return out


def _blocks(
    fb: FileBytes, lo: int, hi: int, overlap: int
) -> Iterator[tuple[int, npt.NDArray[np.uint8], int]]:
    """``(offset, bytes incl. overlap, usable length)`` blocks of ``fb[lo:hi]``."""
    at = lo
    while at < hi:
        stop = min(hi, at + BLOCK)
        raw = fb[at : min(hi, stop + overlap)]
        yield at, np.frombuffer(raw, dtype=np.uint8), stop - at
        at = stop


def pair_marks(fb: FileBytes, lo: int, hi: int, first: int, second: int) -> I64:
    """Offsets ``i`` in ``lo..hi`` with ``fb[i] == first`` and ``fb[i+1] == second``."""
    parts: list[I64] = []
    for at, b, n in _blocks(fb, lo, hi, 1):
        if b.size < 2:
            continue
        hit = np.flatnonzero((b[:-1] == first) & (b[1:] == second))
        parts.append(hit[hit < n] + at)
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def byte_marks(fb: FileBytes, lo: int, hi: int, value: int) -> I64:
    parts = [np.flatnonzero(b[:n] == value) + at for at, b, n in _blocks(fb, lo, hi, 0)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def string_list_starts(fb: FileBytes, lo: int, hi: int) -> I64:
    """Element starts of a JSON array of strings spanning ``lo`` (``[``) .. ``hi`` (``]``).

    Elements are separated by ``","`` whose first quote is real (preceded by an even run of
    backslashes); inside a string that sequence can only appear with the quotes escaped.
    """
    if hi - lo < 2:
        return np.zeros(0, dtype=np.int64)
    parts: list[I64] = [np.asarray([lo + 1], dtype=np.int64)]
    for at, b, n in _blocks(fb, lo + 1, hi, 2):
        if b.size < 3:
            continue
        hit = np.flatnonzero((b[:-2] == _QUOTE) & (b[1:-1] == 44) & (b[2:] == _QUOTE))
        hit = hit[hit < n]
        suspect = hit[(hit > 0) & (b[np.maximum(hit - 1, 0)] == _BSLASH)]
        if suspect.size:
            bad = [int(s) for s in suspect.tolist() if _backslashes_before(fb, at + int(s)) % 2]
            hit = np.setdiff1d(hit, np.asarray(bad, dtype=np.int64))
        parts.append(hit + at + 2)
    return np.concatenate(parts).astype(np.int64)


def _backslashes_before(fb: FileBytes, pos: int) -> int:
    run = 0
    while pos - run - 1 >= 0 and fb[pos - run - 1 : pos - run] == b"\\":
        run += 1
    return run
