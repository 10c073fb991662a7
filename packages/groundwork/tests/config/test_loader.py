"""load_config end to end: real files, env coercion, every issue located."""

from __future__ import annotations

import datetime as dt
import enum
import math
from pathlib import Path
from typing import Annotated, Literal

import pytest
from groundwork.config import (
    ConfigError,
    ConfigIssue,
    DictLayer,
    EnvLayer,
    EnvMapLayer,
    FileLayer,
    StrictModel,
    format_key_path,
    load_config,
)
from groundwork.config.loader import _coerce, _collapse
from groundwork.errors import GroundworkError
from pydantic import ConfigDict, Field, field_validator


class Policy(enum.Enum):
    STOP = "stop"
    CONTINUE = "continue"


class Queue(StrictModel):
    workers: int = Field(8, ge=1)
    backoff_base_s: float = 1.0
    plan_scheduling: Literal["exclusive", "shared"] = "exclusive"


class Scan(StrictModel):
    use_gitignore: bool = True
    extra_ignore: list[str] = Field(default_factory=list)


class Generate(StrictModel):
    failure_policy: Policy = Policy.STOP
    default_provider: str | None = None


class Meld(StrictModel):
    scan: Scan = Scan()
    queue: Queue = Queue()
    generate: Generate = Generate()
    root: Path = Path(".")
    started: dt.datetime | None = None
    limit: int | str = 1


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def issues(model: type[StrictModel], layers: list[object]) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        load_config(model, layers)  # type: ignore[arg-type]
    return info.value.issues


def test_defaults_when_there_are_no_layers() -> None:
    assert load_config(Meld, []) == Meld()


def test_layers_merge_lowest_first(tmp_path: Path) -> None:
    user = write(
        tmp_path,
        "user.toml",
        '[queue]\nworkers = 2\nbackoff_base_s = 5\n[scan]\nextra_ignore = ["a"]\n',
    )
    ws = write(tmp_path, "ws.toml", '[queue]\nworkers = 4\n[scan]\nextra_ignore = ["b", "c"]\n')
    env = {"MELD_QUEUE__WORKERS": "3"}
    cfg = load_config(Meld, [FileLayer(user), FileLayer(ws), EnvLayer(env, "MELD_")])
    assert cfg.queue.workers == 3
    assert cfg.queue.backoff_base_s == 5.0  # int is a fine float
    assert cfg.scan.extra_ignore == ["b", "c"]  # lists replace
    flags = DictLayer({"queue": {"workers": 6}, "root": tmp_path})
    cfg = load_config(Meld, [FileLayer(ws), EnvLayer(env, "MELD"), flags])
    assert (cfg.queue.workers, cfg.root) == (6, tmp_path)


def test_env_strings_are_coerced() -> None:
    env = {
        "MELD_QUEUE__WORKERS": "12",
        "MELD_QUEUE__BACKOFF_BASE_S": "0.5",
        "MELD_QUEUE__PLAN_SCHEDULING": "shared",
        "MELD_SCAN__USE_GITIGNORE": "false",
        "MELD_SCAN__EXTRA_IGNORE": '["*.log", "tmp/"]',
        "MELD_GENERATE__FAILURE_POLICY": "continue",
        "MELD_GENERATE__DEFAULT_PROVIDER": "mock",
        "MELD_ROOT": "/srv/x",
        "MELD_STARTED": "2026-01-02T03:04:05Z",
        "MELD_LIMIT": "7",
    }
    cfg = load_config(Meld, [EnvLayer(env, "MELD_")])
    assert cfg.queue == Queue(workers=12, backoff_base_s=0.5, plan_scheduling="shared")
    assert cfg.scan == Scan(use_gitignore=False, extra_ignore=["*.log", "tmp/"])
    assert cfg.generate == Generate(failure_policy=Policy.CONTINUE, default_provider="mock")
    assert cfg.root == Path("/srv/x")
    assert cfg.started == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert cfg.limit == 7


def test_flag_strings_are_coerced_too() -> None:
    cfg = load_config(
        Meld, [DictLayer({"queue": {"workers": "5"}, "scan": {"use_gitignore": "no"}})]
    )
    assert (cfg.queue.workers, cfg.scan.use_gitignore) == (5, False)


def test_file_values_must_be_well_typed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.jsonc",
        '{\n  "queue": {\n    "workers": "3"\n  },\n  "scan": {"use_gitignore": 1}\n}',
    )
    got = issues(Meld, [FileLayer(path)])
    assert [str(i) for i in got] == [
        f"{path}:5: scan.use_gitignore: expected bool, got 1",
        f'{path}:3: queue.workers: expected int, got "3"',
    ] or [str(i) for i in got] == [
        f'{path}:3: queue.workers: expected int, got "3"',
        f"{path}:5: scan.use_gitignore: expected bool, got 1",
    ]
    assert {i.kind for i in got} == {"type"}


