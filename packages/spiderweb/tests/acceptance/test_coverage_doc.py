"""COVERAGE.md stays true: every test file and node id it names exists (``::name`` continues the
file named before it in the same cell)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REF = re.compile(r"((?:\w+/)*test_\w+\.py)|::(\w+)")


def referenced() -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for line in (TESTS / "acceptance" / "COVERAGE.md").read_text().splitlines():
        for cell in line.split("|"):
            current: str | None = None
            for match in REF.finditer(cell):
                if match.group(1):
                    current = match.group(1)
                    refs.append((current, ""))
                    continue
                assert current is not None, f"'::{match.group(2)}' names no file: {cell}"
                refs.append((current, match.group(2)))
    return refs


def test_every_named_test_exists() -> None:
    refs = referenced()
    assert len(refs) > 80
    missing = []
    for rel, name in refs:
        path = TESTS / rel
        text = path.read_text() if path.exists() else ""
        if not name:
            if not path.exists():
                missing.append(rel)
            continue
        if not re.search(rf"^(?:async def|def|class) {name}\b|^{name} = ", text, re.M):
            missing.append(f"{rel}::{name}")
    assert missing == []
