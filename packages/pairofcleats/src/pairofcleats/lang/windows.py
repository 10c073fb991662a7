"""Line windows (§4): the fallback chunker and the splitter for oversize chunks.

Both run in linear time over the lines (upstream B2 was quadratic).
"""

from __future__ import annotations

import dataclasses

from pairofcleats.lang.model import ChunkDraft, ChunkingLimits

_SLACK = 10


def _has_alnum(line: str) -> bool:
    return any(ch.isalnum() for ch in line)


def window_bounds(
    lines: list[str], start: int, end: int, window: int, max_bytes: int
) -> list[tuple[int, int]]:
    """Split rows ``start..end`` (inclusive) into windows of about ``window`` lines.

    Each cut lands on the blank line nearest the target within ±10 lines, and a
    window also ends before it would pass ``max_bytes``.
    """
    out: list[tuple[int, int]] = []
    s = start
    while s <= end:
        target = min(s + window - 1, end)
        size = 0
        for r in range(s, target + 1):
            size += len(lines[r].encode("utf-8")) + 1
            if size > max_bytes and r > s:
                target = r - 1
                break
        if target >= end:
            out.append((s, end))
            break
        best = target
        best_dist = _SLACK + 1
        lo = max(s, target - _SLACK)
        hi = min(end - 1, target + _SLACK)
        for r in range(lo, hi + 1):
            if not lines[r].strip():
                dist = abs(r - target)
                if dist < best_dist and (r <= target or size <= max_bytes):
                    best, best_dist = r, dist
        out.append((s, best))
        s = best + 1
    return out


def oversize_bounds(
    lines: list[str], start: int, end: int, limits: ChunkingLimits
) -> list[tuple[int, int]] | None:
    """The line windows of rows ``start..end`` if they are over a limit, else None."""
    if end - start + 1 <= limits.max_lines:
        # UTF-8 bytes of the rows, each with its newline (one join, not a loop per row)
        body = "\n".join(lines[start : end + 1])
        n_bytes = (len(body) if body.isascii() else len(body.encode("utf-8"))) + 1
        if n_bytes <= limits.max_bytes:
            return None
    return window_bounds(lines, start, end, limits.window_lines, limits.max_bytes)


def trim_blank_rows(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """``start..end`` without its leading and trailing blank rows (one row stays)."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end].strip():
        end -= 1
    return start, end


def has_alnum_row(lines: list[str], start: int, end: int) -> bool:
    return any(_has_alnum(lines[r]) for r in range(start, end + 1))


def split_oversize(draft: ChunkDraft, lines: list[str], limits: ChunkingLimits) -> list[ChunkDraft]:
    """The draft itself, or its line windows with spanIndex 0..k when over a limit.

    Each window keeps the draft's fields: only the tree-sitter chunker fills in the
    row-bound ones (comment, calls, imports), and it windows its own runs first."""
    bounds = oversize_bounds(lines, draft.start_row, draft.end_row, limits)
    if bounds is None:
        return [draft]
    out = []
    for i, (s, e) in enumerate(bounds):
        if not has_alnum_row(lines, s, e):
            continue
        out.append(dataclasses.replace(draft, start_row=s, end_row=e, span_index=i))
    return out


def window_chunks(
    lines: list[str], kind: str, name: str, lang: str, limits: ChunkingLimits
) -> list[ChunkDraft]:
    """The whole file as line windows (files with no structural chunker)."""
    if not lines:
        return []
    bounds = window_bounds(lines, 0, len(lines) - 1, limits.window_lines, limits.max_bytes)
    out = []
    multi = len(bounds) > 1
    for i, (s, e) in enumerate(bounds):
        if not any(_has_alnum(lines[r]) for r in range(s, e + 1)):
            continue
        out.append(ChunkDraft(s, e, kind, name, lang, span_index=i if multi else None))
    return out
