"""Incremental bundles (§6): reuse a file's processed output only after verifying it.

``incremental/<mode>/manifest.json`` = ``{version:1, configHash, compatibilityKey,
files{path: {hash, mtimeMs, size, bundle, bundleChecksum, longInts}}}``. A bundle is reused
only when size+mtime match (or the content hash matches after a rehash), the bundle file exists, its
xxh64 equals ``bundleChecksum`` and the manifest's keys are current (§15 B1). Anything else
reprocesses the file. ``longInts`` (ours, beside the checksum) says whether the bundle's bytes
may hold an integer orjson would round (``may_hold_long_int``), so reuse need not scan them.

Bundle names are ``bundles/<xx>/<fileHash>-<pathHash8>-<configHash8>.json``: the spec's
``<fileHash>-<configHash8>`` plus 8 hex of the xxh64 of the relative path. A bundle holds its
file's path (chunk metadata, ``file``), so two files with identical bytes cannot share one;
without the path they overwrote each other and every build refused and reprocessed one of
them, so a no-change build was never a no-op.

A file that reading skipped for a content reason (``binary``, ``oversize``) gets an entry
``{hash: null, mtimeMs, size, skipped: reason}`` and no bundle, so an unchanged repo with a
binary file is still a no-op; the skip is reused only while size and mtime both match.

A bundle's vectors are ``{variant: {key, rows[], inputs[]}}``: ``key`` is the embeddings key
(provider, model, dims, recipe) and ``inputs[i]`` the xxh64 of row ``i``'s embedding input
(§6). When a file is reprocessed (edited, or every file after a tool upgrade changed the
keys), ``prior_vectors`` offers the rows of its previous bundle by input hash, so only the
chunks whose embedding input changed are embedded again.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from groundwork import jsonio
from groundwork.errors import GroundworkError
from groundwork.fsio import TEMP_MARKER, atomic_write, safe_join
from groundwork.hashing import hash_bytes

from pairofcleats.artifacts.writer import checksum

INCREMENTAL_VERSION = 1
#: Skip reasons that depend only on the file's bytes and the (hashed) config, so reusable.
CONTENT_SKIPS = frozenset({"binary", "oversize"})
#: A JSON integer literal (in value position: after ``:``, ``[``, ``,`` or whitespace) that
#: orjson might turn into a float: orjson is exact for -2**63..2**64-1, so only 20+ digits,
#: or 19+ after a minus sign, can fall outside it. ``jsonio.loads`` looks for any 19-digit run,
#: which matches inside the hex vector rows of almost every bundle; so did this pattern while
#: it flagged 19 digits, and every bundle's ``mtimeNs`` (19 digits until 2286) sent every
#: bundle through the slow exact parser (4.7 of 24 s of a one-file-changed slice build).
#: Bundles are our own checksum-verified canon, so orjson is exact unless this matches.
_JSON_LONG_INT = re.compile(rb"[:\[,\s](?:[0-9]{20}|-[0-9]{19})")
#: ``bytes.translate`` table for the same test at C speed: digits → ``0``, value-position
#: characters → ``:``, ``-`` stays, everything else → ``x``.
_LONG_INT_TABLE = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x3A if b in b":[, \t\n\r" else 0x2D if b == 0x2D else 0x78
    for b in range(256)
)
_LONG_POS = b":" + b"0" * 20
_LONG_NEG = b":-" + b"0" * 19


def may_hold_long_int(raw: bytes) -> bool:
    """Whether ``_JSON_LONG_INT`` can match ``raw`` (one translate and two finds: the regex,
    whose first character class matches every comma, cost 7 s on a medium build's bundles)."""
    t = raw.translate(_LONG_INT_TABLE)
    return _LONG_POS in t or _LONG_NEG in t


#: What ``bundle_name`` produces: no ``..``, no separator beyond the two, no absolute path.
_BUNDLE_NAME = re.compile(r"bundles/[0-9a-f]{2}/[0-9a-f]+-[0-9a-f]{8}-[0-9a-f]{8}\.json")


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
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _bundle_floats(bundle: dict[str, Any]) -> Iterator[float]:
    """Every float a bundle holds: its chunks' weights (``process`` writes no other; a
    test walks real bundles to keep it so)."""
    for m in bundle["modes"].values():
        for rec in m.get("chunks", ()):
            w = rec.get("weight")
            if isinstance(w, float):
                yield w


def bundle_name(rel: str, content_hash: str, config_hash: str) -> str:
    """Store-relative bundle path of ``rel`` (see the module docstring for why the path)."""
    fhash = content_hash.split(":", 1)[1]
    phash = hash_bytes(rel.encode("utf-8", "surrogatepass"), "xxh64").hex[:8]
    return f"bundles/{fhash[:2]}/{fhash}-{phash}-{config_hash[:8]}.json"


@dataclass(frozen=True, slots=True)
class Verified:
    """A reuse decision for one file in one mode: checksum-verified bundle bytes, or a
    remembered content skip (``skipped`` set, ``raw`` empty)."""

    rel: str
    raw: bytes
    skipped: str | None = None


class IncrementalStore:
    """One mode's bundle store.

    ``reuse`` loads the previous manifest (off for ``--no-incremental`` and
    ``--cache-rebuild``); ``write`` stores bundles and the manifest (on for
    ``--cache-rebuild`` too, which must repopulate the cache it ignored).
    """

    def __init__(
        self, base: Path, config_hash: str, compat_key: str, reuse: bool, write: bool | None = None
    ) -> None:
        self.base = base
        self.config_hash = config_hash
        self.compat_key = compat_key
        self.reuse = reuse
        self.write = reuse if write is None else write
        self.old: dict[str, dict[str, Any]] = {}
        #: the previous manifest's files whatever its keys: vector rows only (``prior_vectors``)
        self.prior: dict[str, dict[str, Any]] = {}
        self.new: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []
        self.stats: dict[str, tuple[int, int]] = {}
        self._dirs: set[Path] = set()  # bundle directories made by ``put``
        if reuse:
            self._load()

    @property
    def enabled(self) -> bool:
        """Whether this store writes bundles (kept for callers that only ask that)."""
        return self.write

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
            isinstance(raw, dict)
            and raw.get("version") == INCREMENTAL_VERSION
            and isinstance(raw.get("files"), dict)
        ):
            self.prior = raw["files"]
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

    def stat_matches(self, rel: str, size: int, mtime_ms: int) -> bool:
        """Whether the previous manifest has ``rel`` with this size and mtime (a hint only)."""
        entry = self.old.get(rel)
        return entry is not None and entry.get("size") == size and entry.get("mtimeMs") == mtime_ms

    def verify(
        self, root: Path, rel: str, size: int, mtime_ms: int, keep: bool = True
    ) -> Verified | None:
        """The checksum-verified bundle bytes (or remembered skip) of ``rel``, or None.

        Nothing is parsed here: a no-change build only needs the verification (B1), and
        parsing every bundle is most of the cost of reusing them. ``keep=False`` verifies
        without returning the bytes (``raw`` empty), for a build expected to be a no-op.
        """
        entry = self.old.get(rel)
        if entry is None or entry.get("size") != size:
            return None
        skipped = entry.get("skipped")
        if skipped is not None:
            if skipped not in CONTENT_SKIPS or entry.get("mtimeMs") != mtime_ms:
                return None
            self.new[rel] = dict(entry)
            return Verified(rel, b"", skipped)
        if entry.get("mtimeMs") != mtime_ms:
            try:
                data = (root / rel).read_bytes()
            except OSError:
                return None
            if "xxh64:" + hash_bytes(data, "xxh64").hex != entry.get("hash"):
                return None
        try:
            name = entry["bundle"]
            # our own names are lexically safe; anything else goes through safe_join
            # (realpath per bundle was a third of a no-change build's verification)
            if isinstance(name, str) and _BUNDLE_NAME.fullmatch(name):
                bpath = self.base / name
            else:
                bpath = safe_join(self.base, name)
            raw = bpath.read_bytes()
        except (OSError, GroundworkError, KeyError, TypeError, ValueError):
            self.refused.append(f"{rel}: bundle missing")
            return None
        if checksum(raw) != entry.get("bundleChecksum"):
            self.refused.append(f"{rel}: bundle checksum mismatch")
            return None
        self.new[rel] = {**entry, "mtimeMs": mtime_ms}
        return Verified(rel, raw if keep else b"")

    def parse(self, v: Verified, mtime_ms: int) -> dict[str, Any] | None:
        """The bundle of a verified entry, or None (and the entry dropped) if unusable."""
        bundle: dict[str, Any] | None = None
        try:
            # an integer literal orjson would round: the exact, slower parser. ``put``
            # records the answer for the bytes it wrote (``longInts``): those bytes were just
            # verified against the checksum beside it, so only older entries scan again
            long_ints = self.new.get(v.rel, {}).get("longInts")
            if not isinstance(long_ints, bool):
                long_ints = may_hold_long_int(v.raw)
            loads = jsonio.loads if long_ints else orjson.loads
            bundle = loads(v.raw)
        except (orjson.JSONDecodeError, GroundworkError, ValueError):
            self.refused.append(f"{v.rel}: bundle unreadable")
            bundle = None
        if bundle is not None and (not isinstance(bundle, dict) or bundle.get("file") != v.rel):
            self.refused.append(f"{v.rel}: bundle mismatched")
            bundle = None
        if bundle is None:
            self.new.pop(v.rel, None)
            return None
        try:
            _intern_tokens(bundle)
            _intern_chunk_strings(bundle)
        except (TypeError, AttributeError):  # a token that is not a str: not our canon
            self.refused.append(f"{v.rel}: bundle mismatched")
            self.new.pop(v.rel, None)
            return None
        bundle["mtimeMs"] = mtime_ms
        return bundle

    def prior_vectors(self, rel: str, mode: str, emb_key: str) -> dict[str, dict[str, bytes]]:
        """``{variant: {input xxh64: uint8 row}}`` from the previous bundle of ``rel``.

        Only rows made under ``emb_key`` count, and only from a bundle whose bytes still
        match the previous manifest's checksum; anything unreadable offers nothing (the
        chunks are embedded as if new). The file's other contents are not trusted here.
        """
        entry = self.prior.get(rel)
        if not isinstance(entry, dict) or not isinstance(entry.get("bundle"), str):
            return {}
        try:
            raw = safe_join(self.base, entry["bundle"]).read_bytes()
            if checksum(raw) != entry.get("bundleChecksum"):
                return {}
            vecs = orjson.loads(raw)["modes"][mode]["vectors"]
            out: dict[str, dict[str, bytes]] = {}
            for variant, vec in vecs.items():
                rows, inputs = vec.get("rows"), vec.get("inputs")
                if (
                    vec.get("key") != emb_key
                    or not isinstance(rows, list)
                    or not isinstance(inputs, list)
                    or len(rows) != len(inputs)
                ):
                    continue
                out[variant] = {
                    h: bytes.fromhex(r)
                    for h, r in zip(inputs, rows, strict=True)
                    if isinstance(h, str) and isinstance(r, str)
                }
            return out
        except (OSError, GroundworkError, KeyError, TypeError, ValueError, AttributeError):
            return {}

    def lookup(self, root: Path, rel: str, size: int, mtime_ms: int) -> dict[str, Any] | None:
        """The verified, parsed bundle for ``rel``, or None (caller reprocesses)."""
        v = self.verify(root, rel, size, mtime_ms)
        if v is None or v.skipped is not None:
            if v is not None:
                self.new.pop(rel, None)
            return None
        return self.parse(v, mtime_ms)

    def put(self, bundle: dict[str, Any]) -> None:
        """Store (or replace) the bundle of one file, named by its content hash and path."""
        if not self.write or bundle.get("unstable"):
            return
        rel = bundle["file"]
        rel_bundle = bundle_name(rel, bundle["hash"], self.config_hash)
        data = jsonio.dumps_known_floats(bundle, _bundle_floats(bundle))
        path = self.base / rel_bundle
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        _write_bundle(path, data)
        self.new[rel] = {
            "hash": bundle["hash"],
            "mtimeMs": bundle["mtimeMs"],
            "size": bundle["size"],
            "bundle": rel_bundle,
            "bundleChecksum": checksum(data),
            "longInts": may_hold_long_int(data),
        }

    def note_stat(self, rel: str, size: int, mtime_ms: int) -> None:
        """Remember the stat taken before ``rel`` is read, for ``put_skip``.

        The stat from *before* the read: if the file changes while being read, the entry
        carries the older mtime and the next build re-reads the file instead of trusting it.
        """
        self.stats[rel] = (size, mtime_ms)

    def put_skip(self, rel: str, reason: str) -> None:
        """Remember that reading skipped ``rel`` for a content reason (no bundle)."""
        st = self.stats.get(rel)
        if not self.write or reason not in CONTENT_SKIPS or st is None:
            return
        self.new[rel] = {"hash": None, "mtimeMs": st[1], "size": st[0], "skipped": reason}

    def save(self) -> None:
        """Write the manifest of this build's files and prune unreferenced bundles."""
        if not self.write:
            return
        manifest = {
            "version": INCREMENTAL_VERSION,
            "configHash": self.config_hash,
            "compatibilityKey": self.compat_key,
            "files": {k: self.new[k] for k in sorted(self.new)},
        }
        self.base.mkdir(parents=True, exist_ok=True)
        atomic_write(self.manifest_path, jsonio.dumps(manifest))
        keep = {e["bundle"] for e in self.new.values() if e.get("bundle")}
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


