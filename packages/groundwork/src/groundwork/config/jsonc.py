"""JSONC to JSON: drop ``//`` and ``/* */`` comments and trailing commas.

The output has the same length and the same line breaks as the input (removed
characters become spaces), so every line and column a JSON parser reports on
it is a position in the user's file.
"""

from __future__ import annotations

from typing import Any, Final

from groundwork import jsonio
from groundwork.errors import JsonError

__all__ = ["loads_jsonc", "strip_jsonc"]

_WS: Final = frozenset(" \t\r\n")


def _blank(text: str) -> str:
    """Spaces for ``text``, keeping its newlines (so lines stay put)."""
    return "".join(c if c == "\n" else " " for c in text)


def _strip_comments(text: str) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    start = 0  # start of the pending run copied verbatim
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] == "\n":  # unterminated string: json will report it
                    break
                i += 1
            i += 1
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[start:i])
            out.append(" " * (end - i))
            i = start = end
        elif c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                line = text.count("\n", 0, i) + 1
                col = i - (text.rfind("\n", 0, i) + 1) + 1
                raise JsonError("unterminated /* comment", line=line, col=col)
            end += 2
            out.append(text[start:i])
            out.append(_blank(text[i:end]))
            i = start = end
        else:
            i += 1
    out.append(text[start:])
    return "".join(out)


def _strip_trailing_commas(text: str) -> str:
    chars = list(text)
    n = len(chars)
    i = 0
    while i < n:
        c = chars[i]
        if c == '"':
            i += 1
            while i < n and chars[i] != '"' and chars[i] != "\n":
                i += 2 if chars[i] == "\\" else 1
            i += 1
            continue
        if c == ",":
            j = i + 1
            while j < n and chars[j] in _WS:
                j += 1
            k = i - 1
            while k >= 0 and chars[k] in _WS:
                k -= 1
            # ``[,]`` and ``[1,,]`` stay errors: only a comma after a value goes.
            if j < n and chars[j] in "}]" and k >= 0 and chars[k] not in "{[,":
                chars[i] = " "
        i += 1
    return "".join(chars)


def strip_jsonc(text: str) -> str:
    """JSON text for JSONC ``text``, position for position.

    A leading BOM becomes a space. Raises :class:`JsonError` (with line and
    column) only for an unterminated block comment; anything else that is not
    JSON is left for the JSON parser to report.
    """
    if text.startswith("\ufeff"):
        text = " " + text[1:]
    return _strip_trailing_commas(_strip_comments(text))


def loads_jsonc(text: str, *, path: str | None = None) -> Any:
    """Parse JSONC strictly otherwise (no NaN, exact big ints); errors carry line/col."""
    try:
        return jsonio.loads(strip_jsonc(text), path=path)
    except JsonError as exc:
        if exc.path is None and path is not None:
            raise JsonError(str(exc), path=path, line=exc.line, col=exc.col) from exc
        raise
