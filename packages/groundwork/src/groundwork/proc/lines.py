"""Pure line splitting for child output: chunks in, capped lines out.

Kept apart from the reader threads so it can be property-tested: for any data
and any way of cutting it into chunks, the lines are the same.
"""

from __future__ import annotations

__all__ = ["LineSplitter"]


class LineSplitter:
    """Split a byte stream on ``\\n``; drop one trailing ``\\r``; cap line length.

    A line longer than ``max_line_bytes`` comes out in pieces of that size, so
    memory stays bounded however long a line a child writes.
    """

    __slots__ = ("_buf", "max_line_bytes")

    def __init__(self, max_line_bytes: int) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.max_line_bytes = max_line_bytes
        self._buf = b""

    @staticmethod
    def _strip_cr(line: bytes) -> bytes:
        return line[:-1] if line.endswith(b"\r") else line

    def _cut(self, line: bytes) -> list[bytes]:
        cap = self.max_line_bytes
        return [line[i : i + cap] for i in range(0, len(line), cap)] or [b""]

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete lines (and over-cap pieces) that ``chunk`` finishes."""
        buf = self._buf + chunk
        out: list[bytes] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            out.extend(self._cut(self._strip_cr(buf[start:nl])))
            start = nl + 1
        rest = buf[start:]
        cap = self.max_line_bytes
        # an over-cap partial line is emitted in full pieces now; keep a possible
        # trailing "\r" back, since it may turn out to be half of "\r\n"
        while len(rest) > cap and not (len(rest) == cap + 1 and rest.endswith(b"\r")):
            out.append(rest[:cap])
            rest = rest[cap:]
        self._buf = rest
        return out

    def flush(self) -> list[bytes]:
        """What is left at end of stream (a last line without ``\\n``)."""
        rest, self._buf = self._buf, b""
        if not rest:
            return []
        return self._cut(self._strip_cr(rest))
