"""docs/pairofcleats/ documents every CLI command and option; the demo runs green.

Like sqlite-utils' ``tests/test_docs.py``: the Typer app is turned into its click command
tree and walked, so a new command or flag without documentation fails here rather than
being found by a user; config.md's defaults block must equal the real defaults and every
config key needs a table row. The demo test runs ``demo/pairofcleats_demo.py`` as a real subprocess
(real CLI subprocesses under it) on a small git repository made by the test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pairofcleats.cli import app
from pairofcleats.config import PairOfCleatsConfig

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "pairofcleats"
DEMO = ROOT / "demo" / "pairofcleats_demo.py"
EXPECTED_PAGES = (
    "README.md",
    "search.md",
    "config.md",
    "formats.md",
    "service.md",
    "architecture.md",
)


def _walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app), ("pairofcleats",)))
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]
OPTIONS = sorted(
    {
        (" ".join(path), opt)
        for path, cmd in COMMANDS
        for param in cmd.params
        if param.param_type_name == "option"
        for opt in (*param.opts, *param.secondary_opts)
    }
)


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


@pytest.fixture(scope="module")
def docs_text() -> str:
    return _docs_text()


def test_every_page_exists_and_links_resolve() -> None:
    for name in EXPECTED_PAGES:
        assert (DOCS / name).is_file(), f"docs/pairofcleats/{name} is missing"
    for page in DOCS.glob("*.md"):
        for target, anchor in re.findall(r"\]\(([^)#\s]+)(?:#([^)]*))?\)", page.read_text("utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
            if anchor:
                assert anchor in _anchors(page.parent / target), f"{page.name}: no #{anchor}"


def _anchors(page: Path) -> set[str]:
    """GitHub-style heading anchors: lowercase, punctuation dropped, spaces to dashes."""
    heads = re.findall(r"^#+\s+(.*)$", page.read_text("utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_the_walk_finds_the_cli() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"pairofcleats search", "pairofcleats index build"} <= names
    assert ("pairofcleats search", "--json") in OPTIONS


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in LEAVES])
def test_command_is_documented(path: str, docs_text: str) -> None:
    assert f"`{path}" in docs_text, f"{path} is not documented in docs/pairofcleats/"


@pytest.mark.parametrize(("path", "option"), OPTIONS)
def test_option_is_documented(path: str, option: str, docs_text: str) -> None:
    pattern = re.compile(re.escape(option) + r"(?![\w-])")
    assert pattern.search(docs_text), f"{path} {option} is not documented in docs/pairofcleats/"


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_command_has_help(path: str) -> None:
    cmd = {" ".join(p): c for p, c in COMMANDS}[path]
    assert (cmd.help or "").strip(), f"{path} has no help text"


def _config_leaves(tree: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Leaf key paths of the effective config; an all-``None`` override map is one leaf."""
    for key, value in tree.items():
        if isinstance(value, dict) and value and any(v is not None for v in value.values()):
            yield from _config_leaves(value, (*path, key))
        else:
            yield (*path, key)


def test_config_defaults_block_is_the_real_default() -> None:
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    block = re.search(r"```jsonc\n(.*?)```", text, re.S)
    assert block is not None, "config.md lost its defaults block"
    assert json.loads(block.group(1)) == PairOfCleatsConfig().wire()


@pytest.mark.parametrize("key", [".".join(p) for p in _config_leaves(PairOfCleatsConfig().wire())])
def test_config_key_has_a_table_row(key: str) -> None:
    text = (DOCS / "config.md").read_text(encoding="utf-8")
    rows = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    leaf = key.rsplit(".", 1)[-1]
    assert re.search(r"`(?:[\w.]+\.)?" + re.escape(leaf) + "`", rows), f"{key} has no row"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=60,
    )


def _small_repo(repo: Path) -> None:
    (repo / "src").mkdir(parents=True)
    (repo / "docs").mkdir()
    (repo / "src" / "fsio.py").write_text(
        '"""File helpers."""\n\nimport os\n\n\n'
        "def atomic_write(path, data):\n"
        '    """Write data to a temp file, fsync it, then rename it over path."""\n'
        '    tmp = path + ".tmp"\n'
        '    with open(tmp, "wb") as f:\n'
        "        f.write(data)\n"
        "    os.replace(tmp, path)\n",
        encoding="utf-8",
    )
    (repo / "src" / "proc.js").write_text(
        "// Process helpers.\n"
        "/** Kill the process tree rooted at pid, children first. */\n"
        "export function killTree(pid) {\n  process.kill(-pid, 'SIGKILL');\n}\n",
        encoding="utf-8",
    )
    (repo / "docs" / "guide.md").write_text(
        "# Guide\n\n## Promotion\n\nA build is promoted only after validation passes.\n",
        encoding="utf-8",
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")


def test_demo_runs_green_on_a_small_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _small_repo(repo)
    cache = tmp_path / "cache"
    out = subprocess.run(
        [
            sys.executable,
            str(DEMO),
            "--repo",
            str(repo),
            "--cache-root",
            str(cache),
            "--embeddings",
            "stub",
            "--query",
            "atomic_write",
            "--query",
            "killTree",
            "--query",
            "when is a build promoted",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "validated " in out.stdout and ": 0 issues" in out.stdout
    lines = out.stdout.splitlines()
    assert any("src/fsio.py:6-11" in ln and "atomic_write" in ln for ln in lines), out.stdout
    assert any("src/proc.js" in ln and "killTree" in ln for ln in lines), out.stdout
    assert any("docs/guide.md" in ln and "Promotion" in ln for ln in lines), out.stdout
    assert out.stdout.rstrip().endswith("pairofcleats demo: ok")
    assert (cache / "cache-v1" / "repos").is_dir()


def test_demo_exits_with_the_failing_steps_code(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _small_repo(repo)
    (repo / ".pairofcleats.json").write_text('{"indexing": {"sqlit": false}}', encoding="utf-8")
    out = subprocess.run(
        [
            sys.executable,
            str(DEMO),
            "--repo",
            str(repo),
            "--cache-root",
            str(tmp_path / "cache"),
            "--embeddings",
            "stub",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "CONFIG_INVALID" in out.stderr and "sqlit" in out.stderr
    assert "pairofcleats demo: ok" not in out.stdout


def test_demo_fails_when_a_query_finds_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _small_repo(repo)
    out = subprocess.run(
        [
            sys.executable,
            str(DEMO),
            "--repo",
            str(repo),
            "--cache-root",
            str(tmp_path / "cache"),
            "--query",
            "zzqxvw",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "'zzqxvw' returned no hits" in out.stderr


def test_demo_rejects_a_missing_repo(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(DEMO), "--repo", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "is not a directory" in out.stderr
