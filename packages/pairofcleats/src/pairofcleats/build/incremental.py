"""Incremental bundles (§6): reuse a file's processed output only after verifying it.

``incremental/<mode>/manifest.json`` = ``{version:1, configHash, compatibilityKey,
files{path: {hash, mtimeMs, size, bundle, bundleChecksum}}}``; bundles live in
``bundles/<xx>/<fileHash>-<configHash8>.json``. A bundle is reused only when
size+mtime match (or the content hash matches after a rehash), the bundle file
exists, its xxh64 equals ``bundleChecksum`` and the manifest's keys are current
(§15 B1). Anything else reprocesses the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from groundwork import jsonio
from groundwork.errors import GroundworkError
from groundwork.fsio import TEMP_MARKER, atomic_write, safe_join
from groundwork.hashing import hash_bytes

from pairofcleats.artifacts.writer import checksum

INCREMENTAL_VERSION = 1


def _write_bundle(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (temp + rename) without fsync.

    A bundle is trusted only when its xxh64 matches the durable manifest (B1), so one torn
    by a crash is refused and reprocessed, never used; skipping two fsyncs per file per mode
    saves about a minute on a 3k-file build whose large artifacts are still being flushed.
    """
    tmp = path.with_name(f"{path.name}{TEMP_MARKER}{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class IncrementalStore:
    """One mode's bundle store."""

    def __init__(self, base: Path, config_hash: str, compat_key: str, enabled: bool) -> None:
        self.base = base
        self.config_hash = config_hash
        self.compat_key = compat_key
        self.enabled = enabled
        self.old: dict[str, dict[str, Any]] = {}
        self.new: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []
        if enabled:
            self._load()

    @property
    def manifest_path(self) -> Path:
        return self.base / "manifest.json"

    def _load(self) -> None:
        try:
            raw = jsonio.loads(self.manifest_path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, GroundworkError, ValueError):
            self.refused.append("manifest unreadable")
            return
        if (
            not isinstance(raw, dict)
            or raw.get("version") != INCREMENTAL_VERSION
            or raw.get("configHash") != self.config_hash
            or raw.get("compatibilityKey") != self.compat_key
            or not isinstance(raw.get("files"), dict)
        ):
            self.refused.append("keys changed")
            return
        self.old = raw["files"]

    def known(self, rel: str) -> bool:
        return rel in self.old

    def lookup(self, root: Path, rel: str, size: int, mtime_ms: int) -> dict[str, Any] | None:
        """The verified bundle for ``rel``, or None (caller reprocesses)."""
        entry = self.old.get(rel)
        if entry is None:
            return None
        if entry.get("size") != size:
            return None
        if entry.get("mtimeMs") != mtime_ms:
            try:
                data = (root / rel).read_bytes()
            except OSError:
                return None
            if "xxh64:" + hash_bytes(data, "xxh64").hex != entry.get("hash"):
                return None
        try:
            bpath = safe_join(self.base, entry["bundle"])
            raw = bpath.read_bytes()
        except (OSError, GroundworkError, KeyError, ValueError):
            self.refused.append(f"{rel}: bundle missing")
            return None
        if checksum(raw) != entry.get("bundleChecksum"):
            self.refused.append(f"{rel}: bundle checksum mismatch")
            return None
        try:
            bundle = jsonio.loads(raw)
        except (GroundworkError, ValueError):
            self.refused.append(f"{rel}: bundle unreadable")
            return None
        if not isinstance(bundle, dict) or bundle.get("file") != rel:
            self.refused.append(f"{rel}: bundle mismatched")
            return None
        bundle["mtimeMs"] = mtime_ms
        self.new[rel] = {**entry, "mtimeMs": mtime_ms}
        return bundle

    def put(self, bundle: dict[str, Any]) -> None:
        """Store (or replace) the bundle of one file, content-addressed by its hash."""
        if not self.enabled or bundle.get("unstable"):
            return
        rel = bundle["file"]
        fhash = bundle["hash"].split(":", 1)[1]
        rel_bundle = f"bundles/{fhash[:2]}/{fhash}-{self.config_hash[:8]}.json"
        data = jsonio.dumps(bundle)
        path = self.base / rel_bundle
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_bundle(path, data)
        self.new[rel] = {
            "hash": bundle["hash"],
            "mtimeMs": bundle["mtimeMs"],
            "size": bundle["size"],
            "bundle": rel_bundle,
            "bundleChecksum": checksum(data),
        }

    def save(self) -> None:
        """Write the manifest of this build's files and prune unreferenced bundles."""
        if not self.enabled:
            return
        manifest = {
            "version": INCREMENTAL_VERSION,
            "configHash": self.config_hash,
            "compatibilityKey": self.compat_key,
            "files": {k: self.new[k] for k in sorted(self.new)},
        }
        self.base.mkdir(parents=True, exist_ok=True)
        atomic_write(self.manifest_path, jsonio.dumps(manifest))
        keep = {e["bundle"] for e in self.new.values()}
        bdir = self.base / "bundles"
        if bdir.is_dir():
            for sub in bdir.iterdir():
                if not sub.is_dir():
                    continue
                for f in sub.iterdir():
                    if f"bundles/{sub.name}/{f.name}" not in keep:
                        try:
                            f.unlink()
                        except OSError:
                            pass
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def mode_bundle(bundle: dict[str, Any], mode: str) -> dict[str, Any]:
    """The part of a file bundle one mode's store keeps."""
    out = {k: v for k, v in bundle.items() if k != "modes"}
    out["modes"] = {mode: bundle["modes"][mode]} if mode in bundle["modes"] else {}
    return out


def merge_bundles(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Rejoin per-mode bundles of one file."""
    out = dict(parts[0])
    modes: dict[str, Any] = {}
    for p in parts:
        modes.update(p["modes"])
    out["modes"] = modes
    return out
