"""Re-verifying the current build for a no-change build (§6), without re-validating it.

Validation is a pure function of the pieces' bytes. A promoted build whose
``build_state.validation`` passed, written by this tool version, and whose every manifest
piece (SQLite dbs included) still has the size and xxh64 its manifest records, therefore
still passes: re-parsing every piece to re-check §5 invariants proves nothing new and was
most of a no-change build (22 s of 42 s on the medium corpus). What is checked instead:
manifests and ``index_state`` parse and carry the expected compatibilityKey, every piece's
bytes hash to its manifest checksum (§15 B1), and each mode's ``file_meta`` lists exactly
the files (path and content hash) the incremental store is about to call unchanged, so
the no-op claim is checked against what the build actually indexed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson
from groundwork.errors import GroundworkError
from groundwork.hashing import hash_file
from pydantic import ValidationError

from pairofcleats import __version__
from pairofcleats.artifacts.reader import IndexReader
from pairofcleats.artifacts.schema import BuildState
from pairofcleats.errors import IndexInvalid
from pairofcleats.paths import index_dir, sqlite_dir
from pairofcleats.sqlite_stage import db_name


def _pieces_intact(reader: IndexReader) -> bool:
    """Every manifest piece exists with the recorded size and xxh64 (streamed, flat memory)."""
    for entry in reader.manifest.pieces:
        try:
            path = reader.path(entry.name)
            if path.stat().st_size != entry.bytes:
                return False
            if "xxh64:" + hash_file(path, "xxh64").hex != entry.checksum:
                return False
        except (OSError, IndexInvalid):
            return False
    return True


def _files_match(reader: IndexReader, expected: Mapping[str, str]) -> bool:
    """``file_meta`` holds exactly ``expected`` (path → content hash)."""
    if not reader.has("file_meta"):
        return False
    try:
        rows = orjson.loads(reader.read_bytes("file_meta"))
        got = {r["file"]: r["hash"] for r in rows}
    except (IndexInvalid, orjson.JSONDecodeError, KeyError, TypeError):
        return False
    return got == dict(expected)


def reverify_build(
    build_root: Path,
    modes: list[str],
    key: str,
    with_sqlite: bool,
    files: Mapping[str, Mapping[str, str]],
) -> bool:
    """True when the promoted build at ``build_root`` provably still passes validation and
    indexes exactly ``files[mode]`` (path → hash) per mode; any doubt answers False."""
    try:
        state = BuildState.model_validate(
            orjson.loads((build_root / "build_state.json").read_bytes())
        )
    except (OSError, orjson.JSONDecodeError, ValidationError):
        return False
    if (
        state.status != "promoted"
        or state.validation is None
        or not state.validation.ok
        or state.tool.get("version") != __version__
        or state.compatibilityKey != key
        or sorted(state.modes) != sorted(modes)
    ):
        return False
    for mode in modes:
        try:
            reader = IndexReader(index_dir(build_root, mode))
            istate = reader.index_state()
        except (IndexInvalid, GroundworkError):
            return False
        if reader.manifest.compatibilityKey != key or istate.compatibilityKey != key:
            return False
        if not _files_match(reader, files.get(mode, {})) or not _pieces_intact(reader):
            return False
    if with_sqlite:
        try:
            sreader = IndexReader(sqlite_dir(build_root))
        except IndexInvalid:
            return False
        if sreader.manifest.compatibilityKey != key:
            return False
        if any(not sreader.has(db_name(m)) for m in modes) or not _pieces_intact(sreader):
            return False
    return True
