"""Baselines measured in the same run as the figures they divide (§13).

- B1: ``rg --files`` (honours ``.gitignore``) plus reading every listed file.
- B2: a plain SQLite FTS5 build with one row per file (path, text), one transaction.
- ``rg -n -w <term>`` latency per term, and ``python -c pass`` (interpreter start-up).
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pocbench.procs import check, run_measured


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One timed pass over a corpus."""

    files: int
    bytes: int
    seconds: float


def rg_files(rg: Path, root: Path) -> list[Path]:
    """``rg --files`` under ``root``, sorted."""
    res = check(run_measured([str(rg), "--files", "--no-messages", str(root)]))
    return sorted(Path(line) for line in res.stdout.splitlines() if line)


def b1_list_and_read(rg: Path, root: Path) -> ScanResult:
    """B1: list with ``rg --files`` and read every file once."""
    started = time.perf_counter()
    files = rg_files(rg, root)
    total = 0
    for path in files:
        total += len(path.read_bytes())
    return ScanResult(len(files), total, time.perf_counter() - started)


def b2_fts5_build(rg: Path, root: Path, db_path: Path) -> ScanResult:
    """B2: list, read and insert one FTS5 row per file (``unicode61``), then commit."""
    started = time.perf_counter()
    files = rg_files(rg, root)
    conn = sqlite3.connect(db_path)
    total = 0
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("CREATE VIRTUAL TABLE docs USING fts5(path, body, tokenize='unicode61')")
        with conn:
            for path in files:
                raw = path.read_bytes()
                total += len(raw)
                conn.execute(
                    "INSERT INTO docs(path, body) VALUES (?, ?)",
                    (str(path.relative_to(root)), raw.decode("utf-8", "replace")),
                )
    finally:
        conn.close()
    return ScanResult(len(files), total, time.perf_counter() - started)


def rg_term_seconds(rg: Path, root: Path, terms: list[str]) -> list[float]:
    """Wall time of ``rg -n -w <term> <root>`` per term (exit 1 = no match is fine)."""
    times: list[float] = []
    for term in terms:
        res = run_measured([str(rg), "-n", "-w", "--no-messages", "--", term, str(root)])
        if res.returncode not in (0, 1):
            raise RuntimeError(f"rg failed on {term!r}: {res.stderr.strip()[:200]}")
        times.append(res.wall_s)
    return times


def python_pass_seconds(runs: int) -> list[float]:
    """Wall time of ``python -c pass`` with this interpreter."""
    return [check(run_measured([sys.executable, "-c", "pass"])).wall_s for _ in range(runs)]
