"""Sandboxed workspace tools (spec §9): ``read_file``, ``list_files``, ``search``, ``write_file``.

Every path is relative to ``tools.workspace`` and goes through
``groundwork.fsio.safe_join`` (absolute, ``..``, NUL and symlink escapes are
refused). ``.git`` and ``.spiderweb-*`` are hidden: never listed, searched,
read or written. Files over 1 MiB or containing NUL are refused. The file work
runs in a thread (``asyncio.to_thread``) and checks the call's cancel token per
file, so a timed-out or cancelled call stops promptly.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from groundwork.errors import PathEscape
from groundwork.fsio import atomic_write
from groundwork.fsio.paths import safe_join
from groundwork.proc.cancel import CancelToken

from spiderweb.tools.base import ToolContext, ToolFailure, ToolResult, arg_int, arg_str

MAX_FILE_BYTES = 1_048_576
MAX_READ_BYTES = 65_536
SEARCH_MAX_FILES = 2000
SEARCH_MAX_BYTES = 10 * 1_048_576
MAX_LINE_CHARS = 200


def is_hidden(rel_parts: tuple[str, ...] | list[str]) -> bool:
    """``.git`` and ``.spiderweb-*`` anywhere in the path hide it."""
    return any(p == ".git" or p.startswith(".spiderweb-") for p in rel_parts)


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Glob over relative POSIX paths: ``**`` crosses directories, ``*``/``?`` do not."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def require_workspace(ctx: ToolContext) -> Path:
    if ctx.workspace is None:
        raise ToolFailure("no_workspace", "no workspace is configured (tools.workspace)")
    return ctx.workspace


def resolve(root: Path, rel: str) -> Path:
    """Join a model-supplied relative path, refusing escapes and hidden paths."""
    if not rel or rel.startswith("/") or os.path.isabs(rel):
        raise ToolFailure("path_escape", f"path {rel!r} must be relative to the workspace")
    try:
        path = safe_join(root, rel)
    except PathEscape as exc:
        raise ToolFailure(
            "path_escape", f"path {rel!r} escapes the workspace ({exc.reason})"
        ) from exc
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if is_hidden(parts) or _real_hidden(root, path):
        raise ToolFailure("hidden", f"path {rel!r} is hidden")
    return path


def _real_hidden(root: Path, path: Path) -> bool:
    """A symlink inside the workspace that lands in ``.git`` is hidden too."""
    real_rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    return is_hidden(real_rel.split(os.sep))


def walk_files(root: Path, token: CancelToken) -> Iterator[tuple[str, Path]]:
    """Visible regular files under ``root`` as ``(rel_posix, path)``, sorted, no escapes.

    Directory symlinks are not followed; a file symlink is kept only if it
    resolves inside the root.
    """
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        token.raise_if_cancelled()
        dirnames[:] = sorted(d for d in dirnames if not is_hidden([d]))
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if is_hidden([name]):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                real = os.path.realpath(full)
                inside = real.startswith(real_root.rstrip("/") + "/")
                if not inside or not os.path.isfile(real) or _real_hidden(root, Path(full)):
                    continue
            elif not os.path.isfile(full):
                continue
            rel = name if rel_dir == "." else f"{rel_dir.replace(os.sep, '/')}/{name}"
            yield rel, Path(full)


def _load_text(path: Path, rel: str) -> tuple[bytes, int]:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise ToolFailure("not_found", f"{rel} does not exist") from exc
    if not path.is_file():
        raise ToolFailure("not_a_file", f"{rel} is not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise ToolFailure("too_large", f"{rel} is larger than {MAX_FILE_BYTES} bytes")
    data = path.read_bytes()
    if b"\x00" in data:
        raise ToolFailure("binary", f"{rel} contains NUL bytes")
    return data, st.st_size


# -- sync implementations (thread side) -------------------------------------------------------
def read_file_sync(root: Path, rel: str, offset: int, max_bytes: int) -> ToolResult:
    path = resolve(root, rel)
    data, size = _load_text(path, rel)
    chunk = data[offset : offset + max_bytes]
    text = chunk.decode("utf-8", errors="replace")
    return ToolResult(
        True,
        text,
        data={
            "path": rel,
            "bytes": size,
            "offset": offset,
            "returned": len(chunk),
            "eof": offset + len(chunk) >= size,
        },
    )


def list_files_sync(root: Path, pattern: str, limit: int, token: CancelToken) -> ToolResult:
    rx = glob_regex(pattern)
    paths: list[str] = []
    more = False
    for rel, _ in walk_files(root, token):
        if rx.match(rel):
            if len(paths) >= limit:
                more = True
                break
            paths.append(rel)
    out = "\n".join(paths) + ("\n…(more files not listed)" if more else "")
    return ToolResult(True, out, data={"paths": paths, "truncated": more})


@dataclass(frozen=True, slots=True)
class Match:
    path: str
    line: int
    text: str


def search_sync(
    root: Path, query: str, pattern: str | None, limit: int, token: CancelToken
) -> ToolResult:
    needle = query.lower()
    rx = glob_regex(pattern) if pattern else None
    matches: list[Match] = []
    files = scanned_bytes = 0
    truncated = False
    for rel, path in walk_files(root, token):
        if rx is not None and not rx.match(rel):
            continue
        if files >= SEARCH_MAX_FILES or scanned_bytes >= SEARCH_MAX_BYTES:
            truncated = True
            break
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES or scanned_bytes + size > SEARCH_MAX_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        files += 1
        scanned_bytes += len(data)
        if b"\x00" in data:
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if needle in line.lower():
                matches.append(Match(rel, n, line.strip()[:MAX_LINE_CHARS]))
                if len(matches) >= limit:
                    break
        if len(matches) >= limit:
            truncated = True
            break
    out = "\n".join(f"{m.path}:{m.line}: {m.text}" for m in matches) or "no matches"
    return ToolResult(
        True,
        out,
        data={
            "matches": [{"path": m.path, "line": m.line, "text": m.text} for m in matches],
            "files_scanned": files,
            "truncated": truncated,
        },
    )


def write_file_sync(root: Path, rel: str, content: str) -> ToolResult:
    path = resolve(root, rel)
    raw = content.encode("utf-8", errors="replace")
    if len(raw) > MAX_FILE_BYTES:
        raise ToolFailure("too_large", f"content is larger than {MAX_FILE_BYTES} bytes")
    if path.exists() and not path.is_file():
        raise ToolFailure("not_a_file", f"{rel} is not a regular file")
    path.parent.mkdir(parents=True, exist_ok=True)
    resolve(root, rel)  # re-check: a directory created above must not be a symlink escape
    atomic_write(path, raw)
    return ToolResult(
        True, f"wrote {rel} ({len(raw)} bytes)", data={"path": rel, "bytes": len(raw)}
    )


# -- the Tool objects ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadFileTool:
    name: str = "read_file"
    description: str = "Read a text file of the workspace (relative path)."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "path": {"type": "string"},
                "offset": {"type": "integer", "minimum": 0, "default": 0},
                "max_bytes": {"type": "integer", "minimum": 1, "maximum": MAX_READ_BYTES},
            },
            "required": ["path"],
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        root = require_workspace(ctx)
        rel = arg_str(args, "path")
        offset = arg_int(args, "offset", 0, 0, MAX_FILE_BYTES)
        max_bytes = arg_int(args, "max_bytes", MAX_READ_BYTES, 1, MAX_READ_BYTES)
        return await asyncio.to_thread(read_file_sync, root, rel, offset, max_bytes)


@dataclass(frozen=True, slots=True)
class ListFilesTool:
    name: str = "list_files"
    description: str = "List workspace files matching a glob (** crosses directories)."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "glob": {"type": "string", "default": "**/*"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
            },
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        root = require_workspace(ctx)
        pattern = arg_str(args, "glob", "**/*")
        limit = arg_int(args, "limit", 200, 1, 1000)
        return await asyncio.to_thread(list_files_sync, root, pattern, limit, ctx.cancel)


@dataclass(frozen=True, slots=True)
class SearchTool:
    name: str = "search"
    description: str = "Case-insensitive literal search of workspace file lines."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "glob": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
            },
            "required": ["query"],
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        root = require_workspace(ctx)
        query = arg_str(args, "query")
        if not query:
            raise ToolFailure("invalid_args", "argument 'query' must not be empty")
        pattern = args.get("glob")
        if pattern is not None and not isinstance(pattern, str):
            raise ToolFailure("invalid_args", "argument 'glob' must be a string")
        limit = arg_int(args, "limit", 20, 1, 200)
        return await asyncio.to_thread(search_sync, root, query, pattern, limit, ctx.cancel)


@dataclass(frozen=True, slots=True)
class WriteFileTool:
    name: str = "write_file"
    description: str = "Write (create or replace) a workspace text file atomically."

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        }

    async def run(self, args: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        if not ctx.allow_write:
            raise ToolFailure("write_disabled", "writing is disabled (tools.allow_write)")
        root = require_workspace(ctx)
        rel = arg_str(args, "path")
        content = arg_str(args, "content")
        return await asyncio.to_thread(write_file_sync, root, rel, content)
