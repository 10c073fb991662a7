"""httpx (~0.4 s of imports, its CLI pulls in click/rich/pygments) loads only for HTTP providers."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from groundwork.llm import ProviderSpec, make_provider
make_provider(ProviderSpec(type="mock"))
assert "httpx" not in sys.modules, "mock provider imported httpx"
make_provider(ProviderSpec(type="ollama", model="m"))
assert "httpx" in sys.modules
"""


def test_mock_provider_does_not_import_httpx() -> None:
    cmd = [sys.executable, "-c", CHECK]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
