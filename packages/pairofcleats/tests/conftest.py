"""Shared pairofcleats fixtures: the multi-language fixture repo and a built index.

``tests/fixtures/`` is registered as the importable package ``poc_fixtures`` (a
unique name, since pytest runs with ``--import-mode=importlib`` and other
packages have their own ``fixtures``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_FIXTURES = Path(__file__).parent / "fixtures"
if "poc_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "poc_fixtures", _FIXTURES / "__init__.py", submodule_search_locations=[str(_FIXTURES)]
    )
    assert _spec is not None and _spec.loader is not None
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["poc_fixtures"] = _mod
    _spec.loader.exec_module(_mod)
