"""The structural JSON index behind the memory backend's lazy reads (artifacts/scan.py).

Documents are written by orjson (as pieces are) with strings full of quotes, backslashes and
brackets, and indexed with tiny blocks so every carry across a block edge (inside a string,
mid backslash run, mid depth) is exercised; every element span must decode to the element.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import orjson
import pytest
from pairofcleats.artifacts import scan

_ALPHABET = ['"', "\\", "[", "]", "{", "}", ",", ":", "a", "é", "\n", " ", "\u0002", "x"]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12)))


def _record(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randint(0, 5 if depth < 3 else 2)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.randint(-5, 10**6)
    if kind == 2:
        return rng.choice([None, True, 1.5])
    if kind == 3:
        return [_record(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_text(rng): _record(rng, depth + 1) for _ in range(rng.randint(0, 4))}


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 22])
def test_array_element_spans_decode_to_the_elements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(scan, "BLOCK", block)
    rng = random.Random(block)
    rows = [
        {"id": i, "s": _text(rng), "v": _record(rng), "\\": "\\" * rng.randint(0, 5)}
        for i in range(60)
    ]
    path = tmp_path / "rows.json"
    data = orjson.dumps(rows)
    path.write_bytes(data)
    sk = scan.skeleton(path, 2)
    starts, closes = sk.opens(2), sk.closes(2)
    assert starts.size == closes.size == len(rows)
    assert [orjson.loads(data[a : b + 1]) for a, b in zip(starts, closes, strict=True)] == rows


@pytest.mark.parametrize("block", [1, 5, 1 << 22])
def test_string_starts_and_nested_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(scan, "BLOCK", block)
    vocab = sorted({'a"b', "c\\", "\\\\", "[x]", "{", "\u0002ab", "zz", "é"})
    postings = [[[i, i + 1], [i + 7, 2]] for i in range(len(vocab))]
    path = tmp_path / "t.json"
    data = orjson.dumps({"postings": postings, "vocab": vocab}, option=orjson.OPT_SORT_KEYS)
    path.write_bytes(data)
    sk = scan.skeleton(path, 3, (1, 2))
    keys = [orjson.loads(data[p : data.index(b'":', p) + 1]) for p in sk.strings(1).tolist()]
    assert keys == ["postings", "vocab"]
    at = [*sk.strings(2).tolist(), int(sk.closes(2)[-1])]
    assert [orjson.loads(data[a:b].rstrip(b",")) for a, b in itertools.pairwise(at)] == vocab
    lists = zip(sk.opens(3).tolist(), sk.closes(3).tolist(), strict=True)
    decoded = [scan.parse_ints(data[a + 1 : b]).reshape(-1, 2).tolist() for a, b in lists]
    assert decoded == postings


def test_unbalanced_json_and_non_integers_are_shape_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'[{"a":"]"}')
    with pytest.raises(scan.ShapeError):
        scan.skeleton(path, 2)
    with pytest.raises(scan.ShapeError):
        scan.parse_ints(b"[1,2.5],[3,4]")
    assert scan.parse_ints(b"").size == 0
    assert np.array_equal(scan.parse_ints(b"[1,2],[30,4]"), [1, 2, 30, 4])


def test_line_starts_skip_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":"\\n"}\n')
    bounds = scan.line_starts(path).tolist()
    data = path.read_bytes()
    rows = [orjson.loads(data[a:b]) for a, b in itertools.pairwise(bounds)]
    assert rows == [{"a": 1}, {"b": "\n"}]
