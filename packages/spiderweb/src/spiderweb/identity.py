"""Agent persona from markdown files (spec §7): SOUL > AGENT > IDENTITY > USER.

Each layer is looked up in ``<data_dir>/agents/<id>/``, then ``<data_dir>/<id>/``,
then ``<data_dir>/``; the first file found is that layer. Files are split at
heading lines into sections; sections merge by case-insensitive heading, the
first occurrence (higher layer, or earlier in the same file) winning, and
every dropped section is reported as a shadow warning. ``IdentityLoader``
caches the merged prompt per agent until a candidate file's mtime or size
changes (or a file appears or disappears). The prompt is the first system
message of every model call and never enters RAM.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[str, ...] = ("SOUL.md", "AGENT.md", "IDENTITY.md", "USER.md")
DEFAULT_PROMPT = "You are a helpful AI assistant."
MAX_FILE_BYTES = 1_048_576
PREAMBLE = "__preamble__"
_AGENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Section:
    """One heading block; ``key`` is the heading without ``#``s (``__preamble__`` before any)."""

    key: str
    text: str

    @property
    def is_blank(self) -> bool:
        """True when nothing but the heading (or nothing at all) has content."""
        body = self.text.splitlines()[1:] if self.key != PREAMBLE else self.text.splitlines()
        return not "".join(body).strip()


@dataclass(frozen=True, slots=True)
class Identity:
    """The merged prompt, the files it came from (layer order) and the warnings."""

    prompt: str
    files: tuple[str, ...]
    warnings: tuple[str, ...]


def check_agent_id(agent_id: str) -> str:
    """Refuse ids that could leave the data dir (the transport validates the same rule)."""
    if not _AGENT_ID.match(agent_id) or agent_id in (".", ".."):
        raise ValueError(f"invalid agent id {agent_id!r}")
    return agent_id


def lookup_dirs(data_dir: Path, agent_id: str) -> tuple[Path, Path, Path]:
    """The three directories searched, in order."""
    check_agent_id(agent_id)
    return (data_dir / "agents" / agent_id, data_dir / agent_id, data_dir)


def layer_files(data_dir: Path, agent_id: str) -> list[Path]:
    """For each layer (highest first) the first existing file, skipping absent layers."""
    dirs = lookup_dirs(data_dir, agent_id)
    found: list[Path] = []
    for name in LAYERS:
        for d in dirs:
            p = d / name
            if p.is_file():
                found.append(p)
                break
    return found


def split_sections(text: str) -> list[Section]:
    """Split at lines whose stripped text starts with ``#``; text before any is the preamble."""
    sections: list[Section] = []
    key = PREAMBLE
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if lines:
                sections.append(Section(key, "\n".join(lines)))
            key = stripped.lstrip("#").strip()
            lines = [line]
        else:
            lines.append(line)
    if lines:
        sections.append(Section(key, "\n".join(lines)))
    return sections


def merge_sections(layers: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """Merge ``(file label, text)`` pairs, highest layer first; returns prompt and warnings."""
    kept: list[Section] = []
    owner: dict[str, str] = {}
    warnings: list[str] = []
    for label, text in layers:
        for section in split_sections(text):
            if section.is_blank:
                continue
            folded = section.key.casefold()
            if folded in owner:
                warnings.append(f"section '{section.key}' in {label} shadowed by {owner[folded]}")
                continue
            owner[folded] = label
            kept.append(section)
    if not kept:
        return DEFAULT_PROMPT, warnings
    return "\n\n".join(s.text.strip("\n").rstrip() for s in kept), warnings


def load_identity(data_dir: Path, agent_id: str) -> Identity:
    """Read and merge the layer files now (no cache)."""
    warnings: list[str] = []
    layers: list[tuple[str, str]] = []
    files: list[str] = []
    for path in layer_files(data_dir, agent_id):
        label = _label(data_dir, path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                warnings.append(f"{label} is larger than {MAX_FILE_BYTES} bytes; skipped")
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            warnings.append(f"{label} unreadable ({exc.strerror or exc}); skipped")
            continue
        files.append(label)
        layers.append((label, text))
    prompt, merge_warnings = merge_sections(layers)
    return Identity(prompt, tuple(files), tuple(warnings + merge_warnings))


def _label(data_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:  # pragma: no cover - every candidate lies under data_dir
        return str(path)


Signature = tuple[tuple[str, int, int], ...]


def _signature(data_dir: Path, agent_id: str) -> Signature:
    sig: list[tuple[str, int, int]] = []
    for d in lookup_dirs(data_dir, agent_id):
        for name in LAYERS:
            p = d / name
            try:
                st = os.stat(p)
            except OSError:
                continue
            sig.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(sig)


class IdentityLoader:
    """Per-agent cache of ``load_identity`` keyed by the candidates' (path, mtime, size).

    ``get`` does blocking file I/O: call it via ``asyncio.to_thread`` on attach.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._cache: dict[str, tuple[Signature, Identity]] = {}

    def get(self, agent_id: str) -> Identity:
        sig = _signature(self.data_dir, agent_id)
        hit = self._cache.get(agent_id)
        if hit is not None and hit[0] == sig:
            return hit[1]
        identity = load_identity(self.data_dir, agent_id)
        self._cache[agent_id] = (sig, identity)
        return identity
