"""Key-line scanners for JSON and TOML source text."""

from __future__ import annotations

import json
from typing import Any

from groundwork import jsonio
from groundwork.config.locate import KeyPath, json_key_lines, lookup_line, toml_key_lines
from hypothesis import given
from hypothesis import strategies as st


def test_json_lines_for_keys_items_and_root() -> None:
    src = (
        '{\n  "a": {\n    "b": 1,\n    "c\\"q": [\n      10,\n'
        '      {"d": 2}\n    ]\n  },\n  "e": null\n}'
    )
    lines = json_key_lines(src)
    assert lines[()] == 1
    assert lines[("a",)] == 2
    assert lines[("a", "b")] == 3
    assert lines[("a", 'c"q')] == 4
    assert lines[("a", 'c"q', 0)] == 5
    assert lines[("a", 'c"q', 1)] == 6
    assert lines[("a", 'c"q', 1, "d")] == 6
    assert lines[("e",)] == 9


def test_json_lines_for_a_scalar_root() -> None:
    assert json_key_lines("\n\n  42 ") == {(): 3}


def _paths(value: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    out: list[KeyPath] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


keys = st.text(st.characters(codec="utf-8"), max_size=6)
values = st.recursive(
    st.none() | st.integers() | keys,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(keys, kids, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(keys, values, max_size=4))
def test_every_json_key_is_found_on_its_own_line(value: dict[str, Any]) -> None:
    src = jsonio.dumps_pretty(value).decode()
    src_lines = src.split("\n")
    lines = json_key_lines(src)
    for path in _paths(value):
        assert path in lines
        if isinstance(path[-1], str):
            token = json.dumps(path[-1], ensure_ascii=False) + ":"
            assert src_lines[lines[path] - 1].lstrip().startswith(token)


TOML = '''\
# comment = 1
title = "x"
dotted.key = 1
"quoted key" = 2
'lit.key' = 3

[server]
bind = "127.0.0.1"  # trailing [comment]
notes = """
fake = 1
[not_a_table]
"""
ports = [
  1,
  2,
]
inline = { a = 1, b = { c = 2 } }

[server."sub.table"]
x = 1

[[repos]]
root = "a"

[[repos]]
root = "b"
[repos.meta]
tag = 'q'
lit = \'\'\'
also = "not a key"
\'\'\'
after = true
'''


def test_toml_lines() -> None:
    lines = toml_key_lines(TOML)
    assert lines[("title",)] == 2
    assert lines[("dotted", "key")] == 3
    assert lines[("dotted",)] == 3
    assert lines[("quoted key",)] == 4
    assert lines[("lit.key",)] == 5
    assert lines[("server",)] == 7
    assert lines[("server", "bind")] == 8
    assert lines[("server", "notes")] == 9
    assert ("fake",) not in lines and ("not_a_table",) not in lines
    assert ("server", "fake") not in lines
    assert lines[("server", "ports")] == 13
    assert lines[("server", "inline")] == 17
    assert lines[("server", "sub.table", "x")] == 20
    assert lines[("repos", 0)] == 22
    assert lines[("repos", 0, "root")] == 23
    assert lines[("repos", 1, "root")] == 26
    assert lines[("repos", 1, "meta", "tag")] == 28
    assert ("repos", 1, "meta", "also") not in lines
    assert lines[("repos", 1, "meta", "after")] == 32


def test_toml_odd_lines_are_skipped() -> None:
    lines = toml_key_lines('no equals here\n= 1\nk = "a \\" b" # c\n"bad \\q" = 1\n$ = 2\n')
    assert lines == {("k",): 3, ("bad \\q",): 4}


def test_lookup_line_falls_back_to_the_nearest_ancestor() -> None:
    lines: dict[KeyPath, int] = {("a",): 2, ("a", "b"): 3}
    assert lookup_line(lines, ("a", "b", 0, "c")) == 3
    assert lookup_line(lines, ("a", "z")) == 2
    assert lookup_line(lines, ("q",)) is None