#: Per-chunk string fields repeated across chunks and files (paths, kinds, languages).
_CHUNK_STR_KEYS = ("file", "kind", "name", "lang", "ext")
_META_STR_KEYS = ("file", "kind", "name")
_RELATION_KEYS = ("usages", "calls", "imports")


def _intern_chunk_strings(bundle: dict[str, Any]) -> None:
    """Share one str per distinct identifier in the chunks' relations and small fields.

    Parsed JSON holds a fresh str for every occurrence: a chunk's up to 200 ``usages`` and
    ``calls`` repeat the same identifiers across chunks and files, and every chunk repeats
    its file's path, kind and language. On the medium corpus interning them took the parsed
    bundles of an incremental build from ~1.79 to ~1.56 GB, at no extra parse CPU.
    """
    intern = sys.intern
    for m in bundle.get("modes", {}).values():
        if not isinstance(m, dict) or not isinstance(m.get("chunks"), list):
            continue
        for ch in m["chunks"]:
            if not isinstance(ch, dict):
                continue
            _intern_values(ch, _CHUNK_STR_KEYS)
            meta = ch.get("metaV2")
            if not isinstance(meta, dict):
                continue
            _intern_values(meta, _META_STR_KEYS)
            for key in ("container", "effective"):
                c = meta.get(key)
                if isinstance(c, dict):
                    _intern_values(c, tuple(c))
            rel = meta.get("codeRelations")
            if isinstance(rel, dict):
                for key in _RELATION_KEYS:
                    v = rel.get(key)
                    if isinstance(v, list):
                        rel[key] = list(map(intern, v))


def _intern_values(d: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Intern ``d``'s str values under ``keys`` (other values untouched)."""
    for key in keys:
        v = d.get(key)
        if type(v) is str:
            d[key] = sys.intern(v)


def _intern_tokens(bundle: dict[str, Any]) -> None:
    """Share one str object per distinct token, as the workers' interned output does.

    A parsed bundle holds a fresh str for every token occurrence: on the medium corpus that
    was ~1.5 GB more peak RSS than a full build, and every postings pass hashed each copy
    anew (an interned str caches its hash). ``map(sys.intern, …)`` stays in C.
    """
    intern = sys.intern
    for m in bundle.get("modes", {}).values():
        if not isinstance(m, dict):
            continue
        toks = m.get("tokens")
        if isinstance(toks, list):
            m["tokens"] = [list(map(intern, t)) if isinstance(t, list) else t for t in toks]
        fts = m.get("fieldTokens")
        if isinstance(fts, list):
            m["fieldTokens"] = [
                {k: list(map(intern, v)) for k, v in ft.items()} if isinstance(ft, dict) else ft
                for ft in fts
            ]


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
