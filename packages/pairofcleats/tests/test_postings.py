"""Postings, phrase n-grams, chargrams and MinHash golden values (§5; §16 item 10; §15 P1-P2)."""

from __future__ import annotations

import pytest
from groundwork import jsonio
from hypothesis import given
from hypothesis import strategies as st
from pairofcleats.artifacts.writer import canon, plain_float
from pairofcleats.postings import (
    chargram_postings,
    chargrams,
    doc_postings,
    minhash_signatures,
    phrase_ngrams,
    phrase_postings,
    token_field_postings_and_minhash,
    token_postings,
    token_postings_and_minhash,
)


def test_minhash_golden() -> None:
    sig = minhash_signatures([["greet", "name", "hello"]])[0]
    assert len(sig) == 128
    assert sig[:4] == [4297228, 5220749, 6144270, 7067791]
    assert sig[-1] == 121584395


def test_minhash_is_order_and_duplicate_insensitive() -> None:
    a, b = minhash_signatures([["hello", "name", "greet", "greet"], ["greet", "name", "hello"]])
    assert a == b


def test_minhash_utf16_units() -> None:
    def ref(tokens: list[str]) -> list[int]:
        out = []
        for seed in range(1, 129):
            best = None
            for t in tokens:
                h = seed
                raw = t.encode("utf-16-le")
                for i in range(0, len(raw), 2):
                    h = (h * 31 + (raw[i] | raw[i + 1] << 8)) % 2**32
                best = h if best is None else min(best, h)
            out.append(best)
        return out

    toks = ["ünï", "😀x", "plain"]
    assert minhash_signatures([toks])[0] == ref(toks)


def test_empty_doc_signature() -> None:
    assert minhash_signatures([[]])[0] == [0xFFFFFFFF] * 128


def test_token_postings_shape() -> None:
    tp = token_postings([["b", "a", "b"], [], ["a"]])
    assert tp["vocab"] == ["a", "b"]
    assert tp["postings"] == [[[0, 1], [2, 1]], [[0, 2]]]
    assert tp["docLengths"] == [3, 0, 1]
    assert tp["totalDocs"] == 3
    assert abs(tp["avgDocLen"] - 4 / 3) < 1e-12


def test_phrase_ngrams_and_chargrams() -> None:
    assert phrase_ngrams(["a", "b", "c"], 2, 3) == ["a b", "b c", "a b c"]
    grams = chargrams(["abc", "x" * 60, "abc"], 3, 3, 48)
    assert sorted(grams) == ["\u0002ab", "abc", "bc\u0003"]


@given(st.lists(st.lists(st.sampled_from(["x", "y", "zz", "w1", "é"]), max_size=12), max_size=20))
def test_postings_are_strictly_ascending_and_sum_to_lengths(docs: list[list[str]]) -> None:
    tp = token_postings(docs)
    assert tp["vocab"] == sorted(set(tp["vocab"]))
    total = 0
    for plist in tp["postings"]:
        ids = [d for d, _ in plist]
        assert ids == sorted(set(ids))
        assert all(0 <= d < len(docs) for d in ids)
        total += sum(tf for _, tf in plist)
    assert total == sum(len(d) for d in docs)
    dp = doc_postings(docs)
    for tok, plist in zip(dp["vocab"], dp["postings"], strict=True):
        assert plist == [i for i, d in enumerate(docs) if tok in d]


_phrase_tokens = st.sampled_from(["a", "ab", "b", "a b", "", "zz", "\u00e9", "!", "a\tb", "ba"])


@given(
    st.lists(st.lists(st.lists(_phrase_tokens, max_size=7), max_size=4), max_size=8),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=5),
)
def test_phrase_postings_equal_the_string_path(
    streams: list[list[list[str]]], min_n: int, max_n: int
) -> None:
    """The integer-window path must give exactly doc_postings of the joined n-grams,
    including tokens that hold spaces, tabs or nothing (those take the string path)."""
    grams = [[g for s in doc for g in phrase_ngrams(s, min_n, max_n)] for doc in streams]
    assert phrase_postings(streams, min_n, max_n) == doc_postings(grams)


@given(
    st.lists(
        st.lists(st.lists(st.sampled_from(["a", "ab", "b", "c1", "\u00e9", "!"]), max_size=9)),
        max_size=10,
    ),
)
def test_phrase_postings_integer_path_order(streams: list[list[list[str]]]) -> None:
    """Tokens without characters <= U+0020 always take the integer path; its vocab
    order is code-point order of the joined strings (prefix grams first)."""
    grams = [[g for s in doc for g in phrase_ngrams(s, 2, 4)] for doc in streams]
    assert phrase_postings(streams, 2, 4) == doc_postings(grams)


@given(
    st.lists(
        st.lists(
            st.lists(st.sampled_from(["a", "ab", "b", "\u00e9", "\U0001f600", "z~"]), max_size=9)
        ),
        max_size=10,
    ),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=3),
)
def test_compact_phrase_vocab_reads_and_writes_as_the_list(
    streams: list[list[list[str]]], batch: int, spell_batch: int
) -> None:
    """The build's blob-backed phrase vocabulary (``compact``) reads, slices, iterates and
    serialises exactly as the list form, whatever the batch boundaries."""
    from pairofcleats import postings as mod
    from pairofcleats.artifacts.writer import canon_piece
    from pairofcleats.postings import StrTable

    plain = phrase_postings(streams, 1, 3)
    old = (StrTable.BATCH, mod.PHRASE_SPELL_BATCH)
    StrTable.BATCH, mod.PHRASE_SPELL_BATCH = batch, spell_batch
    try:
        packed = phrase_postings(streams, 1, 3, compact=True)
        vocab = packed["vocab"]
        want = plain["vocab"]
        if want:
            assert isinstance(vocab, StrTable)
        assert vocab == want and list(vocab) == want and len(vocab) == len(want)
        assert [vocab[i] for i in range(len(vocab))] == want
        assert vocab[1:] == want[1:] and vocab[::2] == want[::2] and vocab[2:2] == []
        if want:
            assert vocab[-1] == want[-1]
        assert canon_piece(packed, True) == canon(plain, True)
    finally:
        StrTable.BATCH, mod.PHRASE_SPELL_BATCH = old


