"""Discovery (§3): list the repo's files, apply ignores, then read each file once.

Listing and filtering run in the parent; ``read_source`` runs in worker
processes and is the only place a source file is read, so hash, parse and tokens
all come from one buffer (§15 B5).
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from pairofcleats.config import FileCap, IndexingConfig
from pairofcleats.lang.registry import LanguageSpec, detect, file_ext
from pairofcleats.scm import GitError, git_stream, is_git_repo

DEFAULT_IGNORES = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    ".venv/",
    "venv/",
    "__pycache__/",
    "__pypackages__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".idea/",
    ".vscode/",
    "dist/",
    "build/",
    "target/",
    "coverage/",
    "bazel-*/",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.lock",
    "package-lock.json",
)
# Build-output names among the defaults. A directory so named that is itself a
# Python package (its own ``__init__.py`` is listed, as in pypa/build's
# ``src/build/`` or this project's ``pairofcleats/build/``) is source, not
# output, so the defaults do not hide it (§15 B7: default ignores keep source
# dirs); ``.pairofcleatsignore`` and config patterns still can.
OUTPUT_DIRS = frozenset({"dist", "build", "target", "coverage"})
IGNORE_FILE = ".pairofcleatsignore"
BINARY_SNIFF = 8192
MAX_REREADS = 2


@dataclass(frozen=True, slots=True)
class Candidate:
    """A listed file that passed the ignore rules and has a registered language."""

    rel: str
    lang: str
    mode: str


@dataclass(slots=True)
class Discovery:
    """The candidate list plus counters for ``build_state.discovery``."""

    candidates: list[Candidate]
    scanned: int
    skipped: Counter[str] = field(default_factory=Counter)
    used_git: bool = False


def _rel_to_spec_lines(rel_dir: str, lines: Iterable[str]) -> list[str]:
    """Rebase the patterns of ``<rel_dir>/.gitignore`` onto the repo root."""
    out: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:] if neg else line
        if not rel_dir:
            out.append(line)
            continue
        body = pat.rstrip("/")
        anchored = "/" in body
        rebased = f"{rel_dir}/{pat.lstrip('/')}" if anchored else f"{rel_dir}/**/{pat}"
        out.append(("!" if neg else "") + rebased)
    return out


def _walk(root: Path, skipped: Counter[str]) -> list[str]:
    """An ``os.scandir`` walk honouring every ``.gitignore`` (no git available)."""
    out: list[str] = []
    stack: list[tuple[str, list[str]]] = [("", [])]
    while stack:
        rel_dir, inherited = stack.pop()
        abs_dir = root / rel_dir if rel_dir else root
        lines = list(inherited)
        gi = abs_dir / ".gitignore"
        if gi.is_file():
            try:
                lines.extend(
                    _rel_to_spec_lines(rel_dir, gi.read_text("utf-8", "replace").splitlines())
                )
            except OSError:
                pass
        spec = GitIgnoreSpec.from_lines(lines) if lines else None
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError:
            skipped["unreadable"] += 1
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                skipped["bad-name"] += 1
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name == ".git":
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if spec is not None and spec.match_file(rel + ("/" if is_dir else "")):
                continue
            if is_dir:
                subdirs.append((rel, lines))
            else:
                out.append(rel)
        stack.extend(reversed(subdirs))
    return out


def list_files(
    root: Path, provider: str, env: Mapping[str, str] | None, skipped: Counter[str]
) -> tuple[list[str], bool]:
    """Repo-relative POSIX paths (git ls-files when git is in use), and whether git was used."""
    if provider != "none" and (provider == "git" or is_git_repo(root, env)):
        try:
            out = []
            for rec in git_stream(
                ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                root,
                sep=b"\0",
                env=env,
            ):
                if not rec:
                    continue
                try:
                    out.append(rec.decode("utf-8"))
                except UnicodeDecodeError:
                    skipped["bad-name"] += 1
            return sorted(set(out)), True
        except GitError:
            if provider == "git":
                raise
    return sorted(_walk(root, skipped)), False


def source_package_dirs(files: Iterable[str]) -> list[str]:
    """Listed directories named like build output that are Python packages."""
    out = set()
    for rel in files:
        head, _, name = rel.rpartition("/")
        if name == "__init__.py" and head.rpartition("/")[2] in OUTPUT_DIRS:
            out.add(head)
    return sorted(out)


def default_ignore_lines(files: Iterable[str] = ()) -> list[str]:
    """The §3 defaults, with re-includes for source packages named like output dirs.

    The re-includes come before the other defaults, so ``node_modules/`` or
    ``*.lock`` inside such a package are still ignored (last match wins).
    """
    outputs = [d for d in DEFAULT_IGNORES if d.rstrip("/") in OUTPUT_DIRS]
    others = [d for d in DEFAULT_IGNORES if d.rstrip("/") not in OUTPUT_DIRS]
    keep = [f"!/{d}/" for d in source_package_dirs(files)]
    return [*outputs, *keep, *others]


def ignore_spec(root: Path, cfg: IndexingConfig, files: Iterable[str] = ()) -> GitIgnoreSpec:
    """Defaults, ``.pairofcleatsignore``, ``ignore.files``, ``ignore.patterns`` (last wins)."""
    lines: list[str] = default_ignore_lines(files) if cfg.ignore.defaults else []
    for name in (IGNORE_FILE, *cfg.ignore.files):
        p = root / name
        if p.is_file():
            try:
                lines.extend(p.read_text("utf-8", "replace").splitlines())
            except OSError:
                pass
    lines.extend(cfg.ignore.patterns)
    return GitIgnoreSpec.from_lines(lines)


def modes_for(spec: LanguageSpec) -> tuple[str, ...]:
    """Modes a file of this language feeds (code files also feed extracted-prose)."""
    if spec.mode == "prose":
        return ("prose",)
    return ("code", "extracted-prose")


def discover(
    root: Path, cfg: IndexingConfig, env: Mapping[str, str] | None, modes: Iterable[str]
) -> Discovery:
    """Listed files minus ignores and unsupported languages, in path code-point order."""
    skipped: Counter[str] = Counter()
    files, used_git = list_files(root, cfg.scm.provider, env, skipped)
    spec = ignore_spec(root, cfg, files)
    wanted = set(modes)
    cands: list[Candidate] = []
    for rel in files:
        if used_git and not os.path.lexists(root / rel):
            continue  # deleted in the work tree but still in git's index
        if spec.match_file(rel):
            skipped["ignored"] += 1
            continue
        lang = detect(rel)
        if lang is None:
            skipped["unsupported"] += 1
            continue
        fmodes = [m for m in modes_for(lang) if m in wanted]
        if not fmodes:
            skipped["mode"] += 1
            continue
        cands.append(Candidate(rel, lang.id, lang.mode))
    return Discovery(
        cands,
        scanned=len(files) + sum(skipped[k] for k in ("bad-name",)),
        skipped=skipped,
        used_git=used_git,
    )


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file read once: the decoded text plus what file_meta records."""

    rel: str
    lang: str
    ext: str
    size: int
    mtime_ns: int
    data: bytes
    text: str
    encoding: str
    encoding_fallback: bool
    lines: int
    unstable: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A candidate that was not indexed, with the §3 reason."""

    rel: str
    reason: str


def _cap_for(cfg: IndexingConfig, ext: str, lang: str, mode: str) -> tuple[int | None, int | None]:
    caps: list[FileCap | None] = [
        cfg.file_caps.by_mode.get(mode),
        cfg.file_caps.by_language.get(lang),
        cfg.file_caps.by_ext.get(ext) or cfg.file_caps.by_ext.get(ext.lstrip(".")),
    ]
    max_bytes: int | None = cfg.max_file_bytes
    max_lines: int | None = cfg.max_file_lines
    for cap in caps:  # most specific first: byMode > byLanguage > byExt
        if cap is not None:
            if cap.max_bytes is not None:
                max_bytes = cap.max_bytes
            if cap.max_lines is not None:
                max_lines = cap.max_lines
            break
    return max_bytes, max_lines


def decode(data: bytes) -> tuple[str, str, bool]:
    """UTF-8 (BOM stripped), else cp1252 with ``encodingFallback``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252", True


