"""JSONC stripping: comments and trailing commas go, positions stay."""

from __future__ import annotations

import json
from typing import Any

import pytest
from groundwork import jsonio
from groundwork.config.jsonc import loads_jsonc, strip_jsonc
from groundwork.errors import JsonError
from hypothesis import given, settings
from hypothesis import strategies as st

text = st.text(st.characters(codec="utf-8"), max_size=10)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
    max_leaves=15,
)


def test_comments_and_trailing_commas_are_removed() -> None:
    src = '{\n  // line comment\n  "a": 1, /* block\n  comment */ "b": [1, 2,],\n}\n'
    out = strip_jsonc(src)
    assert json.loads(out) == {"a": 1, "b": [1, 2]}
    assert len(out) == len(src)
    assert [i for i, c in enumerate(out) if c == "\n"] == [
        i for i, c in enumerate(src) if c == "\n"
    ]


def test_comment_markers_inside_strings_are_kept() -> None:
    src = r'{"url": "http://x//y", "glob": "/*.py", "q": "say \"hi\" // no", "bs": "\\"}'
    assert json.loads(strip_jsonc(src)) == json.loads(src)
    src2 = '{"a": "\\\\", // gone\n "b": "/*", "c": 1,}'
    assert json.loads(strip_jsonc(src2)) == {"a": "\\", "b": "/*", "c": 1}


def test_trailing_comma_before_comment_and_close() -> None:
    src = "[1, 2, // two\n /* end */ ]"
    assert json.loads(strip_jsonc(src)) == [1, 2]
    assert json.loads(strip_jsonc('{"a": {"b": [],},}')) == {"a": {"b": []}}
    assert strip_jsonc('[",]"]') == '[",]"]'


@pytest.mark.parametrize("bad", ["[,]", "[1,,]", "{,}", '{"a":1,,}'])
def test_stray_commas_stay_errors(bad: str) -> None:
    with pytest.raises(JsonError):
        loads_jsonc(bad)


def test_unterminated_block_comment_has_line_and_col() -> None:
    with pytest.raises(JsonError) as info:
        loads_jsonc('{\n  "a": 1 /* open\n}', path="c.jsonc")
    assert (info.value.path, info.value.line, info.value.col) == ("c.jsonc", 2, 10)


def test_parse_errors_point_into_the_original_text() -> None:
    with pytest.raises(JsonError) as info:
        loads_jsonc('{\n /* a\n b */ "a": 1,\n "b": nope\n}', path="c.jsonc")
    assert info.value.line == 4
    assert str(info.value).startswith("c.jsonc:4:")


def test_bom_unterminated_string_and_line_comment_at_eof() -> None:
    assert loads_jsonc('\ufeff{"a": 1} // end') == {"a": 1}
    with pytest.raises(JsonError):
        loads_jsonc('{"a": "open\n}')


@given(json_values)
def test_plain_json_passes_unchanged(value: Any) -> None:
    src = jsonio.dumps_pretty(value).decode()
    assert strip_jsonc(src) == src


@given(json_values)
def test_commented_json_with_trailing_commas_parses_to_the_value(value: Any) -> None:
    lines = jsonio.dumps_pretty(value).decode().rstrip("\n").split("\n")
    decorated = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1].lstrip() if i + 1 < len(lines) else ""
        if nxt[:1] in ("}", "]") and line.rstrip()[-1:] not in ("{", "[", ","):
            line += ","  # a trailing comma before a closing bracket
        decorated.append(f'{line} // c{i} "quote /* \n/* {i} */')
    assert loads_jsonc("\n".join(decorated)) == value


@given(st.text(alphabet='{}[],:"/\\*\n ab1', max_size=60))
@settings(max_examples=400)
def test_stripping_preserves_length_and_line_breaks(src: str) -> None:
    try:
        out = strip_jsonc(src)
    except JsonError as exc:
        assert "unterminated" in str(exc)
        return
    assert len(out) == len(src)
    assert [i for i, c in enumerate(out) if c == "\n"] == [
        i for i, c in enumerate(src) if c == "\n"
    ]