@given(
    st.lists(st.lists(st.sampled_from(["ab", "abc", "bcd", "", "x" * 7, "\u00e9t\u00e9"]))),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=8),
)
def test_chargram_postings_equal_the_string_path(
    docs: list[list[str]], min_n: int, max_n: int, max_len: int
) -> None:
    expected = doc_postings([chargrams(d, min_n, max_n, max_len) for d in docs])
    assert chargram_postings(docs, min_n, max_n, max_len) == expected


def test_chargram_postings_blocked_expansion_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few gram occurrences (many blocks, docs split nowhere) give the same
    postings as the string path: a gram repeated across tokens of one doc stays one."""
    import pairofcleats.postings as postings_mod

    words = ["alpha", "alphabet", "bet", "x" * 9, "beta", "\u00e9t\u00e9", "alp"]
    docs = [[words[(i * 7 + j * 3) % len(words)] for j in range(i % 6)] for i in range(40)]
    expected = doc_postings([chargrams(d, 2, 4, 8) for d in docs])
    for block in (1, 5, 64):
        monkeypatch.setattr(postings_mod, "CHARGRAM_BLOCK", block)
        assert chargram_postings(docs, 2, 4, 8) == expected


@given(st.lists(st.lists(st.sampled_from(["a", "bb", "c", "\u00e9", "\U0001f600"]), max_size=9)))
def test_token_postings_and_minhash_equal_the_separate_builders(docs: list[list[str]]) -> None:
    tp, sigs = token_postings_and_minhash(docs)
    assert tp == token_postings(docs)
    assert sigs == minhash_signatures(docs)
    assert sigs == [minhash_signatures([d])[0] for d in docs]


_words = st.lists(st.sampled_from(["a", "bb", "c", "\u00e9", "Z"]), max_size=5)


@given(
    st.lists(st.tuples(_words, _words, _words), max_size=8),
    st.sampled_from(["tiled", "stems", "mixed-keys", "not-tiled"]),
)
def test_field_postings_equal_per_field_token_postings(
    rows: list[tuple[list[str], list[str], list[str]]], shape: str
) -> None:
    """Fields cut from the unfielded ids (tiled streams) equal building each field alone."""
    field_tokens: list[dict[str, list[str]]] = []
    docs: list[list[str]] = []
    for i, (name, body, extra) in enumerate(rows):
        ft = {"name": name, "body": body}
        if shape == "mixed-keys" and i % 2:
            ft = {"body": body, "name": name}
        field_tokens.append(ft)
        unf = [t for v in ft.values() for t in v]
        if shape == "stems":
            unf += extra
        elif shape == "not-tiled":
            unf = extra + unf
        docs.append(unf)
    tp, sigs, fields = token_field_postings_and_minhash(docs, field_tokens)
    assert (tp, sigs) == token_postings_and_minhash(docs)
    names = sorted({k for ft in field_tokens for k in ft})
    assert fields == {f: token_postings([ft.get(f, []) for ft in field_tokens]) for f in names}
    assert fields is not None
    assert list(fields) == names


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(plain_float)
    | st.text(),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
def test_fast_canon_equals_jsonio_canon(value: object) -> None:
    try:
        expected = jsonio.dumps(value)
    except jsonio.JsonError:
        return
    assert canon(value, plain_floats=True) == expected


@given(
    st.lists(st.lists(st.sampled_from(["a", "bb", "c", "\u00e9", "\U0001f600"]), max_size=9)),
    st.integers(min_value=1, max_value=5),
)
def test_compact_forms_equal_the_lists_and_write_the_same_bytes(
    docs: list[list[str]], batch: int
) -> None:
    """The build's numpy-backed postings and signatures read, iterate and serialise
    exactly as the list forms, whatever the batch boundaries."""
    import numpy as np
    from pairofcleats.artifacts.writer import canon_piece
    from pairofcleats.postings import PostingLists

    tp, sigs = token_postings_and_minhash(docs)
    ctp, csigs = token_postings_and_minhash(docs, compact=True)
    PostingLists.BATCH = batch
    try:
        for piece, compact in ((tp, ctp), ({"signatures": sigs}, {"signatures": csigs})):
            assert canon_piece(compact, plain_floats=plain_float(tp["avgDocLen"])) == canon(
                piece, plain_floats=plain_float(tp["avgDocLen"])
            )
        postings = ctp["postings"]
        assert isinstance(postings, PostingLists)
        assert list(postings) == tp["postings"] and postings == tp["postings"]
        assert [postings[i] for i in range(len(postings))] == tp["postings"]
        assert postings[1:] == tp["postings"][1:]
        if len(postings):
            assert postings[-1] == tp["postings"][-1]
        assert list(csigs) == sigs and len(csigs) == len(sigs)
        assert np.asarray(csigs, dtype="<u4").tolist() == sigs
        grams = chargram_postings(docs, 1, 3, 8, compact=True)
        assert grams["postings"] == chargram_postings(docs, 1, 3, 8)["postings"]
        assert canon_piece(grams, True) == canon(chargram_postings(docs, 1, 3, 8), True)
    finally:
        PostingLists.BATCH = 4096
