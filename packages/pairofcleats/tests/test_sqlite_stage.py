"""Stage 4 SQLite (§8 build side; §15 S2, S4)."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.paths import RepoLayout
from pairofcleats.postings import doc_postings
from pairofcleats.sqlite_bulk import (
    PACKED_ROWS,
    PHRASE_BLOCK,
    insert_columns,
    insert_packed,
    phrase_blocks,
)
from pairofcleats.sqlite_stage import (
    _FTS_TABLE,
    _TABLES,
    FTS_SHADOW_TABLES,
    PHRASE_BLOCK_SQL,
    TABLE_NAMES,
    _build_fts_file,
    check_sqlite,
    copy_fts,
    decode_phrase_block,
    decode_streams,
    encode_streams,
    fts_rows,
    load_fts,
    open_readonly,
)


def _db(built: Any, mode: str = "code") -> Path:
    layout = RepoLayout.for_repo(built.repo.resolve(), built.cache_root)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return layout.repo_dir / ptr.buildRoot / "index-sqlite" / f"index-{mode}.db"


def _assert_phrase_blocks(con: sqlite3.Connection, vocab: list[str], postings: Any) -> None:
    """Blocks concatenate to the vocabulary and doc lists, each keyed by its first phrase,
    and a lookup finds every phrase's docs and nothing for phrases between or outside."""
    rows = con.execute(
        "SELECT v.phrase, v.phrase_id, p.phrases, p.bounds, p.doc_ids FROM phrase_vocab v"
        " JOIN phrase_postings p USING(phrase_id) ORDER BY v.phrase"
    ).fetchall()
    assert [r[1] for r in rows] == list(range(len(rows)))
    assert [r[0] for r in rows] == vocab[::PHRASE_BLOCK]
    names = [n for r in rows for n in r[2].split("\n")]
    assert names == vocab
    lists = []
    for _first, _bid, text, bounds, docs in rows:
        b, d = np.frombuffer(bounds, "<u4"), np.frombuffer(docs, "<u4")
        assert len(b) == len(text.split("\n")) + 1 and b[0] == 0 and b[-1] == len(d)
        lists.extend(d[x:y].tolist() for x, y in itertools.pairwise(b.tolist()))
    want = [list(p) for p in postings]
    assert lists == want
    for phrase, docs in zip(vocab, want, strict=True):
        got = decode_phrase_block(con.execute(PHRASE_BLOCK_SQL, (phrase,)).fetchone(), phrase)
        assert got is not None and got.tolist() == docs
    for absent in ("", vocab[0][:-1], vocab[-1] + "~", *(p + "\x21" for p in vocab[::97])):
        if absent not in vocab:
            row = con.execute(PHRASE_BLOCK_SQL, (absent,)).fetchone()
            assert decode_phrase_block(row, absent) is None


def test_phrase_blocks_round_trip_across_block_edges() -> None:
    """Several blocks (the last one short), non-ASCII phrases, one and many docs each."""
    grams = [[f"w{i % 700} \u00e9{i // 3}", f"w{(i * 7) % 700} z"] for i in range(900)]
    data = doc_postings(grams, compact=True)
    assert len(data["vocab"]) > 2 * PHRASE_BLOCK and len(data["vocab"]) % PHRASE_BLOCK
    con = sqlite3.connect(":memory:")
    for stmt in _TABLES.split(";"):
        if "phrase_" in stmt:
            con.execute(stmt)
    bids, firsts, texts, bounds, docs = phrase_blocks(data["vocab"], data["postings"])
    insert_columns(con, "phrase_vocab", [firsts, bids])
    insert_columns(con, "phrase_postings", [bids, texts, bounds, docs])
    _assert_phrase_blocks(con, data["vocab"], data["postings"])
    assert decode_phrase_block(None, "w1 z") is None


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


def test_check_runs_the_fts_integrity_check_and_leaves_the_db_as_it_was(
    built_fixture: Any, tmp_path: Path
) -> None:
    """The FTS5 check needs a writable connection (it was skipped on the immutable one):
    a damaged segment is reported, and a sound db keeps its bytes."""
    db = tmp_path / "index-code.db"
    shutil.copy(_db(built_fixture), db)
    con = open_readonly(db)
    n = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    key = con.execute("SELECT value FROM meta WHERE key='compatibilityKey'").fetchone()[0]
    con.close()
    before = db.read_bytes()
    assert check_sqlite(db, n, key) == []
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [db.name]
    con = sqlite3.connect(db, isolation_level=None)
    con.execute(
        "UPDATE chunks_fts_data SET block = zeroblob(length(block))"
        " WHERE id = (SELECT max(id) FROM chunks_fts_data)"
    )
    con.close()
    assert [c for c, _ in check_sqlite(db, n, key)] == ["SQLITE_FTS_INTEGRITY"]


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
    data = reader.read_json("chargram_postings")
    rows = con.execute(
        "SELECT v.gram, p.doc_ids FROM chargram_vocab v JOIN chargram_postings p"
        " USING(gram_id) ORDER BY v.gram"
    ).fetchall()
    assert [r[0] for r in rows] == data["vocab"]
    assert [np.frombuffer(r[1], "<u4").tolist() for r in rows] == data["postings"]
    phrases = reader.read_json("phrase_ngrams")
    assert phrases["vocab"]
    _assert_phrase_blocks(con, phrases["vocab"], phrases["postings"])
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


