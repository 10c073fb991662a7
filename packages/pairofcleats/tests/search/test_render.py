"""Rendering (§9.6): compact keys and text lines."""

from __future__ import annotations

from pairofcleats.search.render import COMPACT_KEYS, compact_result, render_text

HIT = {
    "id": 3, "chunkId": "chunk_x", "chunkUid": "ck64:v1:repo:a.py:1", "file": "a.py",
    "start": 0, "end": 10, "startLine": 1, "endLine": 2, "ext": ".py", "lang": "python",
    "kind": "FunctionDeclaration", "name": "greet", "headline": "Say hi", "signature": "def g()",
    "doc": "Say hi", "metaV2": {}, "score": 1.5, "scoreType": "bm25", "sparseScore": 1.5,
    "sparseType": "bm25", "annScore": None, "annSource": None, "annType": None,
}  # fmt: skip


def test_compact_keeps_exactly_the_listed_keys() -> None:
    out = compact_result({"ok": True, "code": [HIT], "prose": [], "extractedProse": []})
    assert tuple(out["code"][0]) == COMPACT_KEYS
    assert out["ok"] is True


def test_text_lines() -> None:
    text = render_text(
        {
            "code": [HIT],
            "prose": [],
            "extractedProse": [],
            "warnings": [{"code": "QUERY_RELAXED", "message": "relaxed"}],
        }
    )
    assert text.splitlines() == [
        "[code]",
        "a.py:1-2  FunctionDeclaration greet  1.5000  Say hi",
        "warning QUERY_RELAXED: relaxed",
    ]
    assert render_text({"code": [], "prose": [], "extractedProse": []}) == "no results"


def test_text_warnings_once_per_code_with_their_modes() -> None:
    warn = [
        {"code": "QUERY_RELAXED", "message": "relaxed", "mode": "code"},
        {"code": "QUERY_RELAXED", "message": "relaxed", "mode": "prose"},
        {"code": "QUERY_RELAXED", "message": "relaxed", "mode": "prose"},
        {"code": "HNSW_UNAVAILABLE", "message": "no HNSW index; using exact", "mode": "code"},
    ]
    text = render_text({"code": [], "prose": [], "extractedProse": [], "warnings": warn})
    assert text.splitlines() == [
        "no results",
        "warning QUERY_RELAXED (code, prose): relaxed",
        "warning HNSW_UNAVAILABLE (code): no HNSW index; using exact",
    ]