def read_source(root: Path, cand: Candidate, cfg: IndexingConfig) -> SourceFile | Skipped:
    """Read one candidate once, re-reading (≤ 2 times) if it changed while being read."""
    path = root / cand.rel
    ext = file_ext(cand.rel)
    max_bytes, max_lines = _cap_for(cfg, ext, cand.lang, cand.mode)
    unstable = False
    data = b""
    st1: os.stat_result | None = None
    for attempt in range(MAX_REREADS + 1):
        try:
            st1 = os.lstat(path)
        except OSError:
            return Skipped(cand.rel, "unreadable")
        if stat.S_ISLNK(st1.st_mode):
            return Skipped(cand.rel, "symlink")
        if not stat.S_ISREG(st1.st_mode):
            return Skipped(cand.rel, "unreadable")
        if max_bytes is not None and st1.st_size > max_bytes:
            return Skipped(cand.rel, "oversize")
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                chunks = []
                while True:
                    block = os.read(fd, 1 << 20)
                    if not block:
                        break
                    chunks.append(block)
            finally:
                os.close(fd)
            data = b"".join(chunks)
            st2 = os.lstat(path)
        except OSError:
            return Skipped(cand.rel, "unreadable")
        if (st2.st_size, st2.st_mtime_ns) == (st1.st_size, st1.st_mtime_ns) and len(
            data
        ) == st1.st_size:
            break
        if attempt == MAX_REREADS:
            unstable = True
        st1 = st2
    assert st1 is not None
    if b"\0" in data[:BINARY_SNIFF]:
        return Skipped(cand.rel, "binary")
    if max_bytes is not None and len(data) > max_bytes:
        return Skipped(cand.rel, "oversize")
    text, encoding, fallback = decode(data)
    n_lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    if max_lines is not None and n_lines > max_lines:
        return Skipped(cand.rel, "oversize")
    return SourceFile(
        rel=cand.rel,
        lang=cand.lang,
        ext=ext,
        size=len(data),
        mtime_ns=st1.st_mtime_ns,
        data=data,
        text=text,
        encoding=encoding,
        encoding_fallback=fallback,
        lines=n_lines,
        unstable=unstable,
    )
