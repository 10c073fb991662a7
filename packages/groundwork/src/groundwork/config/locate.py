"""Find the line of each key in a config file's text, for error messages.

Neither ``json`` nor ``tomllib`` reports positions of values, so these small
scanners walk the source once and map key paths (``("queue", "workers")``,
list items by index) to 1-based lines. They assume text the real parser has
already accepted; the TOML scanner is line-based and best effort (keys inside
inline tables and multi-line arrays fall back to their parent's line).
"""

from __future__ import annotations

import json
import re
from typing import Final

__all__ = ["KeyPath", "json_key_lines", "lookup_line", "toml_key_lines"]

KeyPath = tuple[str | int, ...]

_JSON_TOKEN: Final = re.compile(r'\s+|"(?:[^"\\\n]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


def json_key_lines(text: str) -> dict[KeyPath, int]:
    """Line of every object key and array item in JSON ``text`` (root is ``()``)."""
    lines: dict[KeyPath, int] = {}
    # frames: [path, is_object, pending key or next index]
    stack: list[list[object]] = []
    line = 1
    after_colon = False

    def value_path() -> KeyPath:
        if not stack:
            return ()
        path, _, slot = stack[-1]
        assert isinstance(path, tuple)
        assert isinstance(slot, str | int)
        return (*path, slot)

    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        first = tok[0]
        if first in " \t\r\n":
            line += tok.count("\n")
            continue
        in_object = bool(stack) and stack[-1][1] is True
        if first == '"' and in_object and not after_colon:
            stack[-1][2] = json.loads(tok)
            lines[value_path()] = line
        elif first == ":":
            after_colon = True
        elif first == ",":
            if stack and stack[-1][1] is False:
                index = stack[-1][2]
                assert isinstance(index, int)
                stack[-1][2] = index + 1
        elif first in "}]":
            stack.pop()
        else:  # a value starts here
            path = value_path()
            if not in_object:
                lines.setdefault(path, line)
            after_colon = False
            if first in "{[":
                stack.append([path, first == "{", "" if first == "{" else 0])
    return lines


def _parse_key(s: str, i: int) -> tuple[list[str], int]:
    """Dotted TOML key starting at ``s[i]``; stops at ``=`` or ``]`` outside quotes."""
    parts: list[str] = []
    n = len(s)
    while i < n:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n or s[i] in "=]":
            break
        c = s[i]
        if c == '"':
            j = i + 1
            while j < n and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            try:
                parts.append(json.loads(s[i : j + 1]))
            except ValueError:
                parts.append(s[i + 1 : j])
            i = j + 1
        elif c == "'":
            j = s.find("'", i + 1)
            j = n if j < 0 else j
            parts.append(s[i + 1 : j])
            i = j + 1
        elif c == ".":
            i += 1
        else:
            m = _BARE_KEY.match(s, i)
            if m is None:
                break
            parts.append(m.group())
            i = m.end()
    return parts, i


def _scan_value(s: str, i: int, depth: int, ml: str | None) -> tuple[int, str | None]:
    """Track bracket depth and open multi-line strings across a TOML value's lines."""
    n = len(s)
    while i < n:
        if ml is not None:
            end = s.find(ml, i)
            if end < 0:
                return depth, ml
            i = end + 3
            ml = None
            continue
        c = s[i]
        if c == "#":
            break
        if s.startswith(('"""', "'''"), i):
            ml = s[i : i + 3]
            i += 3
        elif c in "\"'":
            j = i + 1
            while j < n and s[j] != c:
                j += 2 if c == '"' and s[j] == "\\" else 1
            i = j + 1
        else:
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
            i += 1
    return depth, ml


def toml_key_lines(text: str) -> dict[KeyPath, int]:
    """Line of each table header and ``key =`` in TOML ``text``; ``[[x]]`` items by index."""
    lines: dict[KeyPath, int] = {}
    aot: dict[KeyPath, int] = {}  # array-of-tables path -> index of its last item
    table: KeyPath = ()
    depth = 0
    ml: str | None = None

    def resolve(parts: list[str]) -> KeyPath:
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            if path in aot:
                path = (*path, aot[path])
        return path

    def record(path: KeyPath, line: int) -> None:
        for k in range(1, len(path) + 1):
            lines.setdefault(path[:k], line)

    for lineno, raw in enumerate(text.splitlines(), 1):
        if ml is not None or depth > 0:
            depth, ml = _scan_value(raw, 0, depth, ml)
            continue
        s = raw.lstrip()
        if not s or s[0] == "#":
            continue
        if s.startswith("[["):
            parts, _ = _parse_key(s, 2)
            base = resolve(parts[:-1]) + tuple(parts[-1:])
            aot[base] = aot.get(base, -1) + 1
            table = (*base, aot[base])
            record(table, lineno)
        elif s[0] == "[":
            parts, _ = _parse_key(s, 1)
            table = resolve(parts)
            record(table, lineno)
        else:
            parts, end = _parse_key(s, 0)
            if not parts or end >= len(s) or s[end] != "=":
                continue
            record((*table, *parts), lineno)
            depth, ml = _scan_value(s, end + 1, 0, None)
    return lines


def lookup_line(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """Line of ``path`` or of its nearest ancestor that has one."""
    for k in range(len(path), -1, -1):
        line = lines.get(path[:k])
        if line is not None:
            return line
    return None
