"""Deep merge with origins: tables merge, lists and scalars replace."""

from __future__ import annotations

import copy
from typing import Any

from groundwork.config.merge import LayerData, Origin, merge_layers, origins_for
from hypothesis import given, settings
from hypothesis import strategies as st


def layer(data: dict[str, Any], source: str, lines: dict[Any, int] | None = None) -> LayerData:
    return LayerData(data, origins_for(data, source, lines=lines))


def test_tables_merge_lists_and_scalars_replace() -> None:
    low = layer({"a": {"x": 1, "y": [1, 2]}, "b": 1, "c": {"deep": 1}}, "low")
    high = layer({"a": {"y": [3], "z": 2}, "b": {"now": "table"}, "c": 5}, "high")
    data, origins = merge_layers([low, high])
    assert data == {"a": {"x": 1, "y": [3], "z": 2}, "b": {"now": "table"}, "c": 5}
    assert origins[("a", "x")].source == "low"
    assert origins[("a", "y")].source == "high"
    assert ("a", "y", 1) not in origins  # the replaced list's items are gone
    assert origins[("a", "y", 0)].source == "high"
    assert ("c", "deep") not in origins
    assert origins[("b", "now")].source == "high"
    assert origins[("a",)].source == "low"  # a merged table keeps its first origin


def test_merge_copies_instead_of_aliasing() -> None:
    shared = {"t": {"k": [1]}}
    data, _ = merge_layers([layer(shared, "one")])
    data["t"]["k"].append(2)
    assert shared == {"t": {"k": [1]}}


def test_origins_carry_lines_from_nearest_known_key() -> None:
    got = origins_for({"a": {"b": [1, {"c": 2}]}}, "f.json", lines={("a",): 3, ("a", "b"): 4})
    assert got[("a", "b", 1, "c")] == Origin("f.json", 4)
    assert got[("a",)] == Origin("f.json", 3)
    assert origins_for({"k": "v"}, "ENV", coerce=True)[("k",)].coerce


def reference_merge(low: Any, high: Any) -> Any:
    if isinstance(low, dict) and isinstance(high, dict):
        out = dict(low)
        for k, v in high.items():
            out[k] = reference_merge(low[k], v) if k in low else copy.deepcopy(v)
        return out
    return copy.deepcopy(high)


def all_paths(value: Any, prefix: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    out: set[tuple[Any, ...]] = set()
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        out.add((*prefix, k))
        if isinstance(v, dict | list):
            out |= all_paths(v, (*prefix, k))
    return out


trees = st.recursive(
    st.integers() | st.text(max_size=3),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from("abc"), kids),
    max_leaves=10,
)
tables = st.dictionaries(st.sampled_from("abcd"), trees, max_size=4)


@given(st.lists(tables, max_size=4))
@settings(max_examples=100)
def test_merge_equals_reference_and_every_path_has_an_origin(tabs: list[dict[str, Any]]) -> None:
    expected: dict[str, Any] = {}
    for t in tabs:
        expected = reference_merge(expected, t)
    data, origins = merge_layers([layer(t, f"L{i}") for i, t in enumerate(tabs)])
    assert data == expected
    assert set(origins) == all_paths(data)
    for path, origin in origins.items():
        # the origin is the highest layer that holds this path
        holders = [i for i, t in enumerate(tabs) if path in all_paths(t)]
        assert origin.source in {f"L{i}" for i in holders}
        if not isinstance(_get(data, path), dict):
            assert origin.source == f"L{holders[-1]}"


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def test_a_table_without_an_origin_takes_the_next_layers() -> None:
    bare = LayerData({"t": {"a": 1}}, {})
    data, origins = merge_layers([bare, layer({"t": {"b": 2}}, "high")])
    assert data == {"t": {"a": 1, "b": 2}}
    assert origins[("t",)].source == "high"
