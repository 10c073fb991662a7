"""Build, validate, promote on the fixture (§6; §16 items 1, 2, 3, 5, 6, 9, 27)."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from groundwork import jsonio
from groundwork.fsio import FileLock
from pairofcleats.artifacts import (
    BuildState,
    CurrentPointer,
    IndexReader,
    IndexState,
    PiecesManifest,
    read_current,
)
from pairofcleats.build.api import build_index, index_status, validate_index
from pairofcleats.errors import IndexLocked, InvalidRequest, ValidationFailed
from pairofcleats.paths import RepoLayout
from poc_fixtures.repo import make_env

MODES = ["code", "prose", "extracted-prose"]


def _layout(repo: Path, env: dict[str, str]) -> RepoLayout:
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def _build_root(layout: RepoLayout) -> Path:
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return layout.repo_dir / ptr.buildRoot


def test_build_promotes_and_state_files_validate(built_fixture: Any) -> None:
    res = built_fixture.result
    assert res["ok"] and res["promoted"]
    layout = _layout(built_fixture.repo, built_fixture.env)
    ptr = CurrentPointer.model_validate(jsonio.read_json(layout.current_json))
    assert ptr.buildId == res["buildId"]
    assert set(ptr.buildRoots) == set(MODES)
    root = layout.repo_dir / ptr.buildRoot
    state = BuildState.model_validate(jsonio.read_json(root / "build_state.json"))
    assert state.status == "promoted"
    assert state.validation is not None and state.validation.ok
    assert state.compatibilityKey == ptr.compatibilityKey
    for mode in MODES:
        idir = root / f"index-{mode}"
        ist = IndexState.model_validate(jsonio.read_json(idir / "index_state.json"))
        man = PiecesManifest.model_validate(jsonio.read_json(idir / "pieces" / "manifest.json"))
        assert ist.compatibilityKey == man.compatibilityKey == ptr.compatibilityKey
        assert ist.stage == "stage4" and ist.embeddings.ready and ist.sqlite.ready
    sman = PiecesManifest.model_validate(
        jsonio.read_json(root / "index-sqlite" / "pieces" / "manifest.json")
    )
    assert sman.mode == "sqlite"
    assert sorted(p.name for p in sman.pieces) == sorted(f"index-{m}.db" for m in MODES)


def test_pieces_match_manifest_bytes_and_checksums(built_fixture: Any) -> None:
    from groundwork.hashing import hash_bytes

    root = _build_root(_layout(built_fixture.repo, built_fixture.env))
    for mode in MODES:
        reader = IndexReader(root / f"index-{mode}")
        assert {
            "chunk_meta",
            "token_postings",
            "field_postings",
            "minhash_signatures",
            "filter_index",
            "file_meta",
            "dense_vectors_uint8",
        } <= set(reader.names())
        for entry in reader.manifest.pieces:
            data = (root / f"index-{mode}" / entry.path).read_bytes()
            assert len(data) == entry.bytes
            assert entry.checksum == "xxh64:" + hash_bytes(data, "xxh64").hex


def _copy_build(built: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A private copy of the built fixture (repo + cache), safe to corrupt."""
    base = tmp_path / "copy"
    shutil.copytree(built.repo.parent, base, symlinks=True)
    env = dict(built.env)
    env["PAIROFCLEATS_CACHE_ROOT"] = str(base / "cache")
    env["HOME"] = str(base / "home")
    old = _layout(built.repo, built.env).repo_dir
    new = _layout(base / "repo", env).repo_dir
    (base / "cache" / "cache-v1" / "repos" / old.name).rename(new)
    return base / "repo", env


@pytest.mark.parametrize("mode", MODES)
def test_flipping_one_byte_in_any_piece_fails_validation(
    built_fixture: Any, tmp_path: Path, mode: str
) -> None:
    repo, env = _copy_build(built_fixture, tmp_path)
    layout = _layout(repo, env)
    root = _build_root(layout)
    assert validate_index(repo, env=env)["ok"]
    reader = IndexReader(root / f"index-{mode}")
    for entry in reader.manifest.pieces:
        p = root / f"index-{mode}" / entry.path
        original = p.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        p.write_bytes(bytes(flipped))
        rep = validate_index(repo, env=env)
        assert not rep["ok"], entry.name
        assert any(i["artifact"] == entry.name for i in rep["issues"]), (entry.name, rep["issues"])
        p.write_bytes(original)
    assert validate_index(repo, env=env)["ok"]


