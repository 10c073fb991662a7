"""``chunk_file``: pick the chunker for a language, fall back cleanly, split oversize chunks."""

from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

from pairofcleats.lang.model import ChunkDraft, ChunkingLimits, FileChunks
from pairofcleats.lang.prose import markdown_chunks, markdown_fences, rst_chunks
from pairofcleats.lang.regexdef import config_chunks, regex_chunks
from pairofcleats.lang.registry import LanguageSpec, language_by_id
from pairofcleats.lang.windows import split_oversize, trim_blank_rows, window_chunks

FENCE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "jsx": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "golang": "go",
    "rs": "rust",
    "c++": "cpp",
    "cxx": "cpp",
    "cc": "cpp",
    "hpp": "cpp",
    "h": "c",
    "cs": "csharp",
    "c#": "csharp",
    "rb": "ruby",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "console": "shell",
    "kt": "kotlin",
    "yml": "yaml",
}


def fence_language(info: str) -> LanguageSpec | None:
    """The registry code language a fence's info string names, if any."""
    word = info.strip("{}.").lower()
    spec = language_by_id(FENCE_ALIASES.get(word, word))
    if spec is None or spec.mode != "code" or spec.chunker == "config":
        return None
    return spec


def _fence_chunks(
    rel_path: str, lines: list[str], limits: ChunkingLimits
) -> tuple[list[ChunkDraft], list[str]]:
    out: list[ChunkDraft] = []
    warnings: list[str] = []
    for k, (s, e, info) in enumerate(markdown_fences(lines)):
        spec = fence_language(info)
        if spec is None:
            continue
        sub = chunk_file(f"{rel_path}#fence{k}", "\n".join(lines[s : e + 1]), spec, limits)
        warnings.extend(sub.warnings)
        seg = {"segmentId": f"fence{k}", "type": "fence", "languageId": spec.id, "rows": [s, e]}
        for d in sub.chunks:
            out.append(
                dataclasses.replace(
                    d,
                    start_row=d.start_row + s,
                    end_row=d.end_row + s,
                    comment_rows=tuple((a + s, b + s) for a, b in d.comment_rows),
                    segment=seg,
                    lang=spec.id,
                )
            )
    return out, warnings


def split_lines(text: str) -> list[str]:
    """Rows as tree-sitter counts them (``\\n`` only; ``\\r`` stays at the line end)."""
    return text.split("\n")


def chunk_file(
    rel_path: str,
    text: str,
    spec: LanguageSpec,
    limits: ChunkingLimits,
    lines: list[str] | None = None,
) -> FileChunks:
    """Chunk one decoded file; a failing grammar falls back to regex/windows with a warning.

    ``lines``: ``split_lines(text)`` when the caller has it (it is not modified)."""
    if lines is None:
        lines = split_lines(text)
    stem = PurePosixPath(rel_path).stem or PurePosixPath(rel_path).name
    warnings: list[str] = []
    result: FileChunks | None = None
    if spec.chunker == "treesitter":
        try:
            from pairofcleats.lang.treesitter import chunk_tree_sitter

            result = chunk_tree_sitter(spec.id, text, lines, stem, limits)
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
        s, e = trim_blank_rows(lines, d.start_row, d.end_row)
        if (s, e) != (d.start_row, d.end_row):
            d = dataclasses.replace(d, start_row=s, end_row=e)
        split.extend(split_oversize(d, lines, limits))
    segment_chunks: list[ChunkDraft] = []
    if spec.chunker == "markdown":
        segment_chunks, fence_warnings = _fence_chunks(rel_path, lines, limits)
        warnings.extend(fence_warnings)
    return FileChunks(
        chunks=tuple(split),
        extracted=result.extracted,
        imports=result.imports,
        exports=result.exports,
        keywords=result.keywords,
        warnings=tuple(warnings) + result.warnings,
        segment_chunks=tuple(segment_chunks),
    )
