"""Per-file bundles: chunk records, UTF-16 offsets, chunkUid, weight, headline (§4)."""

from __future__ import annotations

import hashlib

from groundwork.hashing import hash_bytes
from pairofcleats.build.process import bundle_from_source, headline_for, weight_for
from pairofcleats.config import PairOfCleatsConfig
from pairofcleats.discover import SourceFile, decode


def _src(rel: str, text: str, lang: str = "python") -> SourceFile:
    data = text.encode("utf-8")
    decoded, enc, fb = decode(data)
    return SourceFile(
        rel,
        lang,
        "." + rel.rsplit(".", 1)[-1],
        len(data),
        0,
        data,
        decoded,
        enc,
        fb,
        text.count("\n"),
        False,
    )


def _h(label: str, text: str) -> str:
    return hash_bytes((label + "\0" + text).encode("utf-8"), "xxh64").hex


def test_uid_context_counts_utf16_units() -> None:
    pad = "😀" * 100  # 200 UTF-16 units, 100 code points
    text = f'X = "{pad}"\n\n\ndef target():\n    return 1\n'
    b = bundle_from_source(_src("u.py", text), PairOfCleatsConfig().indexing, ("code",))
    rec = next(c for c in b["modes"]["code"]["chunks"] if c["name"] == "target")
    u16 = text.encode("utf-16-le")
    s, e = rec["start"], rec["end"]
    assert u16[s * 2 : e * 2].decode("utf-16-le") == "def target():\n    return 1"
    assert pad[:10] in u16[(s - 128) * 2 : s * 2].decode("utf-16-le", "replace")
    pre = u16[(s - 128) * 2 : s * 2].decode("utf-16-le", "replace")
    post = u16[e * 2 : (e + 128) * 2].decode("utf-16-le", "replace")
    span = "def target():\n    return 1"
    want = f"ck64:v1:repo:u.py:{_h('span', span)}:{_h('pre', pre)}:{_h('post', post)}"
    assert rec["metaV2"]["chunkUid"] == want
    assert (
        rec["metaV2"]["chunkId"] == "chunk_" + hashlib.sha1(f"u.py||{s}|{e}".encode()).hexdigest()
    )


def test_uid_context_of_non_ascii_bmp_text() -> None:
    """Non-ASCII text without astral characters slices its context windows as str: the
    same windows the UTF-16 units give."""
    pad = "é€" * 100
    text = f'X = "{pad}"\n\n\ndef target():\n    return 1\n'
    b = bundle_from_source(_src("b.py", text), PairOfCleatsConfig().indexing, ("code",))
    rec = next(c for c in b["modes"]["code"]["chunks"] if c["name"] == "target")
    u16 = text.encode("utf-16-le")
    s, e = rec["start"], rec["end"]
    pre = u16[(s - 128) * 2 : s * 2].decode("utf-16-le", "replace")
    post = u16[e * 2 : (e + 128) * 2].decode("utf-16-le", "replace")
    assert pre.endswith('é€"\n\n\n') and len(pre) == 128
    span = "def target():\n    return 1"
    want = f"ck64:v1:repo:b.py:{_h('span', span)}:{_h('pre', pre)}:{_h('post', post)}"
    assert rec["metaV2"]["chunkUid"] == want


def test_identical_chunks_get_distinct_uids() -> None:
    body = "def same():\n    return 1\n\n\n"
    text = body * 3
    b = bundle_from_source(_src("d.py", text), PairOfCleatsConfig().indexing, ("code",))
    uids = [c["metaV2"]["chunkUid"] for c in b["modes"]["code"]["chunks"]]
    assert len(uids) == 3 and len(set(uids)) == 3


def test_weight_table() -> None:
    assert weight_for("tests/test_a.py", "FunctionDeclaration", ".py") == 0.5
    assert weight_for("src/a.py", "FunctionDeclaration", ".py") == 2.0
    assert weight_for("src/a.py", "ClassDeclaration", ".py") == 1.5
    assert weight_for("src/a.py", "Module", ".py") == 1.2
    assert weight_for("src/a.go", "Module", ".go") == 1.1
    assert weight_for("docs/a.md", "Section", ".md") == 0.8
    assert weight_for("a.toml", "ConfigEntry", ".toml") == 1.0


def test_headline_rules() -> None:
    assert headline_for("one two three four five six seven eight", "n", []) == (
        "one two three four five six seven"
    )
    assert headline_for("", "greet", []) == "greet"
    toks = ["the", "x", "42", "alpha", "beta", "alpha", "return", "gamma"]
    assert headline_for("", "", toks) == "alpha beta gamma"
    assert headline_for("", "root", []) == "(no headline)"
    long = " ".join(["w" * 29] * 7)
    out = headline_for(long, "", [])
    assert len(out) == 121 and out.endswith("…")


def test_offsets_flags_and_utf16_lengths() -> None:
    """The regex scans give what ``max(text)`` gave: ``bmp`` (nothing astral), ``narrow``
    (nor a surrogate); UTF-16 row lengths count an astral code point twice."""
    from pairofcleats.build.process import _Offsets, _utf16_len

    for text, bmp, narrow in [
        ("ascii\nonly", True, True),
        ("é€\n\ud7ff", True, True),
        ("\ue000\uffff", True, False),
        ("a\ud800b", True, False),
        ("x\n\U0001f600", False, False),
        ("\udfff\U00010000", False, False),
        ("\U0010ffff", False, False),
    ]:
        off = _Offsets(text.split("\n"), text)
        assert (off.bmp, off.narrow) == (bmp, narrow), text
        top = max(text)
        assert (top <= "\uffff", top < "\ud800") == (bmp, narrow)
        for row in text.split("\n"):
            assert _utf16_len(row) == len(row) + sum(1 for ch in row if ord(ch) > 0xFFFF)


def test_a_non_ascii_file_with_ascii_spans_and_comments() -> None:
    """Spans of a non-ASCII file that are ASCII themselves scan their own word text; the
    rows of comments are blanked from the body but feed usages."""
    text = 'S = "é"\n\n\ndef f(a):\n    # note alpha\n    return a + beta  # tail\n'
    b = bundle_from_source(_src("n.py", text), PairOfCleatsConfig().indexing, ("code",))
    modes = b["modes"]["code"]
    i = next(i for i, c in enumerate(modes["chunks"]) if c["name"] == "f")
    fields = modes["fieldTokens"][i]
    assert fields["body"] == ["f", "a"]
    assert fields["comment"] == ["note", "alpha", "tail"]
    assert modes["chunks"][i]["metaV2"]["codeRelations"]["usages"] == [
        "f", "a", "note", "alpha", "beta", "tail",
    ]  # fmt: skip
