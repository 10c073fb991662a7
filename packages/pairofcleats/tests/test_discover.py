"""Discovery and per-file skip rules (§3; §16 item 7)."""

from __future__ import annotations

import os
from pathlib import Path

from pairofcleats.build.api import build_index
from pairofcleats.config import IndexingConfig, PairOfCleatsConfig
from pairofcleats.discover import Candidate, Skipped, decode, discover, read_source
from pairofcleats.paths import RepoLayout
from poc_fixtures.repo import git


def _cfg(**indexing: object) -> IndexingConfig:
    return PairOfCleatsConfig.model_validate({"indexing": indexing}).indexing


def _rels(root: Path, cfg: IndexingConfig, env: dict[str, str]) -> set[str]:
    return {
        c.rel for c in discover(root, cfg, env, ["code", "prose", "extracted-prose"]).candidates
    }


def test_gitignore_pairofcleatsignore_patterns_and_negation(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    (fixture_repo / "ignored").mkdir()
    (fixture_repo / "ignored" / "x.py").write_text("def hidden(): pass\n")
    (fixture_repo / "debug.log").write_text("log\n")
    (fixture_repo / "gen").mkdir()
    (fixture_repo / "gen" / "made.py").write_text("def made(): pass\n")
    (fixture_repo / "gen" / "keep.py").write_text("def keep(): pass\n")
    (fixture_repo / ".pairofcleatsignore").write_text("gen/\n")
    (fixture_repo / "node_modules").mkdir()
    (fixture_repo / "node_modules" / "dep.js").write_text("function dep() {}\n")
    (fixture_repo / "tools").mkdir()
    (fixture_repo / "tools" / "tool.py").write_text("def tool(): pass\n")
    cfg = _cfg(ignore={"patterns": ["src/*.rb", "!gen/keep.py"]})
    rels = _rels(fixture_repo, cfg, build_env)
    assert "ignored/x.py" not in rels  # .gitignore
    assert "gen/made.py" not in rels  # .pairofcleatsignore
    assert "gen/keep.py" in rels  # config "!" re-includes (last match wins)
    assert "src/tools.rb" not in rels  # config pattern
    assert "node_modules/dep.js" not in rels  # defaults
    assert "tools/tool.py" in rels  # unlike upstream, tools/ is kept
    assert "src/greet.py" in rels


def test_output_dir_defaults_keep_python_packages_named_like_them(
    tmp_path: Path, build_env: dict[str, str]
) -> None:
    root = tmp_path / "pkgs"
    files = {
        "src/build/__init__.py": "",
        "src/build/env.py": "def make_env(): pass\n",
        "src/build/node_modules/dep.js": "function dep() {}\n",
        "src/build/sub/deep.py": "def deep(): pass\n",
        "build/lib/pkg/__init__.py": "",
        "build/lib/pkg/copy.py": "def copied(): pass\n",
        "dist/bundle.js": "function bundled() {}\n",
        "target/__init__.py": "",
        "target/shoot.py": "def shoot(): pass\n",
        "tools/coverage/report.py": "def report(): pass\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    rels = _rels(root, _cfg(scm={"provider": "none"}), build_env)
    assert {"src/build/env.py", "src/build/sub/deep.py", "target/shoot.py"} <= rels
    assert "src/build/node_modules/dep.js" not in rels  # other defaults still apply
    assert "build/lib/pkg/copy.py" not in rels  # setuptools output: build/ is no package
    assert "dist/bundle.js" not in rels
    assert "tools/coverage/report.py" not in rels
    (root / ".pairofcleatsignore").write_text("src/build/\n")
    assert "src/build/env.py" not in _rels(root, _cfg(scm={"provider": "none"}), build_env)
    no_defaults = _rels(root, _cfg(scm={"provider": "none"}, ignore={"defaults": False}), build_env)
    assert "dist/bundle.js" in no_defaults


def test_walk_without_git_honours_nested_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".gitignore").write_text("*.tmp.py\n")
    (root / "a" / ".gitignore").write_text("skip.py\n/only_here.py\n")
    (root / "a" / "skip.py").write_text("x = 1\n")
    (root / "a" / "b" / "skip.py").write_text("x = 1\n")
    (root / "a" / "only_here.py").write_text("x = 1\n")
    (root / "a" / "b" / "only_here.py").write_text("x = 1\n")
    (root / "a" / "keep.py").write_text("x = 1\n")
    (root / "z.tmp.py").write_text("x = 1\n")
    disc = discover(root, _cfg(scm={"provider": "none"}), {"PATH": os.environ["PATH"]}, ["code"])
    assert not disc.used_git
    assert {c.rel for c in disc.candidates} == {"a/keep.py", "a/b/only_here.py"}


def test_binary_oversize_symlink_are_skipped_and_counted(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    (fixture_repo / "src" / "blob.py").write_bytes(b"x = 1\n\0\0binary")
    (fixture_repo / "src" / "huge.py").write_text("x = 1\n" * 5000)
    (fixture_repo / "src" / "link.py").symlink_to(fixture_repo / "src" / "greet.py")
    git(fixture_repo, "add", "-A")
    git(fixture_repo, "commit", "-q", "-m", "skips")
    (fixture_repo / ".pairofcleats.json").write_text('{"indexing": {"maxFileBytes": 20000}}')
    res = build_index(fixture_repo, env=build_env, stage=2, sqlite=False)
    skipped = res["discovery"]["skipped"]
    assert skipped["binary"] == 1
    assert skipped["oversize"] == 1
    assert skipped["symlink"] == 1
    layout = RepoLayout.for_repo(
        fixture_repo.resolve(), Path(build_env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1"
    )
    from groundwork import jsonio

    state = jsonio.read_json(layout.repo_dir / res["buildRoot"] / "build_state.json")
    assert state["discovery"]["skipped"]["binary"] == 1
    assert state["discovery"]["indexed"] == res["discovery"]["indexed"]


def test_caps_most_specific_wins(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n" * 10)
    cfg = _cfg(maxFileLines=5, fileCaps={"byMode": {"code": {"maxLines": 100}}})
    assert not isinstance(read_source(tmp_path, Candidate("a.py", "python", "code"), cfg), Skipped)
    cfg2 = _cfg(fileCaps={"byExt": {".py": {"maxLines": 3}}})
    res = read_source(tmp_path, Candidate("a.py", "python", "code"), cfg2)
    assert isinstance(res, Skipped) and res.reason == "oversize"


def test_decode_bom_and_cp1252_fallback() -> None:
    assert decode(b"\xef\xbb\xbfhi") == ("hi", "utf-8", False)
    text, enc, fallback = decode(b"caf\xe9")
    assert (text, enc, fallback) == ("café", "cp1252", True)


def test_unreadable_file_is_counted(tmp_path: Path) -> None:
    res = read_source(tmp_path, Candidate("missing.py", "python", "code"), _cfg())
    assert isinstance(res, Skipped) and res.reason == "unreadable"
