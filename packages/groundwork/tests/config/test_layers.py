"""Layers read real files and env mappings into data, origins and read issues."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from groundwork.config import DictLayer, EnvLayer, EnvMapLayer, FileLayer, Origin, StrictModel
from pydantic import ConfigDict, Field


class Cache(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    root: str | None = None
    keep_builds: int = Field(3, alias="keepBuilds")


class Queue(StrictModel):
    workers: int = 8


class Cfg(StrictModel):
    cache: Cache = Cache()
    queue: Queue = Queue()
    threads: int = 1
    table: dict[str, int] = Field(default_factory=dict)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["c.json", "c.jsonc", "C.JSONC"])
def test_jsonc_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, '{\n  // hi\n  "queue": {\n    "workers": 2,\n  },\n}\n')
    got = FileLayer(path).read(Cfg)
    assert got.data == {"queue": {"workers": 2}}
    assert got.origins[("queue", "workers")] == Origin(str(path), 4)
    assert got.is_file and got.source == str(path) and not got.issues


def test_toml_file_with_dates(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[queue]\nworkers = 2\n\n[when]\nat = 2026-01-02T03:04:05Z\n")
    got = FileLayer(path).read(Cfg)
    assert got.data == {"queue": {"workers": 2}, "when": {"at": "2026-01-02T03:04:05+00:00"}}
    assert got.origins[("when", "at")].line == 5
    assert dt.datetime.fromisoformat(got.data["when"]["at"]).year == 2026


def test_format_override_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "config", "\ufeffthreads = 3\n".encode())
    assert FileLayer(path, format="toml").read(Cfg).data == {"threads": 3}
    path2 = write(tmp_path, "c.json", '\ufeff{"threads": 4}'.encode())
    assert FileLayer(path2).read(Cfg).data == {"threads": 4}


def issue_of(layer: FileLayer) -> tuple[str, int | None, str]:
    got = layer.read(Cfg)
    assert got.data == {}
    (issue,) = got.issues
    return issue.kind, issue.line, str(issue)


def test_missing_file_required_or_not(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert issue_of(FileLayer(path)) == (
        "missing",
        None,
        f"{path}: expected a config file, got no such file",
    )
    optional = FileLayer(path, required=False).read(Cfg)
    assert optional.data == {} and not optional.issues


def test_unsupported_suffix_and_unreadable(tmp_path: Path) -> None:
    kind, _, text = issue_of(FileLayer(write(tmp_path, "c.yaml", "a: 1")))
    assert kind == "parse" and "'.yaml'" in text
    (tmp_path / "dir.json").mkdir()
    kind, _, text = issue_of(FileLayer(tmp_path / "dir.json"))
    assert kind == "parse" and "expected a readable file" in text


def test_bad_utf8_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", b'{\n"a":\n"\xff"}')
    assert issue_of(FileLayer(path))[:2] == ("parse", 3)


def test_toml_parse_error_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[queue]\nworkers = \n")
    kind, line, text = issue_of(FileLayer(path))
    assert (kind, line) == ("parse", 2)
    assert text.startswith(f"{path}:2: expected valid TOML, got ")
    assert "line 2" not in text


def test_jsonc_parse_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonc", '{\n  "a": 1,\n  "b": tru\n}')
    assert issue_of(FileLayer(path))[:2] == ("parse", 3)
    path2 = write(tmp_path, "d.jsonc", "{\n  /* never closed\n}")
    kind, line, text = issue_of(FileLayer(path2))
    assert (kind, line) == ("parse", 2) and "unterminated" in text


def test_empty_files(tmp_path: Path) -> None:
    empty_json = write(tmp_path, "c.jsonc", "  // only a comment\n")
    assert issue_of(FileLayer(empty_json))[0] == "empty"
    assert FileLayer(empty_json, allow_empty=True).read(Cfg).data == {}
    empty_toml = write(tmp_path, "c.toml", "# nothing\n")
    assert FileLayer(empty_toml).read(Cfg).data == {}
    assert issue_of(FileLayer(empty_toml, allow_empty=False))[0] == "empty"


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("[1, 2]", "an array"),
        ('"s"', "a string"),
        ("3", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ],
)
def test_root_must_be_an_object(tmp_path: Path, text: str, got: str) -> None:
    path = write(tmp_path, "c.json", "\n" + text)
    kind, line, message = issue_of(FileLayer(path))
    assert (kind, line) == ("root_not_object", 2)
    assert message.endswith(f"expected a JSON object, got {got}")


def test_env_layer_maps_sections_and_ignores_others() -> None:
    env = {
        "MELD_QUEUE__WORKERS": "3",
        "MELD_CACHE__KEEPBUILDS": "5",
        "MELD_CACHE__KEEP_BUILDS_X": "1",
        "MELD_THREADS": "2",
        "MELD_HOME": "/somewhere",
        "MELD_QEUE__WORKERS": "9",
        "MELD_TABLE__Some_Key": "1",
        "MELD_EMPTY__X": "",
        "MELD_": "x",
        "OTHER_QUEUE__WORKERS": "7",
    }
    for prefix in ("MELD", "MELD_"):
        got = EnvLayer(env, prefix).read(Cfg)
        assert got.data == {
            "queue": {"workers": "3"},
            "cache": {"keepBuilds": "5", "keep_builds_x": "1"},
            "threads": "2",
            "qeue": {"workers": "9"},
            "table": {"some_key": "1"},
        }
        assert got.origins[("queue", "workers")] == Origin("MELD_QUEUE__WORKERS", None, coerce=True)
        assert got.origins[("cache",)].source.startswith("MELD_CACHE__")


def test_env_layer_custom_separator_and_scalar_then_table() -> None:
    env = {"APP_QUEUE": "x", "APP_QUEUE.WORKERS": "4"}
    got = EnvLayer(env, "APP_", ".").read(Cfg)
    assert got.data == {"queue": {"workers": "4"}}


def test_env_map_layer() -> None:
    env = {"X_CACHE_ROOT": "/c", "X_TOKEN": ""}
    mapping = {"X_CACHE_ROOT": "cache.root", "X_TOKEN": "service.token", "X_UNSET": "a"}
    got = EnvMapLayer(env, mapping).read(Cfg)
    assert got.data == {"cache": {"root": "/c"}}
    assert got.origins[("cache", "root")].source == "X_CACHE_ROOT"


def test_dict_layer_and_drop_none() -> None:
    flags = {"queue": {"workers": None}, "threads": 4}
    assert DictLayer(flags).read(Cfg).data == flags
    got = DictLayer(flags, "cli", drop_none=True).read(Cfg)
    assert got.data == {"queue": {}, "threads": 4}
    assert got.origins[("threads",)] == Origin("cli", None, coerce=True)
