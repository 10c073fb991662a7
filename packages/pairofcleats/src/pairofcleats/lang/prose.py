"""Heading chunkers for Markdown and reStructuredText (§4, prose mode)."""

from __future__ import annotations

import re

from pairofcleats.lang.model import ChunkDraft

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>])\1+\s*$")


def _has_alnum(lines: list[str], s: int, e: int) -> bool:
    return any(ch.isalnum() for r in range(s, e + 1) for ch in lines[r])


def _sections(
    lines: list[str], headings: list[tuple[int, int, int, str]], lang: str
) -> list[ChunkDraft]:
    """Turn ``(row, last_heading_row, level, title)`` into Section/Preamble drafts."""
    out: list[ChunkDraft] = []
    n = len(lines)
    first = headings[0][0] if headings else n
    if first > 0 and _has_alnum(lines, 0, first - 1):
        out.append(ChunkDraft(0, first - 1, "Preamble", "", lang))
    stack: list[tuple[int, str]] = []
    for i, (row, _last, level, title) in enumerate(headings):
        end = headings[i + 1][0] - 1 if i + 1 < len(headings) else n - 1
        while stack and stack[-1][0] >= level:
            stack.pop()
        path = tuple(t for _, t in stack)
        stack.append((level, title))
        out.append(ChunkDraft(row, end, "Section", title, lang, heading_path=path))
    return out


def markdown_chunks(lines: list[str], lang: str = "markdown") -> list[ChunkDraft]:
    """ATX/setext headings outside fences split sections; leading YAML → FrontMatter."""
    out: list[ChunkDraft] = []
    start = 0
    if lines and lines[0].strip() == "---":
        for r in range(1, len(lines)):
            if lines[r].strip() in ("---", "..."):
                out.append(ChunkDraft(0, r, "FrontMatter", "front-matter", lang))
                start = r + 1
                break
    headings: list[tuple[int, int, int, str]] = []
    fence: str | None = None
    r = start
    while r < len(lines):
        line = lines[r]
        m = _FENCE.match(line)
        if fence is not None:
            if (
                m
                and m.group(1)[0] == fence[0]
                and len(m.group(1)) >= len(fence)
                and not m.group(2).strip()
            ):
                fence = None
            r += 1
            continue
        if m:
            fence = m.group(1)
            r += 1
            continue
        a = _ATX.match(line)
        if a:
            headings.append((r, r, len(a.group(1)), (a.group(2) or "").strip()))
        elif (
            r + 1 < len(lines)
            and line.strip()
            and not line.startswith(("    ", "\t"))
            and _SETEXT.match(lines[r + 1])
            and not (headings and headings[-1][1] == r)
        ):
            level = 1 if lines[r + 1].strip()[0] == "=" else 2
            headings.append((r, r + 1, level, line.strip()))
            r += 2
            continue
        r += 1
    sub = lines[start:]
    shifted = [(h[0] - start, h[1] - start, h[2], h[3]) for h in headings]
    for d in _sections(sub, shifted, lang):
        out.append(
            ChunkDraft(
                d.start_row + start,
                d.end_row + start,
                d.kind,
                d.name,
                lang,
                heading_path=d.heading_path,
            )
        )
    return [d for d in out if _has_alnum(lines, d.start_row, d.end_row)]


def rst_chunks(lines: list[str], lang: str = "rst") -> list[ChunkDraft]:
    """Titles with an adornment line below (optionally above), one char repeated."""
    headings: list[tuple[int, int, int, str]] = []
    levels: list[tuple[str, bool]] = []
    r = 0
    n = len(lines)
    while r < n:
        title = lines[r].rstrip()
        if title.strip() and not _RST_ADORN.match(title) and r + 1 < n:
            under = lines[r + 1].rstrip()
            m = _RST_ADORN.match(under)
            if m and len(under) >= len(title.strip()):
                over = r > 0 and lines[r - 1].rstrip() == under
                style = (under[0], over)
                if style not in levels:
                    levels.append(style)
                first = r - 1 if over else r
                headings.append((first, r + 1, levels.index(style) + 1, title.strip()))
                r += 2
                continue
        r += 1
    return [
        d for d in _sections(lines, headings, lang) if _has_alnum(lines, d.start_row, d.end_row)
    ]


def markdown_fences(lines: list[str]) -> list[tuple[int, int, str]]:
    """Fenced code blocks: ``(first content row, last content row, info word)``."""
    out: list[tuple[int, int, str]] = []
    fence: str | None = None
    info = ""
    start = 0
    for r, line in enumerate(lines):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence, info, start = m.group(1), m.group(2).strip(), r + 1
            continue
        if (
            m
            and m.group(1)[0] == fence[0]
            and len(m.group(1)) >= len(fence)
            and not m.group(2).strip()
        ):
            if r - 1 >= start:
                out.append((start, r - 1, info.split()[0].lower() if info.split() else ""))
            fence = None
    return out
