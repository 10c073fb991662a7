"""``pairofcleats search`` as a real subprocess: exit codes, stdout discipline, help, imports
(acceptance 18, 19, 20, 21; C1–C5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pairofcleats import cli
from pairofcleats.errors import StdoutGuardError
from pairofcleats.service.stdout import stdout_guard

CLI = [sys.executable, "-m", "pairofcleats.cli"]
EXCLUDED = ("tree_sitter", "starlette", "uvicorn", "mcp", "watchfiles")


def run(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def test_json_is_exactly_one_object(built_fixture: Any) -> None:
    proc = run(["search", "greet", "--repo", str(built_fixture.repo), "--json"], built_fixture.env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    body = json.loads(lines[0])
    assert {"ok", "query", "backend", "code", "prose", "extractedProse"} <= set(body)
    assert body["ok"] is True and body["query"] == "greet"
    assert "greet" in [h["name"] for h in body["code"]]


def test_compact_explain_stats_flags(built_fixture: Any) -> None:
    proc = run(
        [
            "search", "greet", "--repo", str(built_fixture.repo), "--json", "--compact",
            "--explain", "--stats", "-n", "2", "--mode", "code", "--backend", "memory",
        ],
        built_fixture.env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    body = json.loads(proc.stdout)
    assert len(body["code"]) == 2
    assert body["code"][0]["scoreBreakdown"]["schemaVersion"] == 1
    assert body["stats"]["backend"] == "memory"
    assert "explain" in body["stats"]


def test_lang_filter_takes_an_extension(built_fixture: Any) -> None:
    def files(lang: str) -> list[str]:
        args = ["search", "greet", "--repo", str(built_fixture.repo), "--json", "--compact"]
        proc = run([*args, "--mode", "code", "--lang", lang], built_fixture.env)
        assert proc.returncode == 0, proc.stderr
        return [h["file"] for h in json.loads(proc.stdout)["code"]]

    python = files("python")
    assert python and files("py") == python
    assert {f.rsplit(".", 1)[1] for f in python} == {"py"}


def test_text_output_one_line_per_hit(built_fixture: Any) -> None:
    proc = run(
        ["search", "add_numbers", "--repo", str(built_fixture.repo), "--mode", "code", "-n", "1"],
        built_fixture.env,
    )
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "[code]"
    assert lines[1].startswith("src/greet.py:")
    assert "FunctionDeclaration add_numbers" in lines[1]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_text_stats_prints_a_stats_line(built_fixture: Any, backend: str) -> None:
    # --stats without --json used to print nothing extra: a flag with no visible effect
    args = ["search", "greet", "--repo", str(built_fixture.repo), "--mode", "code", "-n", "1"]
    proc = run([*args, "--backend", backend, "--stats"], built_fixture.env)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.startswith(f"stats backend {backend} · ann "), proc.stdout
    assert " ms · " in last and "parse" in last
    plain = run([*args, "--backend", backend], built_fixture.env)
    assert "stats " not in plain.stdout


def test_help_goes_to_stdout_and_builds_nothing(tmp_path: Path) -> None:
    env = {"PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    for args in (
        ["search", "--help", "--backend", "memory", "-n", "3"],
        ["--help"],
        ["index", "--help"],
        ["service", "--help"],
    ):
        proc = run(args, env, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Usage" in proc.stdout
        assert proc.stderr == ""
    assert not (tmp_path / "cache").exists()


def test_version_goes_to_stdout(tmp_path: Path) -> None:
    proc = run(["--version"], {}, cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith("pairofcleats ")


def test_unknown_flag_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run(["search", "greet", "--no-such-flag"], {}, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--no-such-flag" in proc.stderr


def test_double_dash_ends_options(built_fixture: Any) -> None:
    proc = run(
        ["search", "--repo", str(built_fixture.repo), "--json", "--", "--json"],
        built_fixture.env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["query"] == "--json"


def test_no_index_exits_1(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    proc = run(["search", "greet", "--repo", str(repo), "--json"], env)
    assert proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body == {
        "ok": False,
        "code": "NO_INDEX",
        "message": body["message"],
        "hint": f"build one with: pairofcleats index build --repo {repo.resolve()}",
    }
    text = run(["search", "greet", "--repo", str(repo)], env)
    assert text.returncode == 1
    assert text.stdout == ""
    assert len(text.stderr.strip().splitlines()) == 1
    assert "NO_INDEX" in text.stderr and "pairofcleats index build" in text.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (['greet "open'], "INVALID_REQUEST"),
        (["greet", "--backend", "lmdb"], "INVALID_REQUEST"),
        (["greet", "--mode", "records"], "INVALID_REQUEST"),
        (["NOT greet"], "INVALID_REQUEST"),
    ],
)
def test_bad_input_exits_2(built_fixture: Any, args: list[str], code: str) -> None:
    proc = run(["search", *args, "--repo", str(built_fixture.repo), "--json"], built_fixture.env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["code"] == code


def test_search_never_imports_heavy_modules(built_fixture: Any) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pairofcleats.cli", "search", "greet",
         "--repo", str(built_fixture.repo), "--json", "--backend", "sqlite"],
        env={**os.environ, **built_fixture.env},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "pairofcleats" in imported
    for name in EXCLUDED:
        assert name not in imported, name
    assert "all_minilm_l6_v2" not in imported


def test_stdout_guard_refuses_stray_writes(capsys: pytest.CaptureFixture[str]) -> None:
    with stdout_guard(True) as guard:
        with pytest.raises(StdoutGuardError) as info:
            print("stray")
        assert guard.violated
        guard.emit({"ok": True})
    assert info.value.code == "ERR_STDOUT_GUARD" and info.value.exit_code == 1
    assert capsys.readouterr().out == '{"ok":true}\n'
    with stdout_guard(False):
        print("fine")
    assert capsys.readouterr().out == "fine\n"


def test_json_with_progress_jsonl(built_fixture: Any) -> None:
    from groundwork.progress import parse_event

    for query, rc in (("greet", 0), ("NOT greet", 2)):
        proc = run(
            ["search", query, "--repo", str(built_fixture.repo), "--json", "--progress", "jsonl"],
            built_fixture.env,
        )
        assert proc.returncode == rc
        assert len(proc.stdout.splitlines()) == 1
        json.loads(proc.stdout)
        events = [parse_event(line) for line in proc.stderr.splitlines()]
        kinds = [e.event for e in events]
        assert kinds[0] == "job:start" and kinds[-1] == "job:end"
        assert events[-1].get("exitCode") == rc


def _modules_after(code: str, env: dict[str, str], out: Path) -> set[str]:
    """Every module in ``sys.modules`` when a ``python -c code`` subprocess exits."""
    prelude = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(out.read_text(encoding="utf-8")))


# never on a cold search (§10); rich and groundwork.progress only with a progress context
NEVER_ON_SEARCH = {*EXCLUDED, "all_minilm_l6_v2", "usearch", "tokenizers"}


def test_cli_import_sys_modules_stay_light(tmp_path: Path) -> None:
    modules = _modules_after("import pairofcleats.cli\n", {}, tmp_path / "modules.json")
    roots = {m.split(".")[0] for m in modules}
    assert "pairofcleats" in roots
    assert not roots & (NEVER_ON_SEARCH | {"numpy", "pydantic", "rich", "snowballstemmer"})
    loaded = {m for m in modules if m.startswith("pairofcleats.")}
    assert loaded <= {"pairofcleats.cli", "pairofcleats.cli_index", "pairofcleats.errors"}


def test_search_sys_modules_stay_light(built_fixture: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in built_fixture.env.items() if k not in cli.PROGRESS_CONTEXT_VARS}
    modules = _modules_after(
        "from pairofcleats.cli import main\n"
        f"main(['search', 'greet', '--repo', {str(built_fixture.repo)!r}, '--json'])\n",
        {**env, **dict.fromkeys(cli.PROGRESS_CONTEXT_VARS, "")},
        tmp_path / "modules.json",
    )
    roots = {m.split(".")[0] for m in modules}
    assert "pairofcleats" in roots
    assert not roots & (NEVER_ON_SEARCH | {"rich", "xxhash", "blake3"})
    # no progress context, no config file or env values, nothing verified or written
    assert not modules & {"groundwork.progress", "groundwork.config", "groundwork.hashing"}
    assert "pairofcleats.artifacts.writer" not in modules
    # with --repo no git runs; no packaged-resource or plugin machinery, no Typer
    assert not modules & {"subprocess", "importlib.resources", "importlib.metadata", "zipfile"}
    assert not roots & {"typer", "click"}
    assert not {m for m in modules if m.startswith(("pairofcleats.build", "pairofcleats.lang"))}


def test_progress_context_vars_are_groundworks() -> None:
    from groundwork.progress import CONTEXT_ALIASES, CONTEXT_ENV

    assert (CONTEXT_ENV, *CONTEXT_ALIASES) == cli.PROGRESS_CONTEXT_VARS


@pytest.mark.parametrize("var", ["GROUNDWORK_PROGRESS_CONTEXT", "PAIROFCLEATS_PROGRESS_CONTEXT"])
def test_progress_context_turns_auto_into_jsonl(built_fixture: Any, var: str) -> None:
    from groundwork.progress import parse_event

    args = ["search", "greet", "--repo", str(built_fixture.repo), "--json"]
    quiet = run(args, {**built_fixture.env, **dict.fromkeys(cli.PROGRESS_CONTEXT_VARS, "")})
    assert quiet.returncode == 0 and quiet.stderr == ""
    proc = run(args, {**built_fixture.env, var: '{"runId": "r-1"}'})
    assert proc.returncode == 0, proc.stderr
    events = [parse_event(line) for line in proc.stderr.splitlines()]
    assert events[0].event == "job:start" and events[-1].event == "job:end"


def test_missing_repo_dir_is_bad_input(tmp_path: Path) -> None:
    proc = run(["search", "greet", "--repo", str(tmp_path / "nope")], {}, cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["search", "--help"],
        ["search"],
        ["search", "greet", "--bogus"],
        ["search", "greet", "-n", "many"],
        ["search", "greet", "--repo", "/nonexistent/repo", "--json"],
    ],
)
def test_search_app_behaves_like_the_full_app(args: list[str]) -> None:
    """``main`` runs searches through ``search_app``; it must read exactly like ``app``."""
    from typer.testing import CliRunner

    runner = CliRunner()
    full = runner.invoke(cli.app, args, prog_name="pairofcleats")
    lean = runner.invoke(cli.search_app, args, prog_name="pairofcleats")
    assert (lean.exit_code, lean.output) == (full.exit_code, full.output)
    assert full.exit_code != 0 or "Usage: pairofcleats search" in full.output


def test_search_app_holds_only_search_with_the_same_parameters() -> None:
    from typer.main import get_command

    full, lean = get_command(cli.app), get_command(cli.search_app)
    assert sorted(lean.commands) == ["search"]  # type: ignore[attr-defined]
    assert "index" in full.commands and "service" in full.commands  # type: ignore[attr-defined]
    search_full = full.commands["search"]  # type: ignore[attr-defined]
    search_lean = lean.commands["search"]  # type: ignore[attr-defined]
    assert [p.opts for p in search_lean.params] == [p.opts for p in search_full.params]
    assert [p.opts for p in lean.params] == [p.opts for p in full.params]


@pytest.mark.parametrize(("query", "rc"), [("greet", 0), ("NOT greet", 2)])
def test_console_search_exit_runs_atexit_and_flushes(
    built_fixture: Any, tmp_path: Path, query: str, rc: int
) -> None:
    """``main()`` as the console script ends a search with ``os._exit``: atexit handlers
    still run, stdout and stderr arrive whole and the exit code is the command's."""
    marker = tmp_path / "atexit.txt"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        f"sys.argv = ['pairofcleats', 'search', {query!r}, '--repo', "
        f"{str(built_fixture.repo)!r}, '--json', '--progress', 'jsonl']\n"
        "from pairofcleats.cli import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **built_fixture.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == rc, proc.stderr
    assert marker.read_text(encoding="utf-8") == "ran"
    body = json.loads(proc.stdout)
    assert proc.stdout.endswith("\n") and len(proc.stdout.splitlines()) == 1
    assert body["ok"] is (rc == 0)
    assert json.loads(proc.stderr.splitlines()[-1])["event"] == "job:end"


def test_main_with_argv_raises_system_exit(built_fixture: Any) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["search", "NOT greet", "--repo", str(built_fixture.repo), "--json"])
    assert info.value.code == 2


@pytest.mark.parametrize(("preset", "want"), [(None, "1"), ("3", "3")])
def test_search_runs_numpy_with_one_blas_thread_unless_set(
    built_fixture: Any, tmp_path: Path, preset: str | None, want: str
) -> None:
    out = tmp_path / "blas.txt"
    code = (
        "import atexit, os\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write("
        "os.environ.get('OPENBLAS_NUM_THREADS', '')))\n"
        "from pairofcleats.cli import main\n"
        f"main(['search', 'greet', '--repo', {str(built_fixture.repo)!r}, '--json'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **built_fixture.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == want
