"""Per-mode reuse of the current build's stage-1 pieces and SQLite db (``build.reuse``).

Each incremental build here is compared with a full build of the same tree in a fresh
cache: every piece's bytes (manifest checksums), every SQLite table's rows and the search
output of both backends must be equal.
"""

from __future__ import annotations

import copy
import os
import sqlite3
from pathlib import Path
from typing import Any

from pairofcleats import api
from pairofcleats.artifacts import read_current
from pairofcleats.artifacts.reader import IndexReader
from pairofcleats.build import pipeline
from pairofcleats.build.api import build_index
from pairofcleats.build.reuse import DIGEST_KEY, previous_modes, reuse_sqlite
from pairofcleats.paths import RepoLayout
from poc_fixtures.repo import make_env

MODES = ("code", "prose", "extracted-prose")
QUERIES = ("greet", "sum", "Greeter", "guide", "numbers", "touched")


def _layout(repo: Path, env: dict[str, str]) -> RepoLayout:
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def _root(repo: Path, env: dict[str, str]) -> Path:
    layout = _layout(repo, env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return layout.repo_dir / ptr.buildRoot


def _pieces(root: Path, mode: str) -> dict[str, tuple[int, str]]:
    reader = IndexReader(root / f"index-{mode}")
    return {p.name: (p.bytes, p.checksum) for p in reader.manifest.pieces}


def _tables(db: Path) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def _hits(repo: Path, env: dict[str, str], backend: str) -> list[Any]:
    out = []
    for q in QUERIES:
        res = api.search(q, repo=repo, backend=backend, env=env)
        out.append([res[k] for k in ("code", "prose", "extractedProse")])
    return out


def _assert_equals_full(repo: Path, env: dict[str, str], tmp: Path) -> None:
    fresh = make_env(tmp)
    build_index(repo, stub_embeddings=True, env=fresh)
    a, b = _root(repo, env), _root(repo, fresh)
    for mode in MODES:
        assert _pieces(a, mode) == _pieces(b, mode), mode
        assert _tables(a / "index-sqlite" / f"index-{mode}.db") == _tables(
            b / "index-sqlite" / f"index-{mode}.db"
        ), mode
    for backend in ("memory", "sqlite"):
        assert _hits(repo, env, backend) == _hits(repo, fresh, backend), backend


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def _inode(root: Path, mode: str, name: str) -> int:
    return (root / f"index-{mode}" / name).stat().st_ino


def test_a_mode_whose_chunks_did_not_change_links_its_pieces(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    mod = fixture_repo / "src" / "touched.py"
    body = "".join(f"    total = total + {i}\n" for i in range(40))
    mod.write_text(
        f'"""Totals."""\n\n\ndef total_of() -> int:\n    total = 0\n{body}    return total\n'
    )
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    before = _root(fixture_repo, build_env)
    # a function without comments or docstring far from any: the extracted-prose (and
    # prose) chunks stay as they were
    _touch(mod, mod.read_text() + "\n\ndef touched_function() -> int:\n    return 1\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["processed"] == 1 and res["validation"]["ok"]
    after = _root(fixture_repo, build_env)
    assert after != before
    for mode in ("prose", "extracted-prose"):
        assert _inode(after, mode, "token_postings.json") == _inode(
            before, mode, "token_postings.json"
        ), mode
    assert _inode(after, "code", "token_postings.json") != _inode(
        before, "code", "token_postings.json"
    )
    # prose's db is the same file; extracted-prose's was copied and its file_manifest patched
    sq_a, sq_b = after / "index-sqlite", before / "index-sqlite"
    assert (sq_a / "index-prose.db").stat().st_ino == (sq_b / "index-prose.db").stat().st_ino
    ep_a, ep_b = sq_a / "index-extracted-prose.db", sq_b / "index-extracted-prose.db"
    assert ep_a.stat().st_ino != ep_b.stat().st_ino
    con = sqlite3.connect(f"file:{ep_a}?mode=ro", uri=True)
    try:
        (h,) = con.execute(
            "SELECT hash FROM file_manifest WHERE file = 'src/touched.py'"
        ).fetchone()
    finally:
        con.close()
    meta = {m["file"]: m["hash"] for m in IndexReader(after / "index-code").read_json("file_meta")}
    assert h == meta["src/touched.py"]
    assert IndexReader(after / "index-code").manifest.extensions[DIGEST_KEY].startswith("xxh64:")
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full")


def test_chunk_records_that_change_without_their_tokens_keep_the_derived_pieces(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path, monkeypatch: Any
) -> None:
    """The bench's one-file edit: a function appended to a short module whose docstring is
    its only extracted-prose chunk. That chunk's ``chunkUid`` post-context changes (so its
    ``chunk_meta`` record does) while its tokens do not: the derived pieces are linked, the
    db is copied with its ``chunks`` row rewritten, and the result equals a full build."""
    mod = fixture_repo / "src" / "short.py"
    mod.write_text('"""Short module about widgets."""\n\nVERSION = "1"\n')
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    before = _root(fixture_repo, build_env)
    uid_before = _uid(before, "src/short.py")
    built: list[str] = []
    real = pipeline._build_sqlite_mode

    def counting(req: Any, sdir: Path, mode: str, *rest: Any) -> Path:
        built.append(mode)
        return real(req, sdir, mode, *rest)

    monkeypatch.setattr(pipeline, "_build_sqlite_mode", counting)
    _touch(mod, mod.read_text() + "\n\ndef bench_touched_function() -> int:\n    return 1\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["processed"] == 1 and res["validation"]["ok"]
    assert built == ["code"]  # extracted-prose's db was the current one, patched
    monkeypatch.undo()
    after = _root(fixture_repo, build_env)
    assert _uid(after, "src/short.py") != uid_before  # the record changed ...
    for name in ("token_postings.json", "phrase_ngrams.json", "minhash_signatures.json"):
        # ... its tokens did not: the derived pieces are the current build's files
        assert _inode(after, "extracted-prose", name) == _inode(before, "extracted-prose", name)
    assert (
        _pieces(after, "extracted-prose")["chunk_meta"]
        != _pieces(before, "extracted-prose")["chunk_meta"]
    )
    db = after / "index-sqlite" / "index-extracted-prose.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (uid,) = con.execute("SELECT chunk_uid FROM chunks WHERE file = 'src/short.py'").fetchone()
    finally:
        con.close()
    assert uid == _uid(after, "src/short.py")
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full")


def test_a_changed_record_is_patched_only_while_its_fts_columns_stay(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    """``reuse_sqlite`` rewrites ``chunks`` rows in place only while what FTS5 and the
    indexes hold stays equal; any other change makes it decline (the db is then built)."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    current = read_current(layout.current_json)
    assert current.pointer is not None
    key, chash = current.pointer.compatibilityKey, current.pointer.configHash
    prev = previous_modes(layout, current, ["extracted-prose"], key, chash)["extracted-prose"]
    recs = IndexReader(prev.index_dir).chunk_meta()
    con = sqlite3.connect(f"file:{prev.db}?mode=ro", uri=True)
    try:
        files = con.execute("SELECT * FROM file_manifest ORDER BY file").fetchall()
    finally:
        con.close()
    uid_only = copy.deepcopy(recs)
    uid_only[0]["metaV2"]["chunkUid"] += ":x"
    out = reuse_sqlite(prev, tmp_path / "a", "extracted-prose", files, uid_only)
    assert out is not None
    con = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        got = con.execute("SELECT chunk_uid FROM chunks WHERE id = 0").fetchone()[0]
    finally:
        con.close()
    assert got == uid_only[0]["metaV2"]["chunkUid"]
    for field, value in (("name", "renamed"), ("headline", "other words"), ("weight", 9.5)):
        changed = copy.deepcopy(recs)
        changed[0][field] = value
        assert reuse_sqlite(prev, tmp_path / field, "extracted-prose", files, changed) is None
    doc = copy.deepcopy(recs)
    doc[0]["metaV2"]["doc"] = "another docstring"
    assert reuse_sqlite(prev, tmp_path / "doc", "extracted-prose", files, doc) is None
    assert reuse_sqlite(prev, tmp_path / "short", "extracted-prose", files, recs[1:]) is None


def _uid(root: Path, rel: str) -> str:
    recs = IndexReader(root / "index-extracted-prose").chunk_meta()
    return next(str(c["metaV2"]["chunkUid"]) for c in recs if c["file"] == rel)


def test_changed_added_and_deleted_files_equal_a_full_build(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    _touch(fixture_repo / "src" / "greet.py", 'def greet():\n    """Say yo."""\n    return "yo"\n')
    (fixture_repo / "src" / "extra.py").write_text(
        '# extra helpers\n\n\ndef touched(a: int) -> int:\n    """Touch a."""\n    return a\n'
    )
    (fixture_repo / "src" / "lib.rs").unlink()
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["removed"] >= 1 and res["validation"]["ok"]
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full1")
    # then a prose-only edit: code and extracted-prose reuse everything, still equal
    _touch(fixture_repo / "README.md", "# Fixture\n\nA changed readme about numbers.\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["processed"] == 1
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full2")


def test_a_corrupted_piece_of_the_current_build_is_not_linked(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    before = _root(fixture_repo, build_env)
    piece = before / "index-prose" / "phrase_ngrams.json"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0x01
    piece.write_bytes(bytes(data))
    _touch(fixture_repo / "src" / "util.js", "export function sumAll(xs) { return xs.length; }\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["validation"]["ok"] and res["promoted"]
    after = _root(fixture_repo, build_env)
    assert _inode(after, "prose", "token_postings.json") != _inode(
        before, "prose", "token_postings.json"
    )
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full")


def test_cache_rebuild_reuses_no_piece(fixture_repo: Path, build_env: dict[str, str]) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    before = _root(fixture_repo, build_env)
    build_index(fixture_repo, stub_embeddings=True, env=build_env, cache_rebuild=True)
    after = _root(fixture_repo, build_env)
    assert after != before
    for mode in MODES:
        assert _inode(after, mode, "token_postings.json") != _inode(
            before, mode, "token_postings.json"
        )


def test_reused_pieces_without_a_db_to_patch_still_build_the_db(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    """The current build stopped at stage 3: reused modes derive their db from scratch."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env, stage=3)
    before = _root(fixture_repo, build_env)
    _touch(fixture_repo / "src" / "util.js", "export function sumAll(xs) { return xs.length; }\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["validation"]["ok"]
    after = _root(fixture_repo, build_env)
    assert _inode(after, "prose", "token_postings.json") == _inode(
        before, "prose", "token_postings.json"
    )
    _assert_equals_full(fixture_repo, build_env, tmp_path / "full")
