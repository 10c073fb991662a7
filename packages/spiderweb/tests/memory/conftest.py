"""Stores on real SQLite files in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from spiderweb.memory.store import LtmStore, open_store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def store(data_dir: Path) -> Iterator[LtmStore]:
    s = open_store(data_dir)
    yield s
    s.close()
