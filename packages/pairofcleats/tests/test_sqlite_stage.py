"""Stage 4 SQLite (§8 build side; §15 S2, S4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.paths import RepoLayout
from pairofcleats.sqlite_stage import (
    TABLE_NAMES,
    check_sqlite,
    decode_streams,
    encode_streams,
    open_readonly,
)


def _db(built: Any, mode: str = "code") -> Path:
    layout = RepoLayout.for_repo(built.repo.resolve(), built.cache_root)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return layout.repo_dir / ptr.buildRoot / "index-sqlite" / f"index-{mode}.db"


def test_schema_rows_and_meta(built_fixture: Any) -> None:
    db = _db(built_fixture)
    assert not Path(str(db) + ".tmp").exists()
    con = open_readonly(db)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert set(TABLE_NAMES) <= names
    n = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    chunks = IndexReader(db.parent.parent / "index-code").chunk_meta()
    assert n == len(chunks)
    key = con.execute("SELECT value FROM meta WHERE key='compatibilityKey'").fetchone()[0]
    layout = RepoLayout.for_repo(built_fixture.repo.resolve(), built_fixture.cache_root)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None and key == ptr.compatibilityKey
    wr = {
        r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%WITHOUT ROWID%'")
    }
    assert {"token_postings", "field_postings", "phrase_postings", "chargram_postings"} <= wr
    assert con.execute("PRAGMA journal_mode").fetchone()[0] in ("delete", "off")
    con.close()
    assert check_sqlite(db, n, key) == []


def test_postings_match_artifacts(built_fixture: Any) -> None:
    db = _db(built_fixture)
    reader = IndexReader(db.parent.parent / "index-code")
    tp = reader.read_json("token_postings")
    con = open_readonly(db)
    tid = tp["vocab"].index("greet")
    rows = con.execute(
        "SELECT doc_id, tf FROM token_postings p JOIN token_vocab v USING(token_id)"
        " WHERE v.token='greet' ORDER BY doc_id"
    ).fetchall()
    assert [list(r) for r in rows] == tp["postings"][tid]
    sigs = reader.read_json("minhash_signatures")["signatures"]
    blob = con.execute("SELECT sig FROM minhash_signatures WHERE doc_id=0").fetchone()[0]
    assert np.frombuffer(blob, "<u4").tolist() == sigs[0]
    con.close()


def test_punctuation_tokens_are_matchable(built_fixture: Any) -> None:
    db = _db(built_fixture)
    con = open_readonly(db)
    hits = con.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", ('"op3d3e"',)
    ).fetchall()
    # "=>" appears in the JS arrow functions
    files = {con.execute("SELECT file FROM chunks WHERE id=?", (h[0],)).fetchone()[0] for h in hits}
    assert "src/util.js" in files
    hits = con.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", ('"greet"',)
    ).fetchall()
    assert hits
    con.close()


def test_check_reports_wrong_key(built_fixture: Any) -> None:
    db = _db(built_fixture)
    con = open_readonly(db)
    n = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    con.close()
    codes = [c for c, _ in check_sqlite(db, n + 1, "other")]
    assert "SQLITE_COUNT" in codes and "SQLITE_KEY" in codes


def test_doc_list_blobs_and_field_tokens_match_artifacts(built_fixture: Any) -> None:
    """Phrase/chargram doc lists are one ``<u4`` blob per entry; field streams round-trip."""
    db = _db(built_fixture)
    reader = IndexReader(db.parent.parent / "index-code")
    con = open_readonly(db)
    for table, piece, col in (
        ("phrase", "phrase_ngrams", "phrase"),
        ("chargram", "chargram_postings", "gram"),
    ):
        data = reader.read_json(piece)
        rows = con.execute(
            f"SELECT v.{col}, p.doc_ids FROM {table}_vocab v JOIN {table}_postings p"
            f" USING({table if table == 'phrase' else 'gram'}_id) ORDER BY v.{col}"
        ).fetchall()
        assert [r[0] for r in rows] == data["vocab"]
        assert [np.frombuffer(r[1], "<u4").tolist() for r in rows] == data["postings"]
    streams = [row.get("fields", row) for row in reader.iter_jsonl("field_tokens")]
    stored = con.execute("SELECT doc_id, streams FROM field_tokens ORDER BY doc_id").fetchall()
    assert [d for d, _ in stored] == list(range(len(streams)))
    assert [decode_streams(s) for _, s in stored] == streams
    con.close()


def test_stream_encoding_round_trips_empty_fields() -> None:
    row = {"name": ["greet"], "doc": [], "operator": ["&&", "=>"]}
    assert decode_streams(encode_streams(row)) == row
    assert decode_streams(encode_streams({})) == {}
    assert decode_streams(None) == {}
