"""Server-sent events, decoded line by line with no I/O.

The caller splits the body into lines (httpx's ``aiter_lines`` does, across
chunk boundaries and for ``\\n``, ``\\r\\n`` and ``\\r``) and feeds them in;
a blank line dispatches the event. Comment lines (``: keep-alive``) and events
without data are dropped here, so parsers above never see them.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed one line at a time; ``feed_line`` returns an event when one completes."""

    __slots__ = ("_data", "_event", "_first", "_id", "_retry")

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._first = True

    def feed_line(self, line: str) -> ServerSentEvent | None:
        line = line.rstrip("\r\n")
        if self._first:
            self._first = False
            line = line.removeprefix("\ufeff")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def flush(self) -> ServerSentEvent | None:
        """Dispatch what is buffered (call at end of stream for a final unterminated event)."""
        if not self._data:
            self._event = ""
            return None
        event = ServerSentEvent(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._data = []
        self._event = ""
        return event


def encode_event(data: str, event: str | None = None) -> str:
    """One event in wire form, multi-line data split into ``data:`` lines."""
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {part}\n" for part in data.split("\n"))
    return f"{head}{body}\n"


class LineSplitter:
    """Split streamed text on ``\\n``, ``\\r\\n`` and ``\\r`` only.

    ``str.splitlines`` (which httpx's ``aiter_lines`` uses) also breaks on
    U+0085, U+2028, ``\\x1c`` and friends, which a JSON payload may carry
    unescaped inside a string; cutting there corrupts the event. A line longer
    than ``max_line_chars`` raises ``ValueError`` instead of growing forever.
    """

    __slots__ = ("_buf", "_cr", "max_line_chars")

    def __init__(self, max_line_chars: int = 8 * 1024 * 1024) -> None:
        self._buf: list[str] = []
        self._cr = False
        self.max_line_chars = max_line_chars

    def feed(self, text: str) -> list[str]:
        if not text:
            return []
        if self._cr and text[0] == "\n":
            text = text[1:]
        self._cr = text.endswith("\r")
        parts = _EOL.split(text)
        if len(parts) == 1:
            self._buf.append(text)
            if sum(len(b) for b in self._buf) > self.max_line_chars:
                raise ValueError(f"stream line longer than {self.max_line_chars} characters")
            return []
        self._buf.append(parts[0])
        lines = ["".join(self._buf), *parts[1:-1]]
        self._buf = [parts[-1]] if parts[-1] else []
        return lines

    def flush(self) -> list[str]:
        """The unterminated last line, if any (call at end of stream)."""
        rest = "".join(self._buf)
        self._buf = []
        self._cr = False
        return [rest] if rest else []


class SSEStreamParser(abc.ABC):
    """Lines in, text pieces out, for the APIs that stream SSE (OpenAI, Anthropic).

    Subclasses turn each completed event into text pieces in ``_on_event`` and
    set ``_done`` when the stream's terminal event arrives.
    """

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, line: str) -> list[str]:
        event = self._sse.feed_line(line)
        return self._on_event(event) if event is not None else []

    def end(self) -> list[str]:
        event = self._sse.flush()
        return self._on_event(event) if event is not None else []

    @abc.abstractmethod
    def _on_event(self, event: ServerSentEvent) -> list[str]:
        """Text pieces carried by one event (raise for an error event)."""
