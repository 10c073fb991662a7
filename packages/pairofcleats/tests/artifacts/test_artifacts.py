"""Piece writers and the manifest reader (§1, §5; §15 B4, K4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from groundwork import jsonio
from groundwork.hashing import hash_bytes
from pairofcleats.artifacts import (
    IndexReader,
    PieceCorrupt,
    PieceMissing,
    PieceWriter,
    read_current,
)
from pairofcleats.errors import IndexInvalid


def _write(tmp_path: Path) -> Path:
    w = PieceWriter(tmp_path / "index-code")
    w.write_json("file_meta", [{"id": 0}], count=1)
    w.write_jsonl("field_tokens", [{"name": ["a"]}, {"name": []}])
    w.write_chunk_meta([{"id": 0}, {"id": 1}])
    w.write_manifest(
        mode="code", stage="stage1", repo_id="r-1", build_id="b1", compatibility_key="k"
    )
    return tmp_path / "index-code"


def test_checksums_hash_the_written_bytes(tmp_path: Path) -> None:
    idir = _write(tmp_path)
    reader = IndexReader(idir)
    for e in reader.manifest.pieces:
        data = (idir / e.path).read_bytes()
        assert e.checksum == "xxh64:" + hash_bytes(data, "xxh64").hex
        assert e.bytes == len(data)
    assert reader.read_json("file_meta", verify=True) == [{"id": 0}]
    assert list(reader.iter_jsonl("field_tokens", verify=True)) == [{"name": ["a"]}, {"name": []}]
    assert reader.chunk_meta() == [{"id": 0}, {"id": 1}]
    assert (idir / "file_meta.json").read_bytes() == jsonio.dumps([{"id": 0}])


def test_reader_detects_corruption_and_missing(tmp_path: Path) -> None:
    idir = _write(tmp_path)
    p = idir / "file_meta.json"
    p.write_bytes(p.read_bytes().replace(b"0", b"1"))
    reader = IndexReader(idir)
    with pytest.raises(PieceCorrupt):
        reader.read_bytes("file_meta", verify=True)
    with pytest.raises(PieceMissing):
        reader.entry("token_postings")


def test_verify_file_streams_the_same_checks(tmp_path: Path) -> None:
    idir = _write(tmp_path)
    reader = IndexReader(idir)
    reader.verify_file("file_meta")  # intact: no error
    p = idir / "file_meta.json"
    good = p.read_bytes()
    p.write_bytes(good.replace(b"0", b"1"))  # same size, other bytes
    with pytest.raises(PieceCorrupt, match="checksum"):
        reader.verify_file("file_meta")
    p.write_bytes(good + b" ")
    with pytest.raises(PieceCorrupt, match="bytes"):
        reader.verify_file("file_meta")
    p.unlink()
    with pytest.raises(PieceCorrupt, match="unreadable"):
        reader.verify_file("file_meta")


def test_manifest_paths_cannot_escape(tmp_path: Path) -> None:
    idir = _write(tmp_path)
    mpath = idir / "pieces" / "manifest.json"
    raw = jsonio.read_json(mpath)
    raw["pieces"][0]["path"] = "../../outside.json"
    mpath.write_bytes(jsonio.dumps(raw))
    with pytest.raises(PieceCorrupt):
        IndexReader(idir).path(raw["pieces"][0]["name"])


def test_missing_manifest_is_index_invalid(tmp_path: Path) -> None:
    with pytest.raises(IndexInvalid):
        IndexReader(tmp_path)


def test_sharded_chunk_meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pairofcleats.artifacts.writer as writer

    monkeypatch.setattr(writer, "CHUNK_META_SHARD_RECORDS", 2)
    w = PieceWriter(tmp_path / "idx")
    recs = [{"id": i} for i in range(5)]
    w.write_chunk_meta(recs)
    w.write_manifest(mode="code", stage="stage1", repo_id="r", build_id="b", compatibility_key="k")
    reader = IndexReader(tmp_path / "idx")
    assert not reader.has("chunk_meta")
    meta = reader.read_json("chunk_meta.meta")
    assert (
        meta["format"] == "jsonl-sharded" and meta["totalRecords"] == 5 and len(meta["parts"]) == 3
    )
    assert reader.chunk_meta(verify=True) == recs


def test_read_current_states(tmp_path: Path) -> None:
    cur = tmp_path / "repos" / "r" / "builds" / "current.json"
    assert read_current(cur).pointer is None and read_current(cur).invalid_reason is None
    cur.parent.mkdir(parents=True)
    cur.write_text("[]")
    st = read_current(cur)
    assert not st.valid and st.invalid_reason
