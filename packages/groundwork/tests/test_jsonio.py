"""jsonio: canon bytes against json.dumps, strict loads, JSONL reader and writer."""

from __future__ import annotations

import enum
import io
import json
import math
import os
import re
import stat
import threading
import tracemalloc
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from groundwork import jsonio
from groundwork.errors import JsonError, LineTooLong
from groundwork.jsonio import BadLine, JsonlWriter, iter_jsonl
from hypothesis import example, given, settings
from hypothesis import strategies as st


def reference(value: Any) -> bytes:
    """The canon rule, literally."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


text = st.text(st.characters(codec="utf-8"), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(text, kids, max_size=5),
    max_leaves=25,
)


# ----------------------------------------------------------------------- canon


@given(json_values)
@settings(max_examples=400)
@example(1e16)
@example(1e-5)
@example(2**64)
@example(-(2**63) - 1)
@example({"\u00e9": 1, "e": 2, "\U0001f600": 3, "\uffff": 4})
@example('\x00\x1f\x7f\u2028"\\')
def test_dumps_equals_reference(value: Any) -> None:
    assert jsonio.dumps(value) == reference(value)


digest_like = st.text('0123456789abcdef\\"', max_size=8)
finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(digest_like | finite, max_size=6))
@settings(max_examples=400)
@example(["xxh64:0e1f", 1e-05])
@example(['0e5\\"', 1e20])
def test_dumps_equals_reference_with_digests_beside_exponent_floats(value: list[Any]) -> None:
    assert jsonio.dumps(value) == reference(value)


def _floats_of(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [f for v in value for f in _floats_of(v)]
    return []


@given(json_values)
@settings(max_examples=300)
@example([None, 1e-5, {"a": None}])
@example({"w": 1e16, "n": None})
def test_dumps_known_floats_equals_reference_when_told_every_float(value: Any) -> None:
    assert jsonio.dumps_known_floats(value, _floats_of(value)) == reference(value)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dumps_known_floats_refuses_a_named_nan_or_infinity(bad: float) -> None:
    with pytest.raises(JsonError):
        jsonio.dumps_known_floats({"w": bad, "x": None}, [bad])


def test_dumps_known_floats_takes_the_canon_path_for_what_orjson_refuses() -> None:
    value = {"big": 2**70, "w": 0.5, "n": None}
    assert jsonio.dumps_known_floats(value, [0.5]) == reference(value)


def test_walk_judges_homogeneous_lists_by_element_types() -> None:
    class Tag(str):
        pass

    assert jsonio._orjson_safe({"tokens": ["a", "b", None, True], "ids": [0, 2**64 - 1]})
    assert not jsonio._orjson_safe([1, 2**64])
    assert not jsonio._orjson_safe({"x": [[-(2**63) - 1, 5]]})
    assert not jsonio._orjson_safe(["a", Tag("b")])
    assert not jsonio._orjson_safe([1, True, 1e-5])


def test_float_walk_judges_only_floats() -> None:
    digest = {"checksum": "xxh64:10e0e1", "segment": None}
    assert jsonio._floats_canon({"a": [digest, digest], "n": 0.5, "t": ("x", 1, -0.0)})
    assert not jsonio._floats_canon({"checksum": "xxh64:10e0e1", "n": 1e-5})
    assert not jsonio._floats_canon([[1, [2, float("nan")]]])
    assert not jsonio._floats_canon({"x": {"y": 1e16}})
    assert jsonio._floats_canon(["0.00001", None, 1e-4])
    # the digest case keeps orjson's bytes; a nulled NaN does not
    assert jsonio.dumps(digest) == b'{"checksum":"xxh64:10e0e1","segment":null}'
    with pytest.raises(JsonError):
        jsonio.dumps({"x": [None, float("inf")]})


@given(json_values)
@settings(max_examples=300)
def test_orjson_bytes_match_canon_where_the_walk_allows_it(value: Any) -> None:
    if jsonio._orjson_safe(value):
        assert orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == reference(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=1000)
def test_orjson_float_spelling_matches_repr_in_the_plain_range(f: float) -> None:
    if f == 0.0 or 1e-4 <= abs(f) < 1e16:
        assert orjson.dumps(f) == repr(f).encode()


def test_orjson_differs_outside_the_plain_range_so_json_writes_those() -> None:
    assert orjson.dumps(1e-5) != reference(1e-5)
    assert not jsonio._orjson_safe([1e-5])
    assert jsonio.dumps([1e-5, 1e16, 2**64]) == b"[1e-05,1e+16,18446744073709551616]"


def test_dumps_sorts_nested_keys_and_writes_utf8() -> None:
    value = {"b": [1, {"z": None, "a": True}], "a": "é", "c": 1.5}
    assert jsonio.dumps(value) == '{"a":"é","b":[1,{"a":true,"z":null}],"c":1.5}'.encode()


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


class Items(list[Any]):
    pass


def test_builtin_subclasses_follow_json_not_orjson() -> None:
    value = {Name("k"): [Color.RED, Name("v"), (1, 2)], "o": OrderedDict(b=1, a=2), "l": Items([3])}
    assert jsonio.dumps(value) == reference(value)


@pytest.mark.parametrize(
    "bad",
    [
        {1: "int key"},
        {"ok": [{"deep": {2.5: 1}}]},
        {None: 1},
        math.nan,
        [math.inf],
        {"x": -math.inf},
        "\ud800",
        {"\udfff": 1},
        [1e-5, "\ud800"],
        {1, 2},
        object(),
        b"bytes",
        datetime(2026, 1, 1),
    ],
)
def test_dumps_rejects_what_canon_cannot_write(bad: Any) -> None:
    with pytest.raises(JsonError):
        jsonio.dumps(bad)
    with pytest.raises(JsonError):
        jsonio.dumps_pretty(bad)


def test_dumps_rejects_non_str_key_even_beside_unsafe_values() -> None:
    with pytest.raises(JsonError, match="key 3 is a int"):
        jsonio.dumps([1e-9, {"a": 2**80, 3: "x"}])


def test_dumps_rejects_cycles_and_absurd_depth() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(JsonError):
        jsonio.dumps(cyclic)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(JsonError):
        jsonio.dumps(deep)


def test_depth_beyond_orjson_limit_still_writes_canon() -> None:
    deep: Any = 1
    for _ in range(300):
        deep = {"k": [deep]}
    assert jsonio.dumps(deep) == reference(deep)


@given(json_values)
def test_dumps_pretty_equals_json_indent_2(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    assert jsonio.dumps_pretty(value) == expected.encode() + b"\n"


def test_dumps_pretty_unsafe_values_use_json() -> None:
    assert jsonio.dumps_pretty({"b": 1e-7, "a": []}) == b'{\n  "a": [],\n  "b": 1e-07\n}\n'


# ----------------------------------------------------------------------- loads


@given(json_values)
def test_loads_round_trips_canon(value: Any) -> None:
    assert jsonio.loads(jsonio.dumps(value)) == value
    assert jsonio.loads(jsonio.dumps(value).decode()) == value


def _reference_loads(data: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    value = json.loads(data, parse_constant=refuse)
    jsonio.dumps(value)  # no lone surrogates, no overflowed floats
    return value


json_texts = st.one_of(
    json_values.map(lambda v: jsonio.dumps(v).decode()),
    st.text(alphabet='{}[],:"\\ .eE+-0123456789tfrunlaNI\x01\u00e9', max_size=40),
    st.from_regex(r"\A-?[0-9]{1,30}(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?\Z"),
)


@given(json_texts)
@settings(max_examples=500)
def test_loads_agrees_with_json_loads_or_raises_json_error(data: str) -> None:
    try:
        expected = _reference_loads(data)
    except (ValueError, RecursionError):
        with pytest.raises(JsonError):
            jsonio.loads(data)
        return
    assert jsonio.loads(data) == expected
    assert jsonio.loads(data.encode()) == expected


def test_loads_keeps_big_ints_exact() -> None:
    big = 123456789012345678901234567890
    assert jsonio.loads(f'{{"n":{big},"m":[-{big}, 1.5, "x"]}}') == {
        "n": big,
        "m": [-big, 1.5, "x"],
    }
    assert jsonio.loads(b"18446744073709551616") == 2**64
    assert type(jsonio.loads(b"1234567890123456789012.5")) is float


@pytest.mark.parametrize(
    "data",
    [
        b"NaN",
        b"[Infinity]",
        b'{"a":-Infinity}',
        b"1e400",
        b"[12345678901234567890123, 1e999]",
        b"[12345678901234567890123, NaN]",
        b'"\xff"',
        b'{"a":"\xc3"}',
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        b"{",
        b"[1,]",
        b"",
        b"{} {}",
    ],
)
def test_loads_rejects(data: bytes) -> None:
    with pytest.raises(JsonError):
        jsonio.loads(data)


def test_loads_error_carries_line_and_col_and_path() -> None:
    with pytest.raises(JsonError) as info:
        jsonio.loads(b'{\n  "a": 1,\n  "b": ?\n}', path="conf.json")
    err = info.value
    assert (err.path, err.line) == ("conf.json", 3)
    assert err.col is not None
    assert str(err).startswith("conf.json:3:")


# --------------------------------------------------------------- files, time


def test_write_json_is_canon_and_read_json_reads_it(tmp_path: Path) -> None:
    target = tmp_path / "v.json"
    value = {"z": [1, 2], "a": "ü", "big": 2**70}
    jsonio.write_json(target, value)
    assert target.read_bytes() == reference(value)
    assert jsonio.read_json(target) == value
    jsonio.write_json(target, value, pretty=True)
    assert target.read_bytes() == jsonio.dumps_pretty(value)
    assert list(tmp_path.iterdir()) == [target]


def test_write_json_mode_and_keep_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    jsonio.write_json(target, {"k": 1}, mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    jsonio.write_json(target, {"k": 2})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert jsonio.read_json(str(target)) == {"k": 2}


def test_write_json_refuses_bad_value_and_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "v.json"
    jsonio.write_json(target, [1])
    with pytest.raises(JsonError):
        jsonio.write_json(target, [math.nan])
    assert target.read_bytes() == b"[1]"


def test_read_json_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "bad.json"
    target.write_bytes(b'{"a":\n NaN}')
    with pytest.raises(JsonError) as info:
        jsonio.read_json(target)
    assert info.value.path == str(target)
    assert info.value.line == 2


def test_utc_now_iso_format() -> None:
    stamp = jsonio.utc_now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - parsed) < timedelta(days=1)


def test_utc_now_iso_truncates_and_converts_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    when = datetime(2026, 3, 4, 7, 8, 9, 999_999, tzinfo=plus2)
    assert jsonio.utc_now_iso(when) == "2026-03-04T05:08:09.999Z"
    assert jsonio.utc_now_iso(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


# ------------------------------------------------------------------ iter_jsonl


def read_all(data: bytes, cap: int = 1024, chunk: int = 65_536) -> list[Any]:
    return list(iter_jsonl(io.BytesIO(data), cap, chunk_size=chunk))


def test_iter_jsonl_values_blank_lines_and_bad_lines() -> None:
    data = b'{"a":1}\n\n  \r\n[2]\r\nnot json\n"\xff"\n{"half":'
    assert read_all(data) == [
        {"a": 1},
        [2],
        BadLine(5, 18, 8, "invalid_json"),
        BadLine(6, 27, 3, "invalid_utf8"),
        BadLine(7, 31, 8, "truncated"),
    ]


def test_iter_jsonl_last_line_without_newline_is_fine_if_whole() -> None:
    assert read_all(b"1\n2") == [1, 2]
    assert read_all(b"") == []
    assert read_all(b"\n\n") == []


def test_iter_jsonl_over_cap_lines_are_reported_not_raised() -> None:
    long = b'"' + b"x" * 50 + b'"'
    data = b"1\n" + long + b"\n2\n" + long
    got = read_all(data, cap=10, chunk=7)
    assert got == [
        1,
        BadLine(2, 2, 52, "too_long"),
        2,
        BadLine(4, 57, 52, "too_long"),
    ]
    assert read_all(b"12345\n", cap=5) == [12345]
    assert read_all(b"123456\n", cap=5) == [BadLine(1, 0, 6, "too_long")]


def test_iter_jsonl_never_buffers_an_over_cap_line() -> None:
    size = 8 * 1024 * 1024
    data = b"[" + b"1," * (size // 2) + b"1]\n" + b'{"after":true}\n'
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        got = list(iter_jsonl(stream, 4096, chunk_size=16_384))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == [BadLine(1, 0, len(data) - 16, "too_long"), {"after": True}]
    assert peak < 1_000_000  # the 8 MiB line was never held


def test_iter_jsonl_reads_a_path_and_rejects_bad_arguments(tmp_path: Path) -> None:
    target = tmp_path / "e.jsonl"
    target.write_bytes(b'{"x":1}\n{"x":2}\n')
    assert list(iter_jsonl(target)) == [{"x": 1}, {"x": 2}]
    assert list(iter_jsonl(str(target))) == [{"x": 1}, {"x": 2}]
    with pytest.raises(ValueError):
        list(iter_jsonl(target, 0))


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=40))
@settings(max_examples=400)
def test_iter_jsonl_never_raises_on_arbitrary_bytes(data: bytes, cap: int) -> None:
    for item in read_all(data, cap=cap, chunk=16):
        if isinstance(item, BadLine):
            assert item.length <= len(data)
            assert item.offset + item.length <= len(data)
            assert data[item.offset + item.length : item.offset + item.length + 1] in (b"", b"\n")


jsonl_bytes = st.lists(
    st.one_of(
        json_values.map(jsonio.dumps),
        st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
        st.just(b""),
    ),
    max_size=12,
).map(b"\n".join) | st.binary(max_size=200)


@given(jsonl_bytes, st.integers(min_value=1, max_value=64), st.integers(min_value=1, max_value=50))
@settings(max_examples=300)
def test_iter_jsonl_is_independent_of_chunk_boundaries(data: bytes, cap: int, chunk: int) -> None:
    assert read_all(data, cap=cap, chunk=chunk) == read_all(data, cap=cap, chunk=len(data) + 1)


@given(st.lists(json_values, max_size=10))
def test_writer_then_reader_round_trips(values: list[Any]) -> None:
    out = io.BytesIO()
    with JsonlWriter(out) as writer:
        for v in values:
            writer.write(v)
    out.seek(0)
    assert list(iter_jsonl(out)) == values


# ----------------------------------------------------------------- JsonlWriter


def test_writer_appends_whole_lines_only_on_flush(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    target.write_bytes(b'{"old":1}\n')
    writer = JsonlWriter(target)
    assert writer.write({"b": 2, "a": 1}) == len(b'{"a":1,"b":2}\n')
    assert target.read_bytes() == b'{"old":1}\n'
    writer.flush(fsync=True)
    assert target.read_bytes() == b'{"old":1}\n{"a":1,"b":2}\n'
    writer.write([3])
    writer.close()
    writer.close()
    assert target.read_bytes().endswith(b"[3]\n")
    assert writer.lines_written == 2
    with pytest.raises(ValueError):
        writer.write(1)


def test_writer_truncates_without_append(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    target.write_bytes(b"old\n")
    with JsonlWriter(target, append=False) as writer:
        writer.write("new")
    assert target.read_bytes() == b'"new"\n'


def test_writer_cap_raises_line_too_long_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    with JsonlWriter(target, max_line_bytes=10) as writer:
        writer.write("12345678")  # 10 bytes with quotes: at the cap
        with pytest.raises(LineTooLong) as info:
            writer.write("123456789")
        assert (info.value.length, info.value.limit) == (11, 10)
        with pytest.raises(JsonError):
            writer.write(math.nan)
    assert target.read_bytes() == b'"12345678"\n'


def test_writer_flushes_by_itself_past_flush_bytes(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    writer = JsonlWriter(target, flush_bytes=20)
    writer.write("a" * 5)
    assert target.read_bytes() == b""
    writer.write("b" * 15)
    assert target.read_bytes() == b'"aaaaa"\n"bbbbbbbbbbbbbbb"\n'
    writer.close()


def test_writer_on_a_stream_leaves_it_open() -> None:
    out = io.BytesIO()
    writer = JsonlWriter(out, flush_bytes=None)
    writer.write({"k": "v"})
    writer.flush()
    writer.close()
    assert out.getvalue() == b'{"k":"v"}\n'
    assert not out.closed


def test_writer_is_thread_safe(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    writer = JsonlWriter(target, flush_bytes=512)
    per_thread = 300

    def work(tid: int) -> None:
        for i in range(per_thread):
            writer.write({"t": tid, "i": i, "pad": "x" * (i % 17)})
            if i % 50 == 0:
                writer.flush()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    got = list(iter_jsonl(target))
    assert len(got) == 8 * per_thread
    assert not any(isinstance(g, BadLine) for g in got)
    for tid in range(8):
        assert [g["i"] for g in got if g["t"] == tid] == list(range(per_thread))


def test_writer_fsync_on_a_file_it_opened(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    fd = os.open(target, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    with JsonlWriter(target) as writer:
        writer.write(1)
        writer.flush(fsync=True)
        assert target.read_bytes() == b"1\n"