def test_corrupt_sqlite_db_fails_validation(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = _copy_build(built_fixture, tmp_path)
    root = _build_root(_layout(repo, env))
    db = root / "index-sqlite" / "index-code.db"
    data = bytearray(db.read_bytes())
    data[-100] ^= 0xFF
    db.write_bytes(bytes(data))
    rep = validate_index(repo, env=env)
    assert not rep["ok"]
    assert any(i["artifact"] == "index-code.db" for i in rep["issues"])


def test_failed_validation_leaves_current_json_untouched(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    before = layout.current_json.read_bytes()
    (fixture_repo / "src" / "new.py").write_text("def fresh():\n    return 1\n")
    env = {**build_env, "PAIROFCLEATS_TEST_FAIL_VALIDATION": "1"}
    with pytest.raises(ValidationFailed) as info:
        build_index(fixture_repo, stub_embeddings=True, env=env)
    assert layout.current_json.read_bytes() == before
    assert info.value.errors and info.value.errors[0]["code"] == "TEST_HOOK"
    failed = [
        p for p in layout.builds_dir.iterdir() if p.is_dir() and (p / "build_state.json").exists()
    ]
    statuses = {jsonio.read_json(p / "build_state.json")["status"] for p in failed}
    assert statuses == {"promoted", "failed"}


def test_locked_index_raises_index_locked(fixture_repo: Path, build_env: dict[str, str]) -> None:
    layout = _layout(fixture_repo, build_env)
    layout.lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(layout.lock_path, {"command": "test"}, heartbeat_s=None)
    with lock, pytest.raises(IndexLocked) as info:
        build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert info.value.code == "INDEX_LOCKED"
    assert not layout.current_json.exists()


def _artifact_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    for mode in MODES:
        reader = IndexReader(root / f"index-{mode}")
        for e in reader.manifest.pieces:
            out[f"{mode}/{e.name}"] = (root / f"index-{mode}" / e.path).read_bytes()
    return out


def test_threads_1_and_2_give_identical_artifacts(fixture_repo: Path, tmp_path: Path) -> None:
    env1 = make_env(tmp_path / "t1")
    env2 = make_env(tmp_path / "t2")
    build_index(fixture_repo, stub_embeddings=True, env=env1, threads=1, sqlite=False)
    build_index(fixture_repo, stub_embeddings=True, env=env2, threads=2, sqlite=False)
    a = _artifact_bytes(_build_root(_layout(fixture_repo, env1)))
    b = _artifact_bytes(_build_root(_layout(fixture_repo, env2)))
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k], k


def test_chunk_ids_and_uids_match_golden(built_fixture: Any) -> None:
    root = _build_root(_layout(built_fixture.repo, built_fixture.env))
    chunks = IndexReader(root / "index-code").chunk_meta()
    assert [c["id"] for c in chunks] == list(range(len(chunks)))
    files = [c["file"] for c in chunks]
    assert files == sorted(files)
    greet = next(c for c in chunks if c["name"] == "greet" and c["kind"] == "FunctionDeclaration")
    key = f"src/greet.py||{greet['start']}|{greet['end']}"
    assert greet["metaV2"]["chunkId"] == "chunk_" + hashlib.sha1(key.encode()).hexdigest()
    assert greet["startLine"] == 9 and greet["endLine"] == 12
    uid = greet["metaV2"]["chunkUid"]
    assert uid.startswith("ck64:v1:repo:src/greet.py:")
    assert len(uid.split(":")) == 7  # prefix(3) + path + span + pre + post
    methods = {c["name"] for c in chunks if c["kind"] == "MethodDeclaration"}
    assert {"Greeter.greet", "Server.Hello", "Person.new", "Calculator.add"} <= methods
    uids = [c["metaV2"]["chunkUid"] for c in chunks]
    assert len(set(uids)) == len(uids)


def test_chunk_uid_golden_value() -> None:
    from pairofcleats.build.process import _uid_hash

    # xxh64 of "span\0def f():\n    pass" (CRLF normalised to LF first)
    assert _uid_hash("span", "def f():\r\n    pass") == _uid_hash("span", "def f():\n    pass")
    assert len(_uid_hash("span", "x")) == 16


def test_invalid_current_json_is_reported_and_repaired(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False)
    layout = _layout(fixture_repo, build_env)
    layout.current_json.write_text("{not json")
    st = index_status(fixture_repo, env=build_env)
    assert st["current"] is None and st["indexed"] is False
    assert st["warnings"][0]["code"] == "CURRENT_INVALID"
    rep = validate_index(fixture_repo, env=build_env)
    assert not rep["ok"] and rep["issues"][0]["code"] == "CURRENT_INVALID"
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False)
    assert res["promoted"]
    assert any(w["code"] == "CURRENT_INVALID" for w in res["warnings"])
    assert read_current(layout.current_json).valid


