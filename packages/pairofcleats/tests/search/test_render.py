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


def _breakdown(**over: object) -> dict[str, object]:
    bd: dict[str, object] = {
        "schemaVersion": 1,
        "selected": {"type": "rrf", "score": 0.0371},
        "sparse": {"type": "bm25-fielded", "score": 25.27106, "rank": 2},
        "ann": {"score": 0.25313, "source": "dense", "rank": 2},
        "rrf": {"k": 60, "sparseRank": 2, "annRank": 2, "score": 0.0322},
        "blend": None,
        "phrase": None,
        "symbol": {"definition": True, "export": False, "name": None, "factor": 1.15},
    }
    bd.update(over)
    return bd


def test_explain_line_names_both_lists_and_the_boosts() -> None:
    from pairofcleats.search.render import explain_line

    assert explain_line(_breakdown()) == (
        "rrf 0.0371 = sparse #2 bm25-fielded 25.2711 + dense #2 0.2531 · definition ×1.15"
    )
    one_list = _breakdown(
        selected={"type": "bm25", "score": 3.0},
        sparse={"type": "bm25", "score": 3.0, "rank": 1},
        ann=None,
        phrase={"matches": 2, "factor": 0.2, "boost": 0.6},
        symbol={"definition": True, "export": True, "name": "exact", "factor": 1.8975},
    )
    assert explain_line(one_list) == (
        "bm25 3.0000 · phrase 2 matches +20% · definition exported name exact ×1.9"
    )
    dense_only = _breakdown(sparse=None, symbol=None, ann={"score": 0.4, "source": "hnsw"})
    assert explain_line(dense_only) == "rrf 0.0371 = hnsw 0.4000"


def test_explained_text_has_a_mode_summary_and_a_line_per_hit() -> None:
    stats = {
        "explain": {
            "intent": {"type": "code", "signals": ["identifier-case"]},
            "modes": {
                "code": {
                    "matchMode": "all",
                    "candidates": 1753,
                    "allowed": 7,
                    "relaxed": {"steps": ["expand"]},
                    "expansions": {"greter": [{"token": "greeter"}, {"token": "greet"}]},
                }
            },
        }
    }
    hit = {**HIT, "scoreBreakdown": _breakdown()}
    text = render_text(
        {"code": [hit], "prose": [], "extractedProse": [], "stats": stats}, explain=True
    )
    assert text.splitlines() == [
        "[code]",
        "  intent code (identifier-case) · match all · 1,753 candidates · 7 allowed"
        " · relaxed: expand · greter → greeter, greet",
        "a.py:1-2  FunctionDeclaration greet  1.5000  Say hi",
        "    rrf 0.0371 = sparse #2 bm25-fielded 25.2711 + dense #2 0.2531 · definition ×1.15",
    ]
    # without explain nothing of it shows
    plain = render_text({"code": [hit], "prose": [], "extractedProse": [], "stats": stats})
    assert plain.splitlines() == ["[code]", "a.py:1-2  FunctionDeclaration greet  1.5000  Say hi"]
