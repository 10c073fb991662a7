"""Decoder: a child's output bytes in, protocol events out; no I/O of its own.

Feed it chunks as they arrive from each pipe (``feed(chunk, stream)``) and
call :meth:`Decoder.close` at EOF. Lines are split on LF, CR and CRLF at the
byte level — UTF-8 never uses those bytes inside a character, so a character
split across chunks is rejoined with its line. A line that passes the strict
parser is passed through unchanged; any other line becomes a ``log`` event
(``info`` from stdout, ``warn`` from stderr), so nothing a child writes is
lost. A line over ``max_line_bytes`` is never buffered: its bytes are counted
and dropped, and one ``warn`` log reports it when the line ends.

Wrapped lines get ``seq`` from the decoder's own counters (per ``jobId`` of
``context``, else per stream); a supervisor that needs one sequence for a job
re-stamps everything with :meth:`Emitter.forward`.
"""

from __future__ import annotations

import os
import re
import selectors
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from .events import ENVELOPE_KEYS, PROTO, Event, ProgressError, parse_event, utc_now_iso

__all__ = ["DEFAULT_MAX_LINE_BYTES", "Decoder", "iter_events", "iter_streams"]

DEFAULT_MAX_LINE_BYTES = 1_048_576
_PREVIEW_BYTES = 200
_BREAK = re.compile(rb"\r\n?|\n")
_LEVEL_FOR_STREAM = {"stdout": "info", "stderr": "warn"}


@dataclass(slots=True)
class _LineBuffer:
    """The unfinished line of one stream."""

    data: bytearray = field(default_factory=bytearray)
    overflow: int = 0  # > 0: bytes seen of an over-cap line being discarded
    preview: bytes = b""
    after_cr: bool = False  # the last chunk ended in CR: a leading LF is its pair


class Decoder:
    """Turns chunks of one or more streams into events; see the module docstring.

    ``stream`` is the stream name used when :meth:`feed` is not told one;
    ``extra_events`` admits kinds beyond the allow-list; ``context`` fields
    (``jobId``, ``runId``) are added to wrapped lines.
    """

    def __init__(
        self,
        stream: str = "stdout",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        *,
        extra_events: Iterable[str] = (),
        context: Mapping[str, Any] | None = None,
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.stream = stream
        self.max_line_bytes = max_line_bytes
        self.extra_events = frozenset(extra_events)
        self.context = {k: v for k, v in (context or {}).items() if k not in ENVELOPE_KEYS}
        self._buffers: dict[str, _LineBuffer] = {}
        self._seq: dict[str, int] = {}

    def feed(self, chunk: bytes, stream: str | None = None) -> list[Event]:
        """Add bytes read from ``stream``; returns the events of completed lines."""
        name = stream or self.stream
        buf = self._buffers.setdefault(name, _LineBuffer())
        out: list[Event] = []
        view = memoryview(chunk)
        start = 0
        if buf.after_cr and chunk[:1] == b"\n":
            start = 1
        buf.after_cr = False
        for match in _BREAK.finditer(chunk, start):
            self._append(buf, view[start : match.start()])
            self._finish(buf, name, out)
            start = match.end()
            if match.group() == b"\r" and start == len(chunk):
                buf.after_cr = True
        self._append(buf, view[start:])
        return out

    def close(self, stream: str | None = None) -> list[Event]:
        """End of input on ``stream`` (or on every stream): flush unfinished lines."""
        names = [stream] if stream is not None else list(self._buffers)
        out: list[Event] = []
        for name in names:
            buf = self._buffers.pop(name, None)
            if buf is not None:
                self._finish(buf, name, out)
        return out

    # ----------------------------------------------------------- internals

    def _append(self, buf: _LineBuffer, piece: memoryview) -> None:
        if not piece:
            return
        if buf.overflow:
            buf.overflow += len(piece)
            return
        if len(buf.data) + len(piece) > self.max_line_bytes:
            head = bytes(buf.data[:_PREVIEW_BYTES])
            buf.preview = head + bytes(piece[: max(0, _PREVIEW_BYTES - len(head))])
            buf.overflow = len(buf.data) + len(piece)
            buf.data = bytearray()
            return
        buf.data += piece

    def _finish(self, buf: _LineBuffer, stream: str, out: list[Event]) -> None:
        if buf.overflow:
            size, preview = buf.overflow, buf.preview
            buf.overflow, buf.preview = 0, b""
            text = preview.decode("utf-8", errors="replace")
            out.append(
                self._wrap(
                    stream,
                    f"dropped a {size}-byte line from {stream}: over the "
                    f"{self.max_line_bytes}-byte line cap (starts {text!r})",
                    level="warn",
                    meta={"lineBytes": size, "maxLineBytes": self.max_line_bytes, "dropped": True},
                )
            )
            return
        if not buf.data:
            return
        line = bytes(buf.data)
        buf.data = bytearray()
        if line[:1] == b"{":
            try:
                out.append(parse_event(line, self.extra_events))
                return
            except ProgressError:
                pass
        out.append(self._wrap(stream, line.decode("utf-8", errors="replace")))

    def _wrap(
        self,
        stream: str,
        message: str,
        *,
        level: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Event:
        fields: dict[str, Any] = {
            **self.context,
            "level": level or _LEVEL_FOR_STREAM.get(stream, "info"),
            "message": message,
            "stream": stream,
        }
        if meta is not None:
            fields["meta"] = meta
        job = fields.get("jobId")
        key = f"job:{job}" if isinstance(job, str) and job else f"stream:{stream}"
        seq = self._seq.get(key, 0)
        self._seq[key] = seq + 1
        return Event(event="log", seq=seq, ts=utc_now_iso(), fields=fields, proto=PROTO)


def iter_events(
    source: IO[bytes] | int,
    stream: str = "stdout",
    *,
    decoder: Decoder | None = None,
    chunk_size: int = 65536,
) -> Iterator[Event]:
    """Read ``source`` (a binary file or a file descriptor) to EOF, yielding events.

    Reads whatever is available (``os.read``), so events arrive as the child
    writes them rather than when a buffer fills.
    """
    dec = decoder or Decoder(stream)
    fd = source if isinstance(source, int) else source.fileno()
    while True:
        chunk = os.read(fd, chunk_size)
        if not chunk:
            break
        yield from dec.feed(chunk, stream)
    yield from dec.close(stream)


def iter_streams(
    sources: Mapping[str, IO[bytes] | int],
    *,
    decoder: Decoder | None = None,
    chunk_size: int = 65536,
) -> Iterator[Event]:
    """Read several pipes at once (``{"stdout": p.stdout, "stderr": p.stderr}``).

    Events come out in arrival order until every source hits EOF. Reading one
    pipe to the end before the other can deadlock a child that fills the
    second pipe; a selector avoids that without threads.
    """
    dec = decoder or Decoder()
    with selectors.DefaultSelector() as sel:
        for name, src in sources.items():
            sel.register(src if isinstance(src, int) else src.fileno(), selectors.EVENT_READ, name)
        while sel.get_map():
            for key, _ in sel.select():
                name = key.data
                chunk = os.read(key.fd, chunk_size)
                if chunk:
                    yield from dec.feed(chunk, name)
                else:
                    sel.unregister(key.fd)
                    yield from dec.close(name)
