"""§9.3 filters select exactly the expected chunks (acceptance 17, P3, P4, R3)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pairofcleats.errors import InvalidRequest
from pairofcleats.search.filters import (
    Filters,
    build_columns,
    filter_mask,
    parse_filter_string,
)
from pairofcleats.search.searcher import Searcher
from pairofcleats.search.source import MemorySource

from .conftest import BuiltIndex


@pytest.fixture(scope="module")
def code(search_index: BuiltIndex) -> tuple[list[dict], object]:
    idx = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert idx is not None
    return idx.chunks, MemorySource(idx).filter_columns()


def _select(code: tuple[list[dict], object], **kw: object) -> list[str]:
    chunks, cols = code
    mask = filter_mask(cols, Filters(**kw))  # type: ignore[arg-type]
    assert mask is not None and mask.dtype == np.bool_
    return [f"{chunks[i]['file']}:{chunks[i]['name']}" for i in np.flatnonzero(mask)]


def test_no_filter_is_no_mask(code: tuple[list[dict], object]) -> None:
    assert filter_mask(code[1], Filters()) is None  # type: ignore[arg-type]


def test_lang_ext_kind(code: tuple[list[dict], object]) -> None:
    assert _select(code, lang=("rust",)) == [
        "src/lib.rs:lib",
        "src/lib.rs:Person",
        "src/lib.rs:Person",
        "src/lib.rs:Person.new",
        "src/lib.rs:rust_greet",
    ]
    assert (
        _select(code, ext=("py",)) == _select(code, ext=(".PY",)) == _select(code, lang=("python",))
    )
    kinds = _select(code, kind=("class",), lang=("python", "javascript"))
    assert kinds == ["src/greet.py:Greeter", "src/util.js:Counter"]


def test_lang_also_takes_an_extension(code: tuple[list[dict], object]) -> None:
    # agents write --lang py / ts; an empty result with no warning read as "nothing there"
    python = _select(code, lang=("python",))
    assert python and _select(code, lang=("py",)) == _select(code, lang=(".PY",)) == python
    assert _select(code, lang=("ts",)) == _select(code, lang=("typescript",))
    assert _select(code, lang=("rs", "python")) == _select(code, lang=("rust", "py"))
    assert _select(code, lang=("nosuchlang",)) == []


def test_repeated_values_or_and_different_flags_and(code: tuple[list[dict], object]) -> None:
    both = _select(code, lang=("c", "cpp"), name=("multiply",))
    assert both == ["src/math.c:c_multiply", "src/math.cpp:cppMultiply"]


def test_path_prefix_and_glob(code: tuple[list[dict], object]) -> None:
    assert {s.split(":")[0] for s in _select(code, path=("scripts/",))} == {"scripts/deploy.sh"}
    globbed = {s.split(":")[0] for s in _select(code, path=("src/*.ts*",))}
    assert globbed == {"src/shapes.ts", "src/widget.tsx"}


def test_file_substring_across_separator_and_regex(code: tuple[list[dict], object]) -> None:
    assert {s.split(":")[0] for s in _select(code, file=("c/gre",))} == {"src/greet.py"}
    assert {s.split(":")[0] for s in _select(code, file=("GREET.PY",))} == {"src/greet.py"}
    assert _select(code, file=("GREET.PY",), case=True) == []
    rx = {s.split(":")[0] for s in _select(code, file=(r"/math\.(c|cpp)$/",))}
    assert rx == {"src/math.c", "src/math.cpp"}


def test_signature_param_returns(code: tuple[list[dict], object]) -> None:
    assert _select(code, signature=("int a, int b",)) == [
        "src/math.c:c_multiply",
        "src/math.cpp:cppMultiply",
        "src/math.cpp:Calculator.add",
    ]
    assert _select(code, param=("prefix",)) == ["src/greet.py:format_message"]
    assert _select(code, param=("pre",)) == []  # exact name


def test_calls_and_uses_base_name(code: tuple[list[dict], object]) -> None:
    assert _select(code, calls=("reduce",)) == ["src/shapes.ts:totalArea", "src/util.js:sum"]
    assert _select(code, calls=("Math.min",)) == ["src/util.js:clamp"]
    assert _select(code, calls=("format_message",)) == ["src/greet.py:greet"]


def test_imports_and_modified_since(code: tuple[list[dict], object]) -> None:
    files = {s.split(":")[0] for s in _select(code, imports=("fs",))}
    assert files == {"src/util.js"}
    assert len(_select(code, modified_since="3650")) == len(code[0])
    assert _select(code, modified_since="2999-01-01") == []
    with pytest.raises(InvalidRequest):
        _select(code, modified_since="yesterday")


def test_chunk_without_language_is_unknown() -> None:
    chunks = [
        {"file": "a/x.weird", "ext": ".weird", "lang": None, "kind": "Window", "name": "x"},
        {"file": "a/y.py", "ext": ".py", "lang": "python", "kind": "Module", "name": "y"},
    ]
    cols = build_columns(chunks, [], [], None)
    mask = filter_mask(cols, Filters(lang=("unknown",)))
    assert mask is not None
    assert mask.tolist() == [True, False]


def test_author_filter_uses_file_meta() -> None:
    chunks = [{"file": "a.py", "ext": ".py"}, {"file": "b.py", "ext": ".py"}]
    meta = [
        {"file": "a.py", "lastAuthor": "Ada Lovelace", "lastModified": time.time()},
        {"file": "b.py", "lastAuthor": None, "lastModified": None, "mtimeMs": 1000},
    ]
    cols = build_columns(chunks, meta, [], None)
    mask = filter_mask(cols, Filters(author=("lovelace",)))
    assert mask is not None and mask.tolist() == [True, False]
    recent = filter_mask(cols, Filters(modified_since="1"))
    assert recent is not None and recent.tolist() == [True, False]


def test_filter_string() -> None:
    assert parse_filter_string("lang:python type:function path:src/") == {
        "lang": ["python"],
        "kind": ["function"],
        "path": ["src/"],
    }
    with pytest.raises(InvalidRequest):
        parse_filter_string("colour:red")
    with pytest.raises(InvalidRequest):
        parse_filter_string("lang")


def test_calls_uses_same_with_and_without_filter_index(search_index: BuiltIndex) -> None:
    idx = Searcher(search_index.repo, env=search_index.env).mode_index("code")
    assert idx is not None
    with_index = build_columns(idx.chunks, idx.file_meta, idx.file_relations, idx.filter_index)
    without = build_columns(idx.chunks, idx.file_meta, idx.file_relations, None)
    assert with_index.by_call and not without.by_call
    for flt in (
        Filters(calls=("reduce",)),
        Filters(calls=("MATH.MIN",)),
        Filters(calls=("Math.min",), case=True),
        Filters(uses=("values",)),
        Filters(uses=("name",)),
    ):
        a = filter_mask(with_index, flt)
        b = filter_mask(without, flt)
        assert a is not None and b is not None
        assert a.tolist() == b.tolist(), flt
        assert a.any(), flt
