"""A real subprocess SIGKILLed during group commits: acknowledged rows survive (§6, §17.15)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from spiderweb.memory.store import open_store, store_path

WRITER = textwrap.dedent(
    """
    import sys
    from concurrent.futures import wait
    from spiderweb.memory.ram import Entry
    from spiderweb.memory.snapshot import Snapshot
    from spiderweb.memory.store import NewMessage, open_store

    store = open_store(sys.argv[1])
    i = 0
    while True:
        batch = []
        for _ in range(20):
            i += 1
            batch.append((i, store.commit_session(
                "k",
                state={"session_id": "k", "agentId": "a", "next_id": i + 1},
                messages=[NewMessage(f"r{i}", "user", "m" * 200, i, i)],
                now_ms=i,
            )))
            if i % 50 == 0:
                entries = tuple(Entry(j, "user", "e" * 100) for j in range(1, 60))
                store.archive(Snapshot(0, "k", i, "kill-test", 60, entries, ()))
        for n, fut in batch:
            fut.result()
            sys.stdout.write(f"{n}\\n")
        sys.stdout.flush()
    """
)


def test_sigkill_during_group_commit(data_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 60
    while len(acked) < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acked) >= 400, "writer produced too few acknowledgements"

    conn = sqlite3.connect(store_path(data_dir))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with open_store(data_dir) as store:
        missing = [n for n in acked if store.find_message("k", f"r{n}", "user") is None]
        assert missing == []
        state = store.get_state("k")
        assert state is not None and state["next_id"] >= max(acked) + 1
        for snap in store.snapshots("k"):
            assert len(snap.entries) == 59  # never a half-written snapshot
