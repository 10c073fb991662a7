"""Bad input to any ``spiderweb`` command: exit 2 and one line on stderr naming the problem
(§12; no boxed help screen, no traceback). In-process through ``cli.main`` (the real entry
point), so the whole table stays cheap."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from spiderweb import cli

BAD = [
    ["bogus"],
    ["serve", "--port", "abc"],
    ["serve", "--port", "70000"],
    ["serve", "--nope"],
    ["chat", "--proto", "3"],
    ["chat", "notaurl", "--send", "hi"],
    ["chat", "http://127.0.0.1:9", "--send", "hi"],
    ["chat", "ws://127.0.0.1:9", "--agent", "../x", "--send", "hi"],
    ["chat", "ws://127.0.0.1:9", "--session", "bad/key", "--send", "hi"],
    ["sessions", "show"],
    ["sessions", "show", "bad/key"],
    ["sessions", "delete", "a key"],
    ["memory", "recall", "k", "--limit", "abc"],
    ["memory", "recall", "k", "--limit", "-5"],
    ["memory", "query", "k", "--kind", "bogus"],
    ["memory", "query", "k", "--id", "x"],
    ["memory", "snapshots", "bad/key"],
    ["memory", "prune", "--keep", "-1"],
    ["memory", "prune", "--days", "-3"],
    ["config", "set-log", "LOUD"],
    ["config", "set-server", "--port", "99999"],
    ["config", "set-server", "--bind", ""],
    ["config", "set-provider", "bogus"],
    ["identity", "show", "../etc"],
]


def run(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("SPIDERWEB_CONFIG", str(tmp_path / "cfg" / "config.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setattr(sys, "argv", ["spiderweb", *argv])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_input_exits_2_with_one_line(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored = argv[0] in ("sessions", "memory") and len(argv) > 2
    full = [*argv, "--data-dir", str(tmp_path / "d")] if stored else argv
    code, out, err = run(full, tmp_path, monkeypatch, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "╭" not in err
    assert out == ""
    # The line names what was wrong: the value, option or command the user typed.
    typed = [a for a in argv if a not in ("--send", "hi")]
    assert any(t.lower() in lines[0].lower() for t in typed[1:] or typed), lines[0]


def test_config_edit_error_names_the_key_and_keeps_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(["config", "set-log", "info"], tmp_path, monkeypatch, capsys)
    assert code == 0
    path = tmp_path / "cfg" / "config.json"
    before = path.read_bytes()
    code, _, err = run(["config", "set-log", "LOUD"], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "log.level" in err and "'loud'" in err and "not changed" in err
    assert path.read_bytes() == before


def test_no_command_prints_help_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([], tmp_path, monkeypatch, capsys)
    assert code == 2 and "Usage: spiderweb" in out and "serve" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "list", "--json"],
        ["memory", "snapshots", "k", "--json"],
        ["memory", "recall", "k", "--json"],
        ["memory", "query", "k", "--json"],
        ["memory", "prune", "--json"],
        ["config", "path", "--json"],
        ["config", "show", "--json"],
        ["identity", "show", "a", "--json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_reporting_commands_print_one_json_object(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored = argv[0] in ("sessions", "memory", "identity")
    extra = ["--data-dir", str(tmp_path / "d")] if stored else []
    code, out, _ = run([*argv, *extra], tmp_path, monkeypatch, capsys)
    assert code == 0
    assert isinstance(json.loads(out), dict)  # exactly one JSON document on stdout


def test_chat_help_lists_the_slash_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(["chat", "--help"], tmp_path, monkeypatch, capsys)
    assert code == 0
    for command in cli._CONTROL | {"/goal", "/new", "/recall", "/query", "/history", "/quit"}:
        assert command in out, command
