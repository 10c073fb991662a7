"""hashing: published vectors, streaming equals one-shot, canon JSON hashes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import xxhash
from groundwork import jsonio
from groundwork.hashing import (
    ALGORITHMS,
    Digest,
    HashingWriter,
    hash_bytes,
    hash_file,
    hash_json,
    new_hasher,
    xxh64_hex,
)
from hypothesis import given
from hypothesis import strategies as st

# Published test vectors (empty input unless noted).
VECTORS = {
    "blake3": "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    "xxh64": "ef46db3751d8e999",
    "xxh3_64": "2d06800538d394c2",
    "xxh3_128": "99aa06d3014798d86001c324468d497f",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_empty_input_matches_published_vectors(algo: str) -> None:
    digest = hash_bytes(b"", algo)
    assert digest.hex == VECTORS[algo]
    assert digest.size == len(VECTORS[algo]) // 2
    assert digest.tagged == f"{algo}:{VECTORS[algo]}"
    assert str(digest) == digest.tagged


def test_abc_vectors() -> None:
    assert hash_bytes(b"abc", "sha256").hex.startswith("ba7816bf8f01cfea414140de5dae2223")
    assert hash_bytes(b"abc", "sha1").hex == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert hash_bytes(b"abc", "blake3").hex.startswith("6437b3ac38465133ffb63b75273a8db5")


@given(st.binary(max_size=2000))
def test_int_is_xxhash_intdigest(data: bytes) -> None:
    assert hash_bytes(data, "xxh64").int == xxhash.xxh64_intdigest(data)
    assert hash_bytes(data, "xxh3_64").int == xxhash.xxh3_64_intdigest(data)
    assert hash_bytes(data, "xxh3_128").int == xxhash.xxh3_128_intdigest(data)
    assert hash_bytes(data, "sha256").bytes == hashlib.sha256(data).digest()


@given(st.binary(max_size=2000))
def test_xxh64_hex_is_hash_bytes_hex(data: bytes) -> None:
    assert xxh64_hex(data) == hash_bytes(data, "xxh64").hex
    assert xxh64_hex(memoryview(data)) == hash_bytes(data, "xxh64").hex


@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from(ALGORITHMS))
def test_incremental_equals_one_shot(parts: list[bytes], algo: str) -> None:
    h = new_hasher(algo)
    for part in parts:
        h.update(part)
    assert h.digest() == hash_bytes(b"".join(parts), algo)
    assert h.digest_size == h.digest().size


@pytest.mark.parametrize("chunk", [1, 7, 4096, 1_048_576])
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_hash_file_streams_and_matches_bytes(tmp_path: Path, algo: str, chunk: int) -> None:
    data = bytes(range(256)) * 40 + b"tail"
    target = tmp_path / "blob.bin"
    target.write_bytes(data)
    assert hash_file(target, algo, chunk_size=chunk) == hash_bytes(data, algo)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert hash_file(str(empty), algo).hex == VECTORS[algo]


def test_hash_json_is_the_hash_of_canon() -> None:
    a = {"b": [1, 2.5, None], "a": "ü"}
    b = {"a": "ü", "b": [1, 2.5, None]}
    assert hash_json(a, "sha1") == hash_json(b, "sha1")
    assert hash_json(a, "sha1") == hash_bytes(jsonio.dumps(a), "sha1")
    assert (
        hash_json(a, "sha1").hex == hashlib.sha1(b'{"a":"\xc3\xbc","b":[1,2.5,null]}').hexdigest()
    )
    with pytest.raises(jsonio.JsonError):
        hash_json({1: 2}, "sha1")


def test_unknown_algorithm_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="blake3, xxh3_64"):
        new_hasher("md5")
    with pytest.raises(ValueError):
        hash_bytes(b"", "xxh32")


def test_tagged_round_trip_and_errors() -> None:
    d = hash_bytes(b"x", "xxh64")
    assert Digest.from_tagged(d.tagged) == d
    for bad in ["xxh64", "md5:00", "xxh64:zz", "xxh64:00", "blake3:" + "00" * 8]:
        with pytest.raises(ValueError):
            Digest.from_tagged(bad)


class Trickle(io.RawIOBase):
    """A raw file that accepts at most 3 bytes per write, like a slow pipe."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.flushes = 0

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        chunk = bytes(memoryview(b))[:3]  # type: ignore[arg-type]
        self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        self.flushes += 1


def test_hashing_writer_hashes_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with open(target, "wb") as fh:
        w = HashingWriter(fh, "xxh64", "sha256")
        assert w.write(b"hello ") == 6
        w.write(bytearray(b"world"))
        w.flush()
        digests = w.digests()
    data = target.read_bytes()
    assert data == b"hello world"
    assert w.bytes_written == 11
    assert digests == {"xxh64": hash_bytes(data, "xxh64"), "sha256": hash_bytes(data, "sha256")}
    assert w.digest("sha256") == digests["sha256"]
    with pytest.raises(ValueError, match="name one of"):
        w.digest()
    with pytest.raises(ValueError, match="not hashed here"):
        w.digest("blake3")


def test_hashing_writer_counts_partial_writes() -> None:
    raw = Trickle()
    w = HashingWriter(raw, "blake3")  # type: ignore[arg-type]
    data = memoryview(b"abcdefgh")
    while data:
        data = data[w.write(data) :]
    w.flush()
    assert bytes(raw.data) == b"abcdefgh"
    assert raw.flushes >= 1
    assert w.digest() == hash_bytes(b"abcdefgh", "blake3")


def test_hashing_writer_needs_an_algorithm() -> None:
    with pytest.raises(ValueError):
        HashingWriter(io.BytesIO())
