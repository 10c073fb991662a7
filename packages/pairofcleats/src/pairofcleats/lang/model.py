"""Plain values the chunkers hand to the build: drafts (no ids yet) and per-file results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChunkingLimits:
    """``indexing.chunking``: a chunk above maxLines/maxBytes is split into windows."""

    max_lines: int = 400
    max_bytes: int = 32768
    window_lines: int = 80


@dataclass(slots=True)
class ChunkDraft:
    """One chunk before ids are assigned; lines are 0-based rows, ``end_row`` inclusive.

    ``lang`` is the effective language (a fence's language inside Markdown);
    ``keywords`` is the language keyword set used to split the keyword field.

    Not frozen: a frozen dataclass's ``__init__`` sets each of the 19 fields through
    ``object.__setattr__`` (~3x the cost, and a build makes ~200K drafts). Only the
    chunker that makes a draft fills it in; everything downstream treats it as a value
    (``dataclasses.replace`` for a changed copy).
    """

    start_row: int
    end_row: int
    kind: str
    name: str
    lang: str
    span_index: int | None = None
    doc: str = ""
    signature: str = ""
    comment: str = ""
    params: tuple[dict[str, Any], ...] = ()
    returns: str | None = None
    decorators: tuple[str, ...] = ()
    modifiers: dict[str, Any] = field(default_factory=dict)
    calls: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    heading_path: tuple[str, ...] | None = None
    segment: dict[str, Any] | None = None
    exported: bool = False
    #: Rows (0-based, inclusive ranges) blanked out of the body stream (comments).
    comment_rows: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FileChunks:
    """Everything chunking produced for one file."""

    chunks: tuple[ChunkDraft, ...]
    extracted: tuple[ChunkDraft, ...] = ()
    imports: tuple[str, ...] = ()
    exports: tuple[str, ...] = ()
    keywords: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    #: Code chunks of fenced blocks in a Markdown file (code mode, with ``segment``).
    segment_chunks: tuple[ChunkDraft, ...] = ()
