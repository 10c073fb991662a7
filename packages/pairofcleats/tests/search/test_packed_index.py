"""The memory backend reads pieces lazily (positions + mapped bytes) and must see exactly what
a full parse sees: every token's postings, every field's statistics, every chunk record,
weight and field stream, on a real build of the fixture."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson
import pytest
from pairofcleats import paths
from pairofcleats.artifacts.reader import read_current
from pairofcleats.search.index import LazyRows, ModeIndex, PackedPostings, PostingsTable
from pairofcleats.search.searcher import Searcher

from .conftest import BuiltIndex

MODES = ("code", "prose", "extracted-prose")


def _index_dir(idx: BuiltIndex, mode: str) -> Path:
    layout = paths.RepoLayout.for_repo(idx.repo, paths.default_cache_root(None, idx.env))
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    root = paths.Path(layout.repo_dir) / ptr.buildRoots.get(mode, ptr.buildRoot)
    return paths.index_dir(root, mode)


@pytest.mark.parametrize("mode", MODES)
def test_packed_tables_equal_the_parsed_pieces(search_index: BuiltIndex, mode: str) -> None:
    idx = ModeIndex(mode, _index_dir(search_index, mode))
    assert isinstance(idx.tokens, PackedPostings)
    assert isinstance(idx.rows, LazyRows)
    for table, piece, with_tf in (
        (idx.tokens, "token_postings", True),
        (idx.chargrams, "chargram_postings", False),
        (idx.phrases, "phrase_ngrams", False),
    ):
        assert isinstance(table, PackedPostings)
        data = idx.reader.read_json(piece)
        full = PostingsTable(list(data["vocab"]), data["postings"], None, with_tf=with_tf)
        assert len(table) == len(data["vocab"])
        for tok in data["vocab"]:
            got, want = table.lookup(tok), full.lookup(tok)
            assert got is not None and want is not None
            assert np.array_equal(got.doc_ids, want.doc_ids), (piece, tok)
            assert np.array_equal(got.tfs, want.tfs), (piece, tok)
        for absent in ("", "\uffff", "greet\u0000"):
            assert table.lookup(absent) is None and table.df(absent) == 0
    fields = idx.reader.read_json("field_postings")["fields"]
    assert sorted(idx.fields) == sorted(fields)
    for name, obj in fields.items():
        table = idx.fields[name]
        assert table.stats is not None
        assert np.array_equal(table.stats.doc_lengths, np.asarray(obj["docLengths"], float))
        assert (table.stats.avg_doc_len, table.stats.total_docs) == (
            obj["avgDocLen"],
            obj["totalDocs"],
        )
        for k, tok in enumerate(obj["vocab"]):
            got = table.lookup(tok)
            assert got is not None
            assert got.doc_ids.tolist() == [p[0] for p in obj["postings"][k]]
            assert got.tfs.tolist() == [p[1] for p in obj["postings"][k]]
    chunks = idx.reader.chunk_meta()
    assert idx.count == len(chunks)
    assert [idx.chunk(i) for i in range(idx.count)] == chunks
    weights = [float(c.get("weight", 1.0) or 1.0) for c in chunks]
    assert idx.weights_of(np.asarray([idx.count - 1, 0])).tolist() == [weights[-1], weights[0]]
    assert idx.weights.tolist() == weights
    rows = list(idx.reader.iter_jsonl("field_tokens"))
    assert len(idx.field_tokens) == len(rows)
    for k, row in enumerate(rows):
        assert idx.field_tokens[k] == {
            f: v for f, v in row.get("fields", row).items() if isinstance(v, list)
        }


def test_spacing_is_read_and_an_unexpected_layout_falls_back_to_a_full_parse(
    search_index: BuiltIndex, tmp_path: Path
) -> None:
    copy = search_index.copy(tmp_path)
    idir = _index_dir(copy, "code")
    fresh = ModeIndex("code", _index_dir(search_index, "code"))
    piece = idir / "token_postings.json"
    data = orjson.loads(piece.read_bytes())
    piece.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    spaced = ModeIndex("code", idir).tokens
    assert isinstance(spaced, PackedPostings)
    data["docLengths"] = [float(x) for x in data["docLengths"]]  # 5.0: not integers
    (tmp_path / "swap.json").write_bytes(orjson.dumps(data))
    os.replace(tmp_path / "swap.json", piece)  # as builds do: the open table keeps its bytes
    parsed = ModeIndex("code", idir).tokens
    assert isinstance(parsed, PostingsTable)
    for tok in ("greet", "sum", "clamp", "rust"):
        want = fresh.tokens.lookup(tok)
        for table in (spaced, parsed):
            got = table.lookup(tok)
            assert got is not None and want is not None
            assert np.array_equal(got.doc_ids, want.doc_ids)
            assert np.array_equal(got.tfs, want.tfs)


def test_warm_searcher_reloads_an_index_whose_piece_changed(
    search_index: BuiltIndex, tmp_path: Path
) -> None:
    copy = search_index.copy(tmp_path)
    searcher = Searcher(copy.repo, env=copy.env)
    before = searcher.mode_index("code")
    assert before is not None and searcher.mode_index("code") is before
    piece = before.reader.path("chunk_meta")
    st = os.stat(piece)
    os.utime(piece, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    after = searcher.mode_index("code")
    assert after is not None and after is not before
    assert after.signature != before.signature