def test_errors_name_file_line_key_and_expected_type_in_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.toml",
        '# meld\n[queue]\nworkers = 0\nplan_scheduling = "later"\n\n'
        '[generate]\nfailure_policy = "explode"\n',
    )
    got = {i.key_path: i for i in issues(Meld, [FileLayer(path)])}
    assert (
        str(got["queue.workers"])
        == f"{path}:3: queue.workers: expected greater than or equal to 1, got 0"
    )
    assert got["queue.workers"].kind == "value"
    assert str(got["queue.plan_scheduling"]) == (
        f"{path}:4: queue.plan_scheduling: expected 'exclusive' or 'shared', got \"later\""
    )
    assert got["generate.failure_policy"].line == 7
    assert "'stop' or 'continue'" in got["generate.failure_policy"].expected


def test_unknown_keys_fail_at_any_depth(tmp_path: Path) -> None:
    path = write(
        tmp_path, "c.json", '{\n  "queue": {\n    "wrkers": 3\n  },\n  "bogus": {"x": 1}\n}'
    )
    got = issues(Meld, [FileLayer(path)])
    assert [(i.key_path, i.line, i.kind) for i in got] == [
        ("queue.wrkers", 3, "unknown_key"),
        ("bogus", 5, "unknown_key"),
    ]
    assert str(got[0]) == (
        f"{path}:3: queue.wrkers: expected a known key (did you mean 'workers'?), "
        "got unknown key 'wrkers'"
    )
    assert "a known key (" in got[1].expected and "queue" in got[1].expected


def test_env_issues_name_the_variable() -> None:
    env = {
        "MELD_QUEUE__WORKERS": "many",
        "MELD_SCAN__USE_GITIGNORE": "maybe",
        "MELD_QUEUE__WORKRS": "3",
        "MELD_SCAN__EXTRA_IGNORE": "[1",
    }
    got = {i.source: i for i in issues(Meld, [EnvLayer(env, "MELD_")])}
    assert (
        str(got["MELD_QUEUE__WORKERS"])
        == 'MELD_QUEUE__WORKERS: queue.workers: expected int, got "many"'
    )
    assert got["MELD_SCAN__USE_GITIGNORE"].expected == "bool"
    assert got["MELD_QUEUE__WORKRS"].kind == "unknown_key"
    assert got["MELD_QUEUE__WORKRS"].key_path == "queue.workrs"
    assert got["MELD_SCAN__EXTRA_IGNORE"].expected == "list[str]"


def test_env_map_layer_issue_names_the_variable() -> None:
    got = issues(Meld, [EnvMapLayer({"X_WORKERS": "-1"}, {"X_WORKERS": "queue.workers"})])
    assert [str(i) for i in got] == [
        "X_WORKERS: queue.workers: expected greater than or equal to 1, got -1"
    ]


