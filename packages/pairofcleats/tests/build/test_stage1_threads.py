"""Stage 1's derived pieces built on two threads equal the one-thread build, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pairofcleats.artifacts.writer import PieceWriter
from pairofcleats.build.assemble import ModeData, stage1_values, write_stage1
from pairofcleats.config import PostingsConfig

WORDS = ["alpha", "beta", "gamma_x", "d\u00e9lta", "\U0001f600e", "x" * 60, "alpha"]


def _data() -> ModeData:
    data = ModeData("code")
    for i in range(50):
        ft = {
            "name": [WORDS[i % 7]],
            "signature": [WORDS[(i + j) % 7] for j in range(i % 4)],
            "doc": [],
            "comment": [WORDS[(i * 3 + j) % 7] for j in range(i % 9)],
            "body": [WORDS[(i * 5 + j) % 7] for j in range(i % 11)],
        }
        data.chunks.append({"id": i, "fileId": 0, "weight": 1.0, "text": str(i)})
        data.field_tokens.append(ft)
        data.tokens.append([t for v in ft.values() for t in v])
    return data


def _pieces(tmp: Path, side: bool, pc: PostingsConfig) -> tuple[list[dict[str, Any]], ModeData]:
    data = _data()
    w = PieceWriter(tmp / ("side" if side else "one"))
    write_stage1(w, data, pc, True, side_thread=side)
    return w.entries, data


@pytest.mark.parametrize(
    "pc",
    [
        PostingsConfig(),
        PostingsConfig(enablePhraseNgrams=False),
        PostingsConfig(enableChargrams=False),
        PostingsConfig(enablePhraseNgrams=False, enableChargrams=False),
    ],
)
def test_side_thread_writes_the_same_pieces_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pc: PostingsConfig
) -> None:
    import pairofcleats.postings as postings_mod

    monkeypatch.setattr(postings_mod, "GIL_BLOCK", 7)  # many blocks of the C-level passes
    one, d1 = _pieces(tmp_path, False, pc)
    side, d2 = _pieces(tmp_path, True, pc)
    assert [e["name"] for e in side] == [e["name"] for e in one]
    assert [e["name"] for e in one][:2] == ["chunk_meta", "field_tokens"]
    assert side == one
    assert list(d2.stage1) == list(d1.stage1)
    assert d2.vocab_size == d1.vocab_size


@pytest.mark.parametrize("target", ["Streams", "token_field_postings_and_minhash"])
def test_side_thread_error_reaches_the_caller(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """An error on either thread reaches the caller (a failing token-postings pass must
    not leave the side thread's chargrams waiting forever)."""
    import pairofcleats.build.assemble as assemble_mod

    class Boom(RuntimeError):
        pass

    def boom(*_a: Any, **_k: Any) -> Any:
        raise Boom

    monkeypatch.setattr(assemble_mod, target, boom)
    with pytest.raises(Boom):
        stage1_values(_data(), PostingsConfig(), True, side_thread=True)


def test_side_thread_chargrams_wait_for_the_token_postings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chargram builder's temporaries must not stack on the token postings' (§13 RSS):
    the side thread starts them only once the main thread's postings are done."""
    import threading
    import time

    import pairofcleats.build.assemble as assemble_mod

    events: list[tuple[str, str]] = []
    real_postings = assemble_mod.token_field_postings_and_minhash
    real_grams = assemble_mod._chargrams

    def slow_postings(*a: Any, **k: Any) -> Any:
        time.sleep(0.2)  # the side thread's phrases are long done by now
        out = real_postings(*a, **k)
        events.append(("postings done", threading.current_thread().name))
        return out

    def grams(*a: Any, **k: Any) -> Any:
        events.append(("chargrams start", threading.current_thread().name))
        return real_grams(*a, **k)

    monkeypatch.setattr(assemble_mod, "token_field_postings_and_minhash", slow_postings)
    monkeypatch.setattr(assemble_mod, "_chargrams", grams)
    data = _data()
    stage1_values(data, PostingsConfig(), True, side_thread=True)
    assert [e for e, _ in events] == ["postings done", "chargrams start"]
    assert events[1][1].startswith("stage1-code")  # built on the side thread
    assert data.stage1["chargram_postings"]["vocab"]
