"""``chunk_file``: pick the chunker for a language, fall back cleanly, split oversize chunks."""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

from pairofcleats.lang.model import ChunkDraft, ChunkingLimits, FileChunks
from pairofcleats.lang.prose import markdown_chunks, rst_chunks
from pairofcleats.lang.regexdef import config_chunks, regex_chunks
from pairofcleats.lang.registry import LanguageSpec
from pairofcleats.lang.windows import split_oversize, window_chunks


def split_lines(text: str) -> list[str]:
    """Rows as tree-sitter counts them (``\\n`` only; ``\\r`` stays at the line end)."""
    return text.split("\n")


def chunk_file(rel_path: str, text: str, spec: LanguageSpec, limits: ChunkingLimits) -> FileChunks:
    """Chunk one decoded file; a failing grammar falls back to regex/windows with a warning."""
    lines = split_lines(text)
    stem = PurePosixPath(rel_path).stem or PurePosixPath(rel_path).name
    warnings: list[str] = []
    result: FileChunks | None = None
    if spec.chunker == "treesitter":
        try:
            from pairofcleats.lang.treesitter import chunk_tree_sitter

            result = chunk_tree_sitter(spec.id, text, lines, stem)
        except Exception as exc:  # a grammar that fails must not fail the build
            warnings.append(f"parser-fallback: {rel_path}: {type(exc).__name__}: {exc}")
            result = None
    if result is None:
        drafts: list[ChunkDraft]
        if spec.chunker == "markdown":
            drafts = markdown_chunks(lines, spec.id)
        elif spec.chunker == "rst":
            drafts = rst_chunks(lines, spec.id)
        elif spec.chunker == "config":
            drafts = config_chunks(spec.id, lines, stem)
        elif spec.chunker in ("regex", "treesitter"):
            drafts = regex_chunks(spec.id, lines, stem)
            if not drafts:
                drafts = window_chunks(lines, "Module", stem, spec.id, limits)
        else:
            kind = "Section" if spec.mode == "prose" else "Module"
            drafts = window_chunks(lines, kind, stem, spec.id, limits)
        result = FileChunks(chunks=tuple(drafts))
    split: list[ChunkDraft] = []
    for d in result.chunks:
        s, e = d.start_row, d.end_row
        while s < e and not lines[s].strip():
            s += 1
        while e > s and not lines[e].strip():
            e -= 1
        if (s, e) != (d.start_row, d.end_row):
            d = dataclasses.replace(d, start_row=s, end_row=e)
        split.extend(split_oversize(d, lines, limits))
    return FileChunks(
        chunks=tuple(split),
        extracted=result.extracted,
        imports=result.imports,
        exports=result.exports,
        keywords=result.keywords,
        warnings=tuple(warnings) + result.warnings,
    )
