"""Every system registers its console script with a real --help and --version."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMS = ["orthofold", "meld", "spiderweb", "pairofcleats"]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("name", SYSTEMS)
def test_version_and_help(name: str) -> None:
    exe = shutil.which(name, path=str(BIN))
    assert exe, f"console script {name} is not installed in the venv"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == f"{name} 0.1.0"
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "Usage:" in helped.stdout
    bad = subprocess.run([exe, "--no-such-flag"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