def test_later_layer_is_blamed_for_the_value_it_set(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[queue]\nworkers = 2\n")
    got = issues(Meld, [FileLayer(path), DictLayer({"queue": {"workers": 0}}, "--workers")])
    assert [(i.source, i.line) for i in got] == [("--workers", None)]


def test_read_problems_are_all_reported_before_validation(tmp_path: Path) -> None:
    a = write(tmp_path, "a.jsonc", '{"queue": [}')
    b = write(tmp_path, "b.toml", "x = = 1")
    c = write(tmp_path, "c.json", "[]")
    got = issues(Meld, [FileLayer(a), FileLayer(b), FileLayer(c), DictLayer({"bogus": 1})])
    assert [(i.source, i.kind) for i in got] == [
        (str(a), "parse"),
        (str(b), "parse"),
        (str(c), "root_not_object"),
    ]
    assert [i.line for i in got] == [1, 1, 1]


class Repo(StrictModel):
    root: str
    priority: int = 0


class Workspace(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_version: int = Field(alias="schemaVersion")
    repos: list[Repo]
    cache_root: str | None = Field(None, alias="cacheRoot")

    @field_validator("repos")
    @classmethod
    def _not_empty(cls, v: list[Repo]) -> list[Repo]:
        if not v:
            raise ValueError("at least one repo")
        return v


def test_missing_keys_list_items_aliases_and_validators(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ws.jsonc",
        '{\n  "repos": [\n    {"root": "a"},\n    {"root": 5, "priority": "hi"},\n    {}\n  ],\n'
        '  "cacheroot": "x"\n}',
    )
    got = [str(i) for i in issues(Workspace, [FileLayer(path)])]
    assert got == [
        f"{path}: schemaVersion: expected int, got nothing (required)",
        f"{path}:4: repos[1].root: expected str, got 5",
        f'{path}:4: repos[1].priority: expected int, got "hi"',
        f"{path}:5: repos[2].root: expected str, got nothing (required)",
        f"{path}:7: cacheroot: expected a known key (did you mean 'cacheRoot'?), "
        "got unknown key 'cacheroot'",
    ]
    empty = write(tmp_path, "ws2.jsonc", '{"schemaVersion": 1, "repos": []}')
    (issue,) = issues(Workspace, [FileLayer(empty)])
    assert (issue.kind, issue.expected, issue.got) == ("value", "at least one repo", "[]")


def test_aliases_resolve_from_env_and_populate_by_name() -> None:
    env = {"WS_SCHEMAVERSION": "1", "WS_CACHE_ROOT": "/c", "WS_REPOS": '[{"root": "r"}]'}
    cfg = load_config(Workspace, [EnvLayer(env, "WS")])
    assert (cfg.schema_version, cfg.cache_root, cfg.repos) == (1, "/c", [Repo(root="r")])


def test_missing_without_any_file_is_blamed_on_config() -> None:
    got = issues(Workspace, [])
    assert [str(i) for i in got] == [
        "config: schemaVersion: expected int, got nothing (required)",
        "config: repos: expected list[object], got nothing (required)",
    ]


def test_union_errors_collapse_into_one_issue() -> None:
    (issue,) = issues(Meld, [DictLayer({"limit": [1]})])
    assert (issue.expected, issue.got, issue.kind) == ("int or str", "[1]", "type")


def test_wrong_shape_for_a_table_and_long_values_are_cut(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.json",
        '{"queue": 3, "root": "' + "x" * 100 + '", "scan": {"extra_ignore": "a"}}',
    )
    got = {
        i.key_path: i
        for i in issues(Meld, [FileLayer(path), DictLayer({"limit": {"k": "y" * 100}})])
    }
    assert got["queue"].expected == "object"
    assert got["scan.extra_ignore"].expected == "list[str]"
    assert got["limit"].got.endswith("…") and len(got["limit"].got) == 60


def test_non_json_flag_values_are_a_value_issue() -> None:
    (issue,) = issues(Meld, [DictLayer({"queue": {"backoff_base_s": math.nan}})])
    assert issue.kind == "value"
    (issue,) = issues(Meld, [DictLayer({"unknown": object()})])
    assert issue.kind == "value"


def test_config_error_is_one_line_per_issue_and_a_groundwork_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", "[queue]\nworkers = 'x'\nbogus = 1\n")
    with pytest.raises(GroundworkError) as info:
        load_config(Meld, [FileLayer(path)])
    err = info.value
    assert isinstance(err, ConfigError)
    lines = str(err).splitlines()
    assert len(lines) == len(err.issues) == 2
    assert all(line.startswith(f"{path}:") for line in lines)
    assert str(ConfigError([])) == "invalid configuration"


def test_format_key_path() -> None:
    assert format_key_path(("repos", 0, "root")) == "repos[0].root"
    assert format_key_path((0, "a")) == "[0].a"
    assert format_key_path(()) == ""
    assert format_key_path(("byExt", ".py", "maxBytes")) == 'byExt[".py"].maxBytes'
    assert format_key_path(("", "a b")) == '[""]["a b"]'


class Named(StrictModel):
    name: str = Field("abc", min_length=3)
    odd: int = 1
    repos: list[Repo] = Field(default_factory=list)

    @field_validator("odd")
    @classmethod
    def _odd(cls, v: int) -> int:
        assert v % 2 == 1, "odd numbers only"
        return v


def test_constraint_and_assertion_messages_become_expected() -> None:
    got = {i.key_path: i for i in issues(Named, [DictLayer({"name": "ab", "odd": 2})])}
    assert got["name"].expected == "string should have at least 3 characters"
    assert got["odd"].expected.startswith("odd numbers only")


def test_unknown_key_inside_a_list_item_suggests_its_keys() -> None:
    (issue,) = issues(Named, [DictLayer({"repos": [{"root": "a", "priorty": 1}]})])
    assert issue.key_path == "repos[0].priorty"
    assert issue.expected == "a known key (did you mean 'priority'?)"
    (issue,) = issues(Named, [DictLayer({"repos": [{"root": "a", "zzz": 1}]})])
    assert issue.expected == "a known key (priority, root)"


def test_coerce_handles_unhashable_annotations() -> None:
    assert _coerce(Annotated[int, {"unhashable": []}], "3") == 3
    assert _coerce(int, "x") == "x"
    assert _coerce(list[int], "[1, 2]") == [1, 2]
    assert _coerce(Path, Path("/a")) == "/a"


def test_collapse_joins_distinct_expectations_once() -> None:
    a = ConfigIssue("f", 1, "k", "a valid integer", "[1]", "type")
    b = ConfigIssue("f", 1, "k", "a valid string", "[1]", "type")
    c = ConfigIssue("f", 2, "j", "x", "y", "value")
    assert _collapse([a, b, a, c]) == [
        ConfigIssue("f", 1, "k", "a valid integer or a valid string", "[1]", "type"),
        c,
    ]


def test_toml_dates_and_paths_validate_from_files(tmp_path: Path) -> None:
    path = write(tmp_path, "c.toml", 'root = "/data"\nstarted = 2026-05-06T07:08:09Z\n')
    cfg = load_config(Meld, [FileLayer(path)])
    assert cfg.root == Path("/data")
    assert cfg.started == dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