def test_escaping_build_root_is_invalid(fixture_repo: Path, build_env: dict[str, str]) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False, stage=2)
    layout = _layout(fixture_repo, build_env)
    raw = jsonio.read_json(layout.current_json)
    raw["buildRoot"] = "../../../etc"
    layout.current_json.write_bytes(jsonio.dumps(raw))
    cur = read_current(layout.current_json)
    assert not cur.valid and cur.invalid_reason


def test_stage_flag_stops_early(fixture_repo: Path, build_env: dict[str, str]) -> None:
    res = build_index(fixture_repo, env=build_env, stage=1)
    root = _build_root(_layout(fixture_repo, build_env))
    reader = IndexReader(root / "index-code")
    assert reader.index_state().stage == "stage1"
    assert not reader.has("filter_index") and not reader.has("dense_vectors_uint8")
    assert not (root / "index-sqlite").exists()
    assert res["stage"] == "stage1"


def test_records_mode_is_bad_input(fixture_repo: Path, build_env: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        build_index(fixture_repo, env=build_env, mode="records")


def test_build_ids_are_distinct_within_one_second(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    ids = {
        build_index(fixture_repo, env=build_env, stage=1, incremental=False)["buildId"]
        for _ in range(3)
    }
    assert len(ids) == 3


def test_retention_keeps_current_and_newest(fixture_repo: Path, build_env: dict[str, str]) -> None:
    (fixture_repo / ".pairofcleats.json").write_text('{"cache": {"keepBuilds": 1}}')
    ids = [
        build_index(fixture_repo, env=build_env, stage=1, incremental=False)["buildId"]
        for _ in range(3)
    ]
    layout = _layout(fixture_repo, build_env)
    left = sorted(
        p.name
        for p in layout.builds_dir.iterdir()
        if p.name != "current.json" and p.name != "attempts"
    )
    assert ids[-1] in left
    assert ids[0] not in left
    assert os.path.exists(layout.current_json)


def test_markdown_fence_chunks_reach_code_mode_with_segments(tmp_path: Path) -> None:
    from poc_fixtures.repo import make_fixture_repo

    doc = "# Notes\n\nExample:\n\n```python\ndef fenced_helper(x):\n    return x\n```\n"
    repo = make_fixture_repo(tmp_path / "r", {"notes.md": doc, "a.py": "def a():\n    pass\n"})
    env = make_env(tmp_path)
    build_index(repo, env=env, sqlite=False, stage=2)
    root = _build_root(_layout(repo, env))
    code = IndexReader(root / "index-code").chunk_meta()
    fenced = next(c for c in code if c["name"] == "fenced_helper")
    seg = fenced["metaV2"]["segment"]
    assert fenced["file"] == "notes.md" and fenced["lang"] == "python"
    assert seg["type"] == "fence" and seg["languageId"] == "python"
    assert seg["segmentUid"].startswith("segu:v1:")
    assert fenced["metaV2"]["chunkUid"].startswith(
        f"ck64:v1:repo:notes.md#seg:{seg['segmentUid']}:python:"
    )
    key = f"notes.md|{seg['segmentId']}|{fenced['start']}|{fenced['end']}"
    assert fenced["metaV2"]["chunkId"] == "chunk_" + hashlib.sha1(key.encode()).hexdigest()
    assert (fenced["startLine"], fenced["endLine"]) == (6, 7)
    prose = IndexReader(root / "index-prose").chunk_meta()
    assert [c["name"] for c in prose] == ["Notes"]
    # an incremental rebuild keeps the fence chunks
    (repo / "a.py").write_text("def a2():\n    pass\n")
    build_index(repo, env=env, sqlite=False, stage=2)
    code2 = IndexReader(_build_root(_layout(repo, env)) / "index-code").chunk_meta()
    assert "fenced_helper" in {c["name"] for c in code2}


def test_hnsw_index_above_threshold(fixture_repo: Path, build_env: dict[str, str]) -> None:
    from usearch.index import Index

    (fixture_repo / ".pairofcleats.json").write_text('{"search": {"ann": {"hnswMinVectors": 10}}}')
    build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False, dims=16)
    root = _build_root(_layout(fixture_repo, build_env))
    reader = IndexReader(root / "index-code")
    meta = reader.read_json("dense_vectors_hnsw_meta", verify=True)
    n = len(reader.chunk_meta())
    assert meta == {
        "count": n,
        "dims": 16,
        "efConstruction": 200,
        "efSearch": 64,
        "m": 16,
        "space": "cosine",
    }
    index = Index.restore(str(reader.path("dense_vectors_hnsw")))
    assert index is not None and len(index) == n
    _, vecs = reader.dense()
    assert vecs.shape == (n, 16)
    prose = IndexReader(root / "index-prose")
    assert not prose.has("dense_vectors_hnsw")  # 6 prose chunks < 10


def test_retention_never_deletes_the_protected_set(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    (fixture_repo / ".pairofcleats.json").write_text('{"cache": {"keepBuilds": 0}}')
    layout = _layout(fixture_repo, build_env)
    first = build_index(fixture_repo, env=build_env, stage=1, incremental=False)["buildId"]
    second = build_index(fixture_repo, env=build_env, stage=1, incremental=False, protected=[first])
    assert (layout.builds_dir / first).is_dir()  # protected, though over keepBuilds
    assert second["retention"]["removed"] == []
    third = build_index(fixture_repo, env=build_env, stage=1, incremental=False)
    assert (layout.builds_dir / third["buildId"]).is_dir()  # current
    assert sorted(third["retention"]["removed"]) == sorted([first, second["buildId"]])


def test_quality_fast_skips_embeddings_and_chargrams(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, env=build_env, quality="fast", sqlite=False, stub_embeddings=True)
    root = _build_root(_layout(fixture_repo, build_env))
    reader = IndexReader(root / "index-code")
    assert not reader.has("chargram_postings") and not reader.has("dense_vectors_uint8")
    st = reader.index_state()
    assert st.features.chargram is False and st.embeddings.ready is False
    assert st.sqlite.ready is False


def test_index_state_sqlite_path_is_relative_to_the_build(built_fixture: Any) -> None:
    root = _build_root(_layout(built_fixture.repo, built_fixture.env))
    st = IndexReader(root / "index-code").index_state()
    assert st.sqlite.path == "index-sqlite/index-code.db"
    assert (root / st.sqlite.path).is_file()


def test_validate_a_named_build(fixture_repo: Path, build_env: dict[str, str]) -> None:
    first = build_index(fixture_repo, env=build_env, stage=2, sqlite=False)["buildId"]
    build_index(fixture_repo, env=build_env, stage=2, sqlite=False, incremental=False)
    rep = validate_index(fixture_repo, env=build_env, build=first)
    assert rep["ok"] and rep["buildId"] == first


def test_quality_max_writes_doc_and_code_variants(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    from pairofcleats.embeddings.quantize import quantize
    from pairofcleats.embeddings.stub import stub_matrix

    build_index(
        fixture_repo, env=build_env, quality="max", sqlite=False, stub_embeddings=True, dims=8
    )
    root = _build_root(_layout(fixture_repo, build_env))
    reader = IndexReader(root / "index-code")
    chunks = reader.chunk_meta()
    greet = next(c for c in chunks if c["name"] == "greet" and c["kind"] == "FunctionDeclaration")
    _, doc = reader.dense("dense_vectors_doc_uint8")
    _, code = reader.dense("dense_vectors_code_uint8")
    _, merged = reader.dense()
    want_doc = quantize(stub_matrix(["greet\nReturn a friendly greeting for name."], 8))[0]
    assert doc[greet["id"]].tolist() == want_doc.tolist()
    assert code.shape == merged.shape == doc.shape == (len(chunks), 8)
    assert code[greet["id"]].tolist() != merged[greet["id"]].tolist()
    # incremental reuse keeps every variant
    (fixture_repo / "README.md").write_text("# Fixture\n\nNew readme text.\n")
    build_index(
        fixture_repo, env=build_env, quality="max", sqlite=False, stub_embeddings=True, dims=8
    )
    reader2 = IndexReader(_build_root(_layout(fixture_repo, build_env)) / "index-code")
    assert reader2.dense("dense_vectors_doc_uint8")[1].tolist() == doc.tolist()


def test_hnsw_bytes_are_deterministic_above_the_default_threshold(tmp_path: Path) -> None:
    """Defect 3: > 20k vectors (the default ``hnswMinVectors``) give byte-identical HNSW
    graphs on every run; usearch's parallel add raced and did not."""
    import numpy as np
    from pairofcleats.artifacts.writer import PieceWriter
    from pairofcleats.build import hnsw

    rng = np.random.default_rng(7)
    mat = rng.integers(0, 256, size=(20_500, 8), dtype=np.uint8)
    digests = set()
    for k in range(2):
        w = PieceWriter(tmp_path / f"run{k}")
        hnsw.write_hnsw(w, mat, 8, 64)
        (entry,) = [e for e in w.entries if e["name"] == "dense_vectors_hnsw"]
        digests.add(entry["checksum"])
    assert hnsw.HNSW_ADD_THREADS == 1
    assert len(digests) == 1


def test_stage3_embeds_each_mode_longest_text_first(
    fixture_repo: Path, build_env: dict[str, str], monkeypatch: Any
) -> None:
    """The encoder pads a batch to its longest text, so stage 3 hands it a mode's texts
    longest first across all its batches (in chunk order they padded ~15 % more); the
    vectors still land on their own chunks."""
    import pairofcleats.embeddings as embeddings_mod
    from pairofcleats.build.api import build_index

    real = embeddings_mod.get_embedder
    calls: list[list[str]] = []

    def recording(*a: Any, **k: Any) -> Any:
        inner = real(*a, **k)

        class Recorder:
            name, model_id, dims = inner.name, inner.model_id, inner.dims

            def embed(self, texts: Any) -> Any:
                calls.append(list(texts))
                return inner.embed(texts)

        return Recorder()

    monkeypatch.setattr(embeddings_mod, "get_embedder", recording)
    (fixture_repo / ".pairofcleats.json").write_text('{"indexing":{"embeddings":{"batchSize":1}}}')
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["validation"]["ok"]
    assert len(calls) > 3  # batches of 8 texts: several per mode
    lengths = [len(t) for batch in calls for t in batch]
    rises = sum(b > a for a, b in itertools.pairwise(lengths))
    assert rises <= 2, lengths  # one non-increasing run per mode (three modes)
    monkeypatch.setattr(embeddings_mod, "get_embedder", real)
    plain = build_index(fixture_repo, stub_embeddings=True, env=build_env, cache_rebuild=True)
    layout_root = Path(build_env["PAIROFCLEATS_CACHE_ROOT"])
    a = sorted(layout_root.rglob(f"builds/{res['buildId']}/index-*/dense_vectors_uint8.bin"))
    b = sorted(layout_root.rglob(f"builds/{plain['buildId']}/index-*/dense_vectors_uint8.bin"))
    assert a and [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
