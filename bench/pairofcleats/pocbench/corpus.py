"""The §13 corpora, materialised in a temp dir so nothing is ever written into ``.venv``.

- **small**: the multi-language fixture repo of the pairofcleats tests (a git repo).
- **medium**: the workspace ``.venv`` site-packages Python files plus ``packages/``, copied
  as plain files (no git: discovery walks the tree). ``quick`` takes a CI-sized slice.
"""

from __future__ import annotations

import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: Directory names never copied from ``packages/`` (caches, not sources).
_SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
#: Where ``make_medium(extra=...)`` puts the fixture repo inside the medium corpus.
FIXTURE_DIR = "fixture"
#: Quick mode: this many site-packages files (sorted by path, every k-th one).
QUICK_SITE_FILES = 60


@dataclass(frozen=True, slots=True)
class Corpus:
    """A corpus on disk: its root, file count and total line count (text files)."""

    name: str
    root: Path
    files: int
    lines: int


def _load_fixture_module(workspace: Path) -> ModuleType:
    path = workspace / "packages" / "pairofcleats" / "tests" / "fixtures" / "repo.py"
    spec = importlib.util.spec_from_file_location("pocbench_fixture_repo", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the fixture builder {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture_files(workspace: Path) -> dict[str, str]:
    """The fixture repo's files (path → text), as the tests define them."""
    files: dict[str, str] = _load_fixture_module(workspace).FILES
    return dict(files)


def _count(root: Path) -> tuple[int, int]:
    files = lines = 0
    for path in root.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files += 1
            with path.open("rb") as fh:
                lines += sum(1 for _ in fh)
    return files, lines


def make_small(workspace: Path, dest: Path) -> Corpus:
    """The fixture repo (committed with git, as the tests build it)."""
    _load_fixture_module(workspace).make_fixture_repo(dest)
    files, lines = _count(dest)
    return Corpus("small", dest, files, lines)


def site_packages(workspace: Path) -> Path:
    """The workspace venv's purelib directory."""
    venv = workspace / ".venv"
    rel = Path(sysconfig.get_path("purelib")).relative_to(sysconfig.get_path("data"))
    candidate = venv / rel
    if candidate.is_dir():
        return candidate
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages under {venv}")
    return found[0]


def _site_python_files(site: Path) -> list[Path]:
    return sorted(
        p
        for p in site.rglob("*.py")
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    )


def make_medium(workspace: Path, dest: Path, *, quick: bool, extra: Path | None = None) -> Corpus:
    """Copy site-packages ``*.py`` and ``packages/`` under ``dest`` (``extra`` is copied to
    ``dest/fixture`` when given, as plain files). Quick mode: every k-th site file up to
    ``QUICK_SITE_FILES`` and only ``packages/groundwork``."""
    site_files = _site_python_files(site_packages(workspace))
    if quick and len(site_files) > QUICK_SITE_FILES:
        step = len(site_files) // QUICK_SITE_FILES
        site_files = site_files[::step][:QUICK_SITE_FILES]
    site = site_packages(workspace)
    for src in site_files:
        target = dest / "site-packages" / src.relative_to(site)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    pkgs = workspace / "packages"
    source = pkgs / "groundwork" if quick else pkgs
    shutil.copytree(
        source,
        dest / "packages" / source.relative_to(pkgs),
        ignore=shutil.ignore_patterns(*_SKIP_DIRS),
        symlinks=True,
    )
    if extra is not None:
        shutil.copytree(extra, dest / FIXTURE_DIR, ignore=shutil.ignore_patterns(".git"))
    files, lines = _count(dest)
    return Corpus("medium", dest, files, lines)
