"""Reading an index through its pieces manifest (§1): the only way readers find artifacts.

``IndexReader`` never scans directories or guesses names; every path comes from
``pieces/manifest.json`` and is joined with ``safe_join``. ``read_current`` treats
an unreadable or escaping ``current.json`` as *invalid* (``CURRENT_INVALID``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from groundwork import jsonio
from groundwork.errors import GroundworkError
from groundwork.fsio import safe_join
from pydantic import ValidationError

from pairofcleats.artifacts import trusted
from pairofcleats.artifacts.schema import CurrentPointer, IndexState, PiecesManifest
from pairofcleats.errors import IndexInvalid


class PieceMissing(IndexInvalid):
    """The manifest has no piece of that name."""


class PieceCorrupt(IndexInvalid):
    """A piece's bytes, checksum or path disagree with its manifest entry."""


@dataclass(frozen=True, slots=True)
class CurrentState:
    """The result of reading ``current.json``: a pointer, absent, or invalid with a reason."""

    pointer: CurrentPointer | None
    raw: dict[str, Any] | None
    invalid_reason: str | None

    @property
    def valid(self) -> bool:
        return self.pointer is not None


def read_current(current_json: Path) -> CurrentState:
    """Read and check ``builds/current.json`` (roots must stay inside the repo cache dir)."""
    if not current_json.exists():
        return CurrentState(None, None, None)
    try:
        raw = jsonio.loads(current_json.read_bytes(), path=str(current_json))
        ptr = trusted.current_pointer(raw) or CurrentPointer.model_validate(raw)
    except (OSError, GroundworkError, ValidationError, ValueError) as exc:
        return CurrentState(None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    repo_dir = current_json.parent.parent
    try:
        for root in [ptr.buildRoot, *ptr.buildRoots.values()]:
            safe_join(repo_dir, root)
    except (GroundworkError, ValueError) as exc:
        return CurrentState(None, raw, f"root escapes the repo cache dir: {exc}")
    return CurrentState(ptr, raw, None)


def mode_root(repo_dir: Path, ptr: CurrentPointer, mode: str) -> Path:
    """``buildRoots[mode] ?? buildRoot`` resolved inside the repo cache dir."""
    rel = ptr.buildRoots.get(mode, ptr.buildRoot)
    return Path(safe_join(repo_dir, rel))


class IndexReader:
    """One ``index-<mode>/`` directory, read through its manifest."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = index_dir
        mpath = index_dir / "pieces" / "manifest.json"
        try:
            raw = jsonio.loads(mpath.read_bytes(), path=str(mpath))
        except FileNotFoundError as exc:
            raise IndexInvalid(f"no pieces manifest in {index_dir}") from exc
        except (OSError, GroundworkError, ValueError) as exc:
            raise IndexInvalid(f"unreadable pieces manifest {mpath}: {exc}") from exc
        try:
            self.manifest = trusted.pieces_manifest(raw) or PiecesManifest.model_validate(raw)
        except ValidationError as exc:
            raise IndexInvalid(
                f"invalid pieces manifest {mpath}: {exc.errors()[0]['msg']}"
            ) from exc
        self.raw_manifest: dict[str, Any] = raw
        self._by_name = {p.name: p for p in self.manifest.pieces}

    @property
    def mode(self) -> str:
        return self.manifest.mode

    def names(self) -> list[str]:
        return list(self._by_name)

    def has(self, name: str) -> bool:
        return name in self._by_name

    def entry(self, name: str) -> Any:
        try:
            return self._by_name[name]
        except KeyError:
            raise PieceMissing(f"{self.dir.name}: no piece {name!r} in the manifest") from None

    def path(self, name: str) -> Path:
        """The piece's file (safe-joined; an escaping path counts as corrupt)."""
        e = self.entry(name)
        try:
            return Path(safe_join(self.dir, e.path))
        except (GroundworkError, ValueError) as exc:
            raise PieceCorrupt(f"{self.dir.name}/{name}: unsafe path {e.path!r}") from exc

    def read_bytes(self, name: str, verify: bool = False) -> bytes:
        """The piece's bytes; ``verify`` checks size and xxh64 against the manifest."""
        p = self.path(name)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise PieceCorrupt(f"{self.dir.name}/{name}: unreadable ({exc.strerror})") from exc
        if verify:
            e = self.entry(name)
            if len(data) != e.bytes:
                raise PieceCorrupt(
                    f"{self.dir.name}/{name}: {len(data)} bytes, manifest says {e.bytes}"
                )
            # imported here: the writer pulls in xxhash and blake3, and searches never verify
            from pairofcleats.artifacts.writer import checksum

            if checksum(data) != e.checksum:
                raise PieceCorrupt(f"{self.dir.name}/{name}: checksum mismatch")
        return data

    def verify_file(self, name: str) -> None:
        """``read_bytes(name, verify=True)`` without holding the bytes: size from ``stat``
        and xxh64 streamed, so checking a SQLite db of hundreds of MB stays flat in memory."""
        p = self.path(name)
        e = self.entry(name)
        from groundwork.hashing import hash_file

        try:
            size = p.stat().st_size
            digest = "xxh64:" + hash_file(p, "xxh64").hex if size == e.bytes else ""
        except OSError as exc:
            raise PieceCorrupt(f"{self.dir.name}/{name}: unreadable ({exc.strerror})") from exc
        if size != e.bytes:
            raise PieceCorrupt(f"{self.dir.name}/{name}: {size} bytes, manifest says {e.bytes}")
        if digest != e.checksum:
            raise PieceCorrupt(f"{self.dir.name}/{name}: checksum mismatch")

    def read_json(self, name: str, verify: bool = False) -> Any:
        """A JSON piece decoded."""
        data = self.read_bytes(name, verify)
        try:
            return jsonio.loads(data, path=str(self.path(name)))
        except (GroundworkError, ValueError) as exc:
            raise PieceCorrupt(f"{self.dir.name}/{name}: invalid JSON ({exc})") from exc

    def iter_jsonl(self, name: str, verify: bool = False) -> Iterator[Any]:
        """The rows of a JSONL piece (a bad line raises ``PieceCorrupt``)."""
        data = self.read_bytes(name, verify)
        for i, line in enumerate(data.splitlines()):
            if not line:
                continue
            try:
                yield jsonio.loads(line)
            except (GroundworkError, ValueError) as exc:
                raise PieceCorrupt(f"{self.dir.name}/{name}: bad line {i + 1}") from exc

    def chunk_meta(self, verify: bool = False) -> list[dict[str, Any]]:
        """All chunk records in id order (plain array or the sharded form)."""
        if self.has("chunk_meta"):
            value = self.read_json("chunk_meta", verify)
            if not isinstance(value, list):
                raise PieceCorrupt(f"{self.dir.name}/chunk_meta: not an array")
            return value
        meta = self.read_json("chunk_meta.meta", verify)
        out: list[dict[str, Any]] = []
        for k in range(len(meta.get("parts", []))):
            out.extend(self.iter_jsonl(f"chunk_meta.part-{k:05d}", verify))
        return out

    def dense(
        self, name: str = "dense_vectors_uint8"
    ) -> tuple[dict[str, Any], npt.NDArray[np.uint8]]:
        """Dense meta and the ``(count, dims)`` uint8 matrix of a vectors piece."""
        meta = self.read_json(name)
        raw = self.read_bytes(name + "_bin")
        dims = int(meta["dims"])
        count = int(meta["count"])
        arr = np.frombuffer(raw, dtype=np.uint8)
        if arr.size != dims * count:
            raise PieceCorrupt(f"{self.dir.name}/{name}: {arr.size} bytes for {count}x{dims}")
        return meta, arr.reshape(count, dims)

    def index_state(self) -> IndexState:
        """``index_state.json`` beside the manifest."""
        p = self.dir / "index_state.json"
        try:
            return IndexState.model_validate(jsonio.loads(p.read_bytes(), path=str(p)))
        except FileNotFoundError as exc:
            raise IndexInvalid(f"no index_state.json in {self.dir}") from exc
        except (OSError, GroundworkError, ValueError, ValidationError) as exc:
            raise IndexInvalid(f"invalid index_state.json in {self.dir}: {exc}") from exc


def signature_files(index_dir: Path, reader: IndexReader | None = None) -> list[str]:
    """The files an index signature covers: manifest, ``index_state.json`` (if any) and every
    listed piece, relative to ``index_dir``, sorted."""
    rels = ["pieces/manifest.json"]
    if (index_dir / "index_state.json").exists():
        rels.append("index_state.json")
    try:
        rd = reader if reader is not None else IndexReader(index_dir)
        rels.extend(p.path for p in rd.manifest.pieces)
    except IndexInvalid:
        pass
    return sorted(set(rels))


def stat_signature(index_dir: Path, rels: list[str]) -> str:
    """sha1 of ``{v:1, files:[[relPath, size, mtimeNs], …]}`` for ``rels`` (stats only).

    A warm reader that already knows the file list re-derives its signature with this per
    request: a few ``stat`` calls, no manifest parse (R2).
    """
    files = []
    for rel in rels:
        try:
            st = os.stat(index_dir / rel)
            files.append([rel, st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([rel, -1, -1])
    return hashlib.sha1(jsonio.dumps({"v": 1, "files": files})).hexdigest()


def index_signature(index_dir: Path) -> str:
    """sha1 of ``{v:1, files:[[relPath, size, mtimeNs], …]}`` over manifest, state and pieces.

    The one index signature (roadmap §1.4): any piece change changes it.
    """
    return stat_signature(index_dir, signature_files(index_dir))
