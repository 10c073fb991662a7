"""Stable JSON: one canonical byte form for hashing, diffing and JSONL.

``dumps`` is *canon*: byte-identical to the UTF-8 of ``json.dumps(v,
sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``,
so a hash of it matches what any other implementation of that rule computes.
orjson writes the bytes first; they are kept unless they hold an exponent float
(orjson spells ``1e-05`` as ``0.00001``) or a ``null`` (which may be a NaN
that orjson nulled), in which case :mod:`json` writes the value; when orjson
refuses a value (non-str key, big int, subclass, depth) a walk and :mod:`json`
decide. ``loads`` is strict RFC 8259: no NaN or
Infinity, valid UTF-8 only, no lone surrogates, and big integers stay exact.

JSONL: :func:`iter_jsonl` reads line by line in chunks, never holding more
than ``max_line_bytes`` of one line, and reports bad lines as :class:`BadLine`
records instead of raising; :class:`JsonlWriter` appends whole canon lines.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Final, Literal, Self

import orjson

from groundwork.errors import JsonError, LineTooLong

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "BadLine",
    "BadLineKind",
    "JsonError",
    "JsonlWriter",
    "LineTooLong",
    "dumps",
    "dumps_pretty",
    "iter_jsonl",
    "loads",
    "read_json",
    "utc_now_iso",
    "write_json",
]

DEFAULT_MAX_LINE_BYTES: Final = 1_048_576
"""Per-line cap for JSONL (1 MiB): one runaway record cannot exhaust memory."""

_I64_MIN: Final = -(2**63)
_U64_MAX: Final = 2**64 - 1
# ``repr(float)`` switches to exponent form outside [1e-4, 1e16); orjson's
# exponent spelling differs there (``1e-05`` vs ``0.00001``), so those go to json.
_FLOAT_PLAIN_MIN: Final = 1e-4
_FLOAT_PLAIN_MAX: Final = 1e16
# Leaves orjson always spells as json does (exact types only: subclasses are walked).
_LEAF_KINDS: Final = frozenset({str, bool, type(None)})
_INT_KIND: Final = frozenset({int})
_ORJSON_CANON: Final = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
# A run of 19+ digits may be an integer beyond 64 bits, which orjson would
# silently turn into a float; such input is parsed by json to stay exact.
# (translate + ``in`` finds the run ~10x faster than a regex over float digits.)
_DIGITS_TO_ZERO: Final = bytes(0x30 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
_LONG_DIGIT_RUN: Final = b"0" * 19
_READ_CHUNK: Final = 65_536
_LONG_INT: Final = re.compile(rb"(?<![0-9.eE+-])-?[0-9]{19,}(?![0-9.eE])")


def _orjson_safe(value: Any) -> bool:
    """Walk ``value``: True if orjson writes canon bytes for it.

    Raises :class:`JsonError` on a non-str dict key anywhere, because json would
    silently stringify int keys where canon must refuse them.
    """
    safe = True
    seen: set[int] = set()  # containers walked: a cycle or shared node goes to json
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if not _I64_MIN <= v <= _U64_MAX:
                safe = False
        elif t is float:
            if v != 0.0 and not _FLOAT_PLAIN_MIN <= abs(v) < _FLOAT_PLAIN_MAX:
                safe = False
        elif id(v) in seen:
            safe = False
        elif isinstance(v, dict):
            seen.add(id(v))
            for k in v:
                if not isinstance(k, str):
                    raise JsonError(f"dict key {k!r} is a {type(k).__name__}, not a str")
                if type(k) is not str:
                    safe = False
            if t is not dict:
                safe = False
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            seen.add(id(v))
            if t is not list and t is not tuple:
                safe = False
            # Token lists and id lists are most of a large value: judged by their set of
            # element types (C speed) instead of one stack round-trip per element.
            kinds = set(map(type, v))
            if kinds <= _LEAF_KINDS:
                continue
            if kinds == _INT_KIND:
                if min(v) < _I64_MIN or max(v) > _U64_MAX:
                    safe = False
                continue
            stack.extend(v)
        else:
            safe = False
    return safe


def _json_dumps(value: Any, *, indent: int | None) -> bytes:
    try:
        if indent is None:
            text = json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        else:
            text = json.dumps(
                value, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False
            )
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JsonError(f"string holds a lone surrogate: {exc.reason}") from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise JsonError(str(exc) or type(exc).__name__) from exc


# Bytes orjson may spell differently from json: an exponent float, a float below
# 1e-4 (orjson writes 0.00001 where repr writes 1e-05), or a null
# that could be a NaN/Infinity (orjson writes those as null; canon refuses them).
# A string merely containing such text only costs the slower json path.
# (bytes.translate + ``in`` runs at memchr speed; a regex alternation here was
# 20x slower than orjson itself.)
_DIGITS_AND_E: Final = bytes(
    0x30 if 0x30 <= c <= 0x39 else 0x65 if c in (0x45, 0x65) else c for c in range(256)
)


def _risky_spelling(text: bytes) -> bool:
    return b"0.0000" in text or b"0e" in text.translate(_DIGITS_AND_E)


_CONTAINER_KINDS: Final = frozenset({dict, list, tuple})


def _plain_float(x: float) -> bool:
    """Finite, and spelled by orjson as by ``repr`` (NaN and infinities fail both tests)."""
    return x == 0.0 or _FLOAT_PLAIN_MIN <= abs(x) < _FLOAT_PLAIN_MAX


_LEAF_OR_INT_KINDS: Final = frozenset({str, bool, type(None), int})


def _floats_canon(value: Any) -> bool:
    """True if every float in ``value`` is one orjson writes as json does.

    For a value orjson has already written: it refused non-str keys, >64-bit ints,
    subclasses and cycles, so floats are all that is left to judge. A container is
    judged by the set of its elements' types (C speed), and one holding no float and no
    container costs nothing more: on a medium build's bundles (nulls everywhere, hex
    digests that trip the byte scan) this took ~2 s where a walk of every element and a
    scan of the bytes outside strings took 15 s."""
    if type(value) not in _CONTAINER_KINDS:
        return type(value) is not float or _plain_float(value)
    seen: set[int] = set()  # containers expanded: a node shared by two parents once
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        items = v.values() if type(v) is dict else v
        kinds = set(map(type, items))
        if kinds <= _LEAF_OR_INT_KINDS:
            continue
        if float in kinds and not all(map(_plain_float, [x for x in items if type(x) is float])):
            return False
        if kinds.isdisjoint(_CONTAINER_KINDS) or id(v) in seen:
            continue
        seen.add(id(v))
        stack.extend([x for x in items if type(x) in _CONTAINER_KINDS])
    return True


def _encode(value: Any, *, pretty: bool) -> bytes:
    if not pretty:
        # Optimistic fast path: orjson refuses everything canon needs json for except
        # floats (non-str keys, >64-bit ints, builtin subclasses, deep nesting), and
        # writes NaN/Infinity as null and small/huge floats in its own spelling. Bytes
        # with no null and no float-like text are canon as they are; otherwise a walk
        # of the floats decides, still far cheaper than json.dumps.
        try:
            out = orjson.dumps(value, option=_ORJSON_CANON)
        except orjson.JSONEncodeError:
            pass
        else:
            if (b"null" not in out and not _risky_spelling(out)) or _floats_canon(value):
                return out
            return _json_dumps(value, indent=None)
    if _orjson_safe(value):
        try:
            if pretty:
                return orjson.dumps(
                    value, option=_ORJSON_CANON | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
                )
            return orjson.dumps(value, option=_ORJSON_CANON)
        except orjson.JSONEncodeError as exc:
            # Lone surrogates (and depth > 255) land here; json gives the verdict.
            if "recursion" not in str(exc).lower():
                raise JsonError(str(exc)) from exc
    if pretty:
        return _json_dumps(value, indent=2) + b"\n"
    return _json_dumps(value, indent=None)


def dumps(value: Any) -> bytes:
    """Canonical bytes: sorted keys, compact separators, UTF-8, no NaN.

    Raises :class:`JsonError` for non-str keys, NaN/Infinity, lone surrogates,
    cycles and values json cannot write.
    """
    return _encode(value, pretty=False)


def dumps_known_floats(value: Any, floats: Iterable[float]) -> bytes:
    """``dumps(value)`` for a caller that knows every float ``value`` holds: ``floats``.

    The canon check of a ``dumps`` whose output holds a ``null`` walks every container
    to tell a None from a NaN orjson wrote as null; a caller that builds the value knows
    where its floats are (a file bundle: the chunks' weights) and spares that walk, which
    was most of the cost of storing a medium build's bundles. A float outside ``floats``
    is the caller's bug: it is then written as orjson spells it.
    """
    if not all(map(_plain_float, floats)):
        return dumps(value)  # the slow path gives the verdict (JsonError for NaN)
    try:
        return orjson.dumps(value, option=_ORJSON_CANON)
    except orjson.JSONEncodeError:
        return dumps(value)


def dumps_pretty(value: Any) -> bytes:
    """Human-readable canon: sorted keys, indent 2, UTF-8, final newline."""
    return _encode(value, pretty=True)


def loads(data: bytes | bytearray | memoryview | str, *, path: str | None = None) -> Any:
    """Parse strict JSON; ``path`` only labels errors.

    Rejects NaN/Infinity, numbers that overflow a double, invalid UTF-8 and
    lone surrogates; integers of any size come back exact.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JsonError(exc.msg, path=path, line=exc.lineno, col=exc.colno) from exc
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if _LONG_DIGIT_RUN not in raw.translate(_DIGITS_TO_ZERO):
        return value
    # The cheap scan hit (often a long float fraction); re-parse only when an
    # *integer* literal (no fraction or exponent) of 19+ digits is present.
    if _LONG_INT.search(raw) is None:
        return value
    # orjson proved it strict JSON (no NaN, no overflow, no lone surrogate);
    # json re-parses it only to keep integers beyond 64 bits exact.
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:  # not expected after orjson accepted it
        raise JsonError(exc.msg, path=path, line=exc.lineno, col=exc.colno) from exc


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON file; errors name the file, line and column."""
    with open(path, "rb") as fh:
        data = fh.read()
    return loads(data, path=os.fspath(path))


def write_json(
    path: str | os.PathLike[str], value: Any, mode: int | None = None, *, pretty: bool = False
) -> None:
    """Write ``value`` atomically: canon bytes, or ``dumps_pretty`` with ``pretty``.

    Canon is the default so that a checksum of the file equals ``hash_json(value)``.
    ``mode=None`` keeps an existing file's permissions.
    """
    from groundwork.fsio import atomic_write  # fsio is a sibling; import on use

    data = dumps_pretty(value) if pretty else dumps(value)
    atomic_write(path, data, mode=mode)


def utc_now_iso(now: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC (ms truncated, never rounded up)."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- JSONL

BadLineKind = Literal["too_long", "invalid_json", "invalid_utf8", "truncated"]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A JSONL line that yielded no value.

    ``line_no`` is 1-based, ``offset`` the byte offset of the line's start and
    ``length`` its byte length without the ``\\n``. ``truncated`` is an
    unparsable last line with no ``\\n`` (a writer died mid-line).
    """

    line_no: int
    offset: int
    length: int
    kind: BadLineKind


def _parse_line(line: bytes, line_no: int, offset: int, *, last: bool) -> Any:
    try:
        return loads(line)
    except JsonError:
        pass
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return BadLine(line_no, offset, len(line), "invalid_utf8")
    return BadLine(line_no, offset, len(line), "truncated" if last else "invalid_json")


def _is_blank(line: bytes | bytearray) -> bool:
    return not line.strip(b" \t\r")


def iter_jsonl(
    src: str | os.PathLike[str] | IO[bytes],
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    *,
    chunk_size: int = _READ_CHUNK,
) -> Iterator[Any]:
    """Yield each line's value, or a :class:`BadLine`; blank lines are skipped.

    ``src`` is a path or a binary stream (read in ``chunk_size`` pieces, left
    open). Never raises on content: an over-cap line is skipped as it streams
    by and reported as ``too_long`` without being held in memory.
    """
    if max_line_bytes < 1 or chunk_size < 1:
        raise ValueError("max_line_bytes and chunk_size must be positive")
    if isinstance(src, str | os.PathLike):
        with open(src, "rb") as fh:
            yield from _iter_stream(fh, max_line_bytes, chunk_size)
    else:
        yield from _iter_stream(src, max_line_bytes, chunk_size)


def _iter_stream(stream: IO[bytes], cap: int, chunk_size: int) -> Iterator[Any]:
    buf = bytearray()  # the current line so far, never more than ``cap`` bytes
    over = 0  # > 0: the current line is over the cap; bytes seen of it
    line_no = 1
    start = 0  # stream offset of the current line
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        pos = 0
        n = len(chunk)
        while pos < n:
            nl = chunk.find(b"\n", pos)
            if nl >= 0 and not buf and not over and nl - pos <= cap:
                # Fast path: a whole line inside this chunk needs no buffering.
                line = chunk[pos:nl]
                if not _is_blank(line):
                    yield _parse_line(line, line_no, start, last=False)
                line_no += 1
                start += len(line) + 1
                pos = nl + 1
                continue
            end = n if nl < 0 else nl
            piece = memoryview(chunk)[pos:end]
            if over:
                over += len(piece)
            elif len(buf) + len(piece) > cap:
                over = len(buf) + len(piece)
                buf.clear()
            else:
                buf += piece
            if nl < 0:
                break
            length = over or len(buf)
            if over:
                yield BadLine(line_no, start, length, "too_long")
            elif not _is_blank(buf):
                yield _parse_line(bytes(buf), line_no, start, last=False)
            line_no += 1
            start += length + 1
            buf.clear()
            over = 0
            pos = nl + 1
    if over:
        yield BadLine(line_no, start, over, "too_long")
    elif buf and not _is_blank(buf):
        yield _parse_line(bytes(buf), line_no, start, last=True)


class JsonlWriter:
    """Append canon JSON lines to a file or binary stream, from any thread.

    Lines are buffered here and reach the target only on :meth:`flush` (or
    when ``flush_bytes`` are pending), always as whole lines, so a crash leaves
    no half line from a partial buffer. A record over ``max_line_bytes`` raises
    :class:`LineTooLong` and nothing is written.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        append: bool = True,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        *,
        flush_bytes: int | None = 65_536,
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self._flush_bytes = flush_bytes
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._closed = False
        self.lines_written = 0
        self._owns: IO[bytes] | None
        if isinstance(target, str | os.PathLike):
            self._owns = open(target, "ab" if append else "wb", buffering=0)  # noqa: SIM115
            self._out: IO[bytes] = self._owns
        else:
            self._owns = None
            self._out = target

    def write(self, value: Any) -> int:
        """Queue one record; returns its line length in bytes (with ``\\n``)."""
        line = dumps(value)
        if len(line) > self.max_line_bytes:
            raise LineTooLong(len(line), self.max_line_bytes)
        line += b"\n"
        with self._lock:
            if self._closed:
                raise ValueError("JsonlWriter is closed")
            self._pending.append(line)
            self._pending_bytes += len(line)
            self.lines_written += 1
            if self._flush_bytes is not None and self._pending_bytes >= self._flush_bytes:
                self._flush_locked(fsync=False)
        return len(line)

    def flush(self, *, fsync: bool = False) -> None:
        """Write pending lines through to the target; ``fsync`` also syncs a file."""
        with self._lock:
            self._flush_locked(fsync=fsync)

    def _flush_locked(self, *, fsync: bool) -> None:
        if self._pending:
            data = memoryview(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0
            while data:  # raw files may take less than asked
                written = self._out.write(data)
                data = data[written if written is not None else 0 :]
        self._out.flush()
        if fsync and self._owns is not None:
            os.fsync(self._owns.fileno())

    def close(self) -> None:
        """Flush and close a file this writer opened; a passed stream stays open."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked(fsync=False)
            finally:
                self._closed = True
                if self._owns is not None:
                    self._owns.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