def _fts_chunks(n: int) -> tuple[list[dict[str, Any]], list[list[str]]]:
    words = ["greet", "sum", "clamp", "&&", "=>", "caf\u00e9", "x1", "value"]
    chunks = [
        {
            "id": i,
            "file": f"src/f{i % 7}.py",
            "name": f"fn{i}",
            "kind": "function",
            "headline": f"fn{i} {words[i % 8]}",
            "metaV2": {"signature": f"def fn{i}(a)", "doc": words[(i * 3) % 8] if i % 2 else ""},
        }
        for i in range(n)
    ]
    tokens = [[words[(i + j) % 8] for j in range(i % 11 + 1)] for i in range(n)]
    return chunks, tokens


def test_fts_copied_from_side_file_equals_an_in_place_load(tmp_path: Path) -> None:
    """The FTS5 load runs in a side file whose shadow tables are copied in: row for row the
    same index as a load in place (integrity-check passes, bm25 ranks the same)."""
    chunks, tokens = _fts_chunks(3000)
    vocab = sorted({t for toks in tokens for t in toks})
    side = tmp_path / "side.db"
    _build_fts_file(side, fts_rows(chunks, tokens, vocab))
    here = sqlite3.connect(tmp_path / "here.db", isolation_level=None)
    here.execute("BEGIN")  # one transaction, as the build loads it
    here.execute(_FTS_TABLE)
    load_fts(here, fts_rows(chunks, tokens, vocab))
    here.execute("COMMIT")
    copied = sqlite3.connect(tmp_path / "copied.db", isolation_level=None)
    copied.execute(_FTS_TABLE)
    copied.execute("ATTACH DATABASE ? AS side", (str(side),))
    copied.execute("BEGIN")
    copy_fts(copied, "side")
    copied.execute("COMMIT")
    for part in FTS_SHADOW_TABLES:
        sql = f"SELECT * FROM chunks_fts_{part} ORDER BY 1"
        assert copied.execute(sql).fetchall() == here.execute(sql).fetchall(), part
    copied.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)")
    rank = "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY 2, 1"
    for q in ('"greet"', '"op2626"', '"sum" OR "clamp"', '"greet sum"', '"caf\u00e9"'):
        want = here.execute(rank, (q,)).fetchall()
        assert want and copied.execute(rank, (q,)).fetchall() == want, q


def test_build_leaves_no_side_file_and_fts_is_intact(built_fixture: Any, tmp_path: Path) -> None:
    db = _db(built_fixture)
    assert not [p.name for p in db.parent.iterdir() if p.name.endswith(".tmp")]
    copy = tmp_path / db.name
    copy.write_bytes(db.read_bytes())
    con = sqlite3.connect(copy)
    con.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)")
    assert (
        con.execute("SELECT COUNT(*) FROM chunks_fts_docsize").fetchone()[0]
        == (con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    )
    con.close()


def test_insert_packed_equals_insert_columns_and_falls_back_when_too_wide() -> None:
    """Packed rows (json_each, shifts and masks) equal the multi-row VALUES load, with a
    constant leading column, across blocks, and for columns too wide or negative to pack."""
    rng = np.random.default_rng(7)
    n = PACKED_ROWS + 1234
    cases = [
        [np.sort(rng.integers(0, 90_000, n)), np.arange(n), rng.integers(1, 3_000, n)],
        [np.arange(n), np.arange(n) * (1 << 40), rng.integers(0, 2, n)],  # 63+ bits
        [np.arange(n), rng.integers(-5, 5, n), np.zeros(n, dtype=np.int32)],  # negative
        [np.arange(n, dtype=np.uint32), np.full(n, 0), np.full(n, 1)],  # a zero-width column
    ]
    for cols in cases:
        con = sqlite3.connect(":memory:")
        for t in ("a", "b"):
            con.execute(f"CREATE TABLE {t}(f TEXT, x INTEGER, y INTEGER, z INTEGER)")
        assert insert_columns(con, "a", [["body"] * n, *cols]) == n
        assert insert_packed(con, "b", cols, ("body",)) == n
        sql = "SELECT f, x, y, z, typeof(x), typeof(z) FROM {} ORDER BY rowid"
        assert con.execute(sql.format("a")).fetchall() == con.execute(sql.format("b")).fetchall()
        con.close()
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE e(x INTEGER)")
    assert insert_packed(con, "e", [np.empty(0, dtype=np.int64)]) == 0
