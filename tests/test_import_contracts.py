"""The dependency rules of ARCHITECTURE.md hold, and the contracts really bite.

Each case builds a throw-away tree of the five top-level packages, copies the
repository's own `.importlinter`, and runs the real `lint-imports` on it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ["groundwork", "orthofold", "meld", "spiderweb", "pairofcleats"]


def _tree(tmp_path: Path, imports: dict[str, str]) -> Path:
    """Lay out minimal packages; ``imports`` maps 'pkg.module' to its source."""
    for pkg in PACKAGES:
        base = tmp_path / pkg
        base.mkdir()
        (base / "__init__.py").write_text("")
        (base / "api.py").write_text("")
        (base / "search.py").write_text("")
    for dotted, source in imports.items():
        path = tmp_path.joinpath(*dotted.split(".")).with_suffix(".py")
        path.write_text(source)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_repository_keeps_its_contracts() -> None:
    out = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" in out.stdout and "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("imports", "ok"),
    [
        ({"groundwork.util": "import json\n"}, True),
        ({"groundwork.util": "import spiderweb.api\n"}, False),
        ({"groundwork.util": "from pairofcleats import search\n"}, False),
        ({"spiderweb.session": "import pairofcleats.api\n"}, False),
        ({"meld.frames": "from orthofold.api import x\n"}, False),
        ({"spiderweb.integrations": "import pairofcleats.search\n"}, False),
        ({"spiderweb.integrations": "from pairofcleats import api\n"}, True),
        ({"meld.integrations": "import pairofcleats.api\n"}, True),
        ({"spiderweb.session": "import groundwork.util\n", "groundwork.util": ""}, True),
    ],
    ids=[
        "groundwork-stdlib-ok",
        "groundwork-imports-system",
        "groundwork-from-import-system",
        "system-imports-system",
        "meld-imports-orthofold",
        "integrations-past-api",
        "integrations-via-api-ok",
        "meld-integrations-ok",
        "system-imports-groundwork-ok",
    ],
)
def test_contracts_on_fixture(tmp_path: Path, imports: dict[str, str], ok: bool) -> None:
    result = _lint(_tree(tmp_path, imports))
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    if not ok:
        assert "BROKEN" in result.stdout
