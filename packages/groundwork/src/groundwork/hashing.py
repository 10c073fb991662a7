"""Content hashes: one :class:`Digest` type for BLAKE3, xxHash, SHA-1 and SHA-256.

Systems store digests in tagged form (``"xxh64:<hex>"``) so a reader knows the
algorithm without a side channel. xxHash digests are the canonical big-endian
bytes, so ``Digest.int`` equals xxhash's ``intdigest()``. ``hash_json`` hashes
the canon bytes of :func:`groundwork.jsonio.dumps`, never a pretty form.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Final, Literal, Protocol, get_args

import blake3
import xxhash

from groundwork import jsonio

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "Digest",
    "Hasher",
    "HashingWriter",
    "hash_bytes",
    "hash_file",
    "hash_json",
    "new_hasher",
    "xxh64_hex",
]

Algorithm = Literal["blake3", "xxh3_64", "xxh3_128", "xxh64", "sha1", "sha256"]
ALGORITHMS: Final[tuple[Algorithm, ...]] = get_args(Algorithm)
_DEFAULT_CHUNK: Final = 1_048_576


class _Backend(Protocol):
    def update(self, data: builtins.bytes | bytearray | memoryview, /) -> object: ...
    def digest(self) -> builtins.bytes: ...


def _backend(algo: str) -> _Backend:
    if algo == "blake3":
        return blake3.blake3()
    if algo == "xxh3_64":
        return xxhash.xxh3_64()
    if algo == "xxh3_128":
        return xxhash.xxh3_128()
    if algo == "xxh64":
        return xxhash.xxh64(seed=0)
    if algo in ("sha1", "sha256"):
        return hashlib.new(algo)
    raise ValueError(f"unknown hash algorithm {algo!r}; use one of {', '.join(ALGORITHMS)}")


@dataclass(frozen=True, slots=True)
class Digest:
    """A finished hash: ``algo`` and its raw ``bytes``."""

    algo: str
    bytes: builtins.bytes

    @property
    def hex(self) -> str:
        return self.bytes.hex()

    @property
    def int(self) -> builtins.int:
        """The digest as a big-endian unsigned integer (xxhash's ``intdigest``)."""
        return builtins.int.from_bytes(self.bytes, "big")

    @property
    def size(self) -> builtins.int:
        """Length in bytes (8 for xxh64/xxh3_64, 16 for xxh3_128, 32 for BLAKE3)."""
        return len(self.bytes)

    @property
    def tagged(self) -> str:
        """``"<algo>:<hex>"``, the form written into manifests and checksums."""
        return f"{self.algo}:{self.hex}"

    @classmethod
    def from_tagged(cls, text: str) -> Digest:
        """Parse ``"<algo>:<hex>"``; ValueError on an unknown algorithm or bad hex."""
        algo, sep, hexpart = text.partition(":")
        if not sep or algo not in ALGORITHMS:
            raise ValueError(f"not a tagged digest: {text!r} (expected '<algo>:<hex>')")
        raw = builtins.bytes.fromhex(hexpart)
        if len(raw) != new_hasher(algo).digest_size:
            raise ValueError(
                f"{algo} digest must be {new_hasher(algo).digest_size} bytes: {text!r}"
            )
        return cls(algo, raw)

    def __str__(self) -> str:
        return self.tagged


class Hasher:
    """An incremental hash of one algorithm; ``digest()`` may be called any time."""

    __slots__ = ("_h", "algo")

    def __init__(self, algo: str) -> None:
        self._h = _backend(algo)
        self.algo = algo

    @property
    def digest_size(self) -> int:
        return len(self._h.digest())

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._h.update(data)

    def digest(self) -> Digest:
        return Digest(self.algo, self._h.digest())


def new_hasher(algo: str) -> Hasher:
    """A fresh :class:`Hasher`; ValueError names the known algorithms."""
    return Hasher(algo)


def hash_bytes(data: bytes | bytearray | memoryview, algo: str) -> Digest:
    """Digest of ``data`` in one call."""
    h = Hasher(algo)
    h.update(data)
    return h.digest()


#: ``hash_bytes(data, "xxh64").hex`` in one C call: for hot loops hashing many small
#: strings, where the Hasher/Digest objects were most of the cost (profiled). The C
#: function itself (seed 0), not a wrapper: no Python frame per hash.
xxh64_hex: Callable[[bytes | bytearray | memoryview], str] = xxhash.xxh64_hexdigest


def hash_file(path: str | os.PathLike[str], algo: str, chunk_size: int = _DEFAULT_CHUNK) -> Digest:
    """Digest of a file's bytes, read in ``chunk_size`` pieces (memory stays flat)."""
    h = Hasher(algo)
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.digest()


def hash_json(value: Any, algo: str) -> Digest:
    """Digest of ``jsonio.dumps(value)`` (canon), so equal values hash equal."""
    return hash_bytes(jsonio.dumps(value), algo)


class HashingWriter:
    """Write through to a binary file while hashing exactly the bytes it accepted.

    Used to checksum an artifact as it streams out, without reading it back.
    """

    def __init__(self, file: IO[bytes], *algos: str) -> None:
        if not algos:
            raise ValueError("HashingWriter needs at least one algorithm")
        self._file = file
        self._hashers = {algo: Hasher(algo) for algo in algos}
        self.bytes_written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = self._file.write(data)  # a raw file may take only part of it
        part = memoryview(data)[:n]
        for h in self._hashers.values():
            h.update(part)
        self.bytes_written += n
        return n

    def flush(self) -> None:
        self._file.flush()

    def digest(self, algo: str | None = None) -> Digest:
        """The digest so far; ``algo`` may be omitted when only one was asked for."""
        if algo is None:
            if len(self._hashers) != 1:
                raise ValueError(f"name one of {', '.join(self._hashers)}")
            (h,) = self._hashers.values()
            return h.digest()
        try:
            return self._hashers[algo].digest()
        except KeyError:
            raise ValueError(
                f"{algo!r} is not hashed here; have {', '.join(self._hashers)}"
            ) from None

    def digests(self) -> dict[str, Digest]:
        return {algo: h.digest() for algo, h in self._hashers.items()}
