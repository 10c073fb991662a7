"""``cli_search.parse``: every search line it accepts must mean exactly what it means to
Typer (same parameters, same values); everything else it must leave to Typer."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pairofcleats import cli, cli_search
from typer._click import exceptions as click_exc
from typer.main import get_command


def _command() -> Any:
    return get_command(cli.search_app).commands["search"]  # type: ignore[attr-defined]


def _typer_params(args: list[str]) -> dict[str, Any] | None:
    """What Typer passes to ``search_cmd`` for ``args``; None when it refuses the line."""
    try:
        ctx = _command().make_context("search", list(args))
    except (click_exc.ClickException, click_exc.Exit):
        return None
    return dict(ctx.params)


def test_option_table_is_typers() -> None:
    kinds = {str: "str", int: "int", float: "float"}
    seen: set[str] = set()
    for param in _command().params:
        if param.name == "query":
            continue
        if param.is_flag:
            for opt in param.opts:
                assert cli_search.FLAGS[opt] == (param.name, True), opt
            for opt in param.secondary_opts:
                assert cli_search.FLAGS[opt] == (param.name, False), opt
        else:
            ann = param.type_descriptor.annotation
            kind = "multi" if param.multiple else kinds.get(ann, "path")
            if kind == "path":
                assert ann.__name__ == "Path"
            for opt in param.opts:
                assert cli_search.VALUE_OPTIONS[opt] == (param.name, kind), opt
        seen.update(param.opts, param.secondary_opts)
    assert seen == set(cli_search.VALUE_OPTIONS) | set(cli_search.FLAGS)
    assert {
        k: v for k, v in (_typer_params(["q"]) or {}).items() if k != "query"
    } == cli_search.DEFAULTS


BENCH_LINE = ["config", "--repo", "/r", "--json", "--backend", "sqlite", "--no-ann"]
ACCEPTED = [
    BENCH_LINE,
    ["q"],
    [""],
    ["greet person", "--mode", "code", "-n", "3", "--top", "7", "--explain", "--why"],
    ["--repo=", "q", "--path", "a", "--path=b", "--type", "x", "--kind", "y", "--compact"],
    ["q", "--bm25-k1", "1e3", "--bm25-b", "0.5", "-n", "007", "--ann", "--no-ann", "--ann"],
    ["--", "--json"],
    ["--json", "--", "-term"],
    ["q", "--filter", "lang:python ext:.py", "--modified-since", "7", "--case", "--stats"],
    ["q", "--import", "os", "--calls", "f", "--uses", "u", "--author", "a", "--param", "p"],
    ["q", "--progress", "jsonl", "--verbose", "--strict", "--stub-embeddings", "--match=any"],
    ["q", "--repo", "a b", "--repo", "c", "--fts-profile", "name", "--ann-backend", "exact"],
    ["q", "--dense-vector-mode", "doc", "--returns", "int", "--signature", "s", "--name", "n"],
    ["q", "--file", "/x/", "--ext", ".py", "--lang", "python", "--mode="],
]
LEFT_TO_TYPER = [
    [],
    ["--help"],
    ["q", "-h"],
    ["q", "--version"],
    ["q", "r"],
    ["q", "--", "r"],
    ["q", "-n"],
    ["q", "-n5"],
    ["q", "-n=5"],
    ["q", "-n", "5.0"],
    ["q", "-n", "+5"],
    ["q", "-n", "-1"],
    ["q", "--top", "many"],
    ["q", "--bm25-b", "nan"],
    ["q", "--repo", "--json"],
    ["q", "--json=1"],
    ["q", "--re"],
    ["-x"],
    ["-"],
]


@pytest.mark.parametrize("args", ACCEPTED)
def test_accepted_lines_parse_as_under_typer(args: list[str]) -> None:
    fast = cli_search.parse(args)
    assert fast is not None
    assert fast == _typer_params(args)


@pytest.mark.parametrize("args", LEFT_TO_TYPER)
def test_uncertain_lines_are_left_to_typer(args: list[str]) -> None:
    assert cli_search.parse(args) is None


def test_random_lines_agree_with_typer() -> None:
    """Random mixes of options, values and stray tokens: whatever ``parse`` accepts, Typer
    accepts with the same values (the rest falls back, which is always correct)."""
    rng = random.Random(7)
    opts = [*cli_search.VALUE_OPTIONS, *cli_search.FLAGS, "--help", "-h", "--", "-n5"]
    values = ["5", "0", "-3", "1.5", "2e3", "x", "", "a=b", "-", "--json", "07", "1_0", " 5"]
    accepted = 0
    for _ in range(3000):
        args: list[str] = []
        for _ in range(rng.randint(0, 6)):
            pick = rng.random()
            if pick < 0.5:
                opt = rng.choice(opts)
                if opt in cli_search.VALUE_OPTIONS and rng.random() < 0.3:
                    args.append(f"{opt}={rng.choice(values)}")
                else:
                    args.append(opt)
            else:
                args.append(rng.choice(values))
        fast = cli_search.parse(args)
        if fast is not None:
            accepted += 1
            assert fast == _typer_params(args), args
    assert accepted > 300  # the generator does reach the fast path


def test_a_plain_search_never_imports_typer(built_fixture: Any, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "modules.json"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "from pairofcleats.cli import main\n"
        f"main(['search', 'greet', '--repo', {str(built_fixture.repo)!r}, '--json'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **built_fixture.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    roots = {m.split(".")[0] for m in json.loads(out.read_text(encoding="utf-8"))}
    assert "pairofcleats" in roots and "typer" not in roots and "click" not in roots
