"""The validation gate run on several processes reports what the sequential one does.

The fixture is far below ``_POOL_MIN_COST``, so these tests lower it (and the start-up
cost) to zero: every ``threads > 1`` call below really starts a pool and splits the work
(``test_the_pool_is_used`` checks that).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from groundwork import jsonio
from groundwork.hashing import hash_bytes
from pairofcleats.artifacts import read_current
from pairofcleats.build import validate
from pairofcleats.build.api import validate_index
from pairofcleats.paths import RepoLayout


@pytest.fixture
def build(built_fixture: Any, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A private copy of the built fixture's promoted build dir, and its build_state."""
    layout = RepoLayout.for_repo(built_fixture.repo.resolve(), built_fixture.cache_root)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    root = tmp_path / "build"
    shutil.copytree(layout.repo_dir / ptr.buildRoot, root)
    yield root, jsonio.read_json(root / "build_state.json")


@pytest.fixture(autouse=True)
def _always_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "_POOL_MIN_COST", 0.0)
    monkeypatch.setattr(validate, "_START_COST", 0.0)


def _report(root: Path, state: dict[str, Any], threads: int) -> dict[str, Any]:
    rep = validate.validate_build(
        root, state["modes"], state["compatibilityKey"], True, threads=threads
    )
    rep.pop("checkedAt")
    return rep


def _same_everywhere(root: Path, state: dict[str, Any]) -> dict[str, Any]:
    """The sequential report, after checking 2 and 3 threads give it too."""
    want = _report(root, state, 1)
    assert _report(root, state, 2) == want
    assert _report(root, state, 3) == want
    return want


def _rewrite(idir: Path, name: str, data: bytes) -> None:
    """Replace piece ``name`` and re-record its bytes and checksum (past the checksum)."""
    mpath = idir / "pieces" / "manifest.json"
    man = jsonio.read_json(mpath)
    entry = next(p for p in man["pieces"] if p["name"] == name)
    (idir / entry["path"]).write_bytes(data)
    entry["bytes"] = len(data)
    entry["checksum"] = "xxh64:" + hash_bytes(data, "xxh64").hex
    mpath.write_bytes(jsonio.dumps(man))


def _edit_json(idir: Path, name: str, edit: Callable[[Any], Any]) -> None:
    value = jsonio.loads((idir / f"{name}.json").read_bytes())
    _rewrite(idir, name, jsonio.dumps(edit(value)))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _drop_manifest_entry(idir: Path, name: str) -> None:
    mpath = idir / "pieces" / "manifest.json"
    man = jsonio.read_json(mpath)
    man["pieces"] = [p for p in man["pieces"] if p["name"] != name]
    mpath.write_bytes(jsonio.dumps(man))


def _reverse_a_posting(tp: dict[str, Any]) -> dict[str, Any]:
    tid = next(i for i, p in enumerate(tp["postings"]) if len(p) >= 2)
    tp["postings"][tid] = list(reversed(tp["postings"][tid]))
    return tp


def _short_signature(mh: dict[str, Any]) -> dict[str, Any]:
    mh["signatures"][1] = mh["signatures"][1][:100]
    return mh


def _drop_last_chunk(chunks: list[Any]) -> list[Any]:
    return chunks[:-1]  # the manifest count stays: the guessed chunk count is now wrong


def _db_drop_row(root: Path, mode: str) -> None:
    """Delete a chunk row from ``mode``'s db and re-record the db in the sqlite manifest."""
    sdir = root / "index-sqlite"
    db = sdir / f"index-{mode}.db"
    con = sqlite3.connect(db)
    con.execute("DELETE FROM chunks WHERE rowid = (SELECT MAX(rowid) FROM chunks)")
    con.commit()
    con.close()
    mpath = sdir / "pieces" / "manifest.json"
    man = jsonio.read_json(mpath)
    entry = next(p for p in man["pieces"] if p["name"] == f"index-{mode}.db")
    data = db.read_bytes()
    entry["bytes"] = len(data)
    entry["checksum"] = "xxh64:" + hash_bytes(data, "xxh64").hex
    mpath.write_bytes(jsonio.dumps(man))


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "code token_postings byte": lambda r: _flip(r / "index-code" / "token_postings.json"),
    "code postings order": lambda r: _edit_json(
        r / "index-code", "token_postings", _reverse_a_posting
    ),
    "extracted-prose minhash": lambda r: _edit_json(
        r / "index-extracted-prose", "minhash_signatures", _short_signature
    ),
    "code chunk dropped": lambda r: _edit_json(r / "index-code", "chunk_meta", _drop_last_chunk),
    "prose no chunk_meta": lambda r: _drop_manifest_entry(r / "index-prose", "chunk_meta"),
    "prose manifest": lambda r: (r / "index-prose" / "pieces" / "manifest.json").write_bytes(b"{"),
    "code dense bin gone": lambda r: _drop_manifest_entry(
        r / "index-code", "dense_vectors_uint8_bin"
    ),
    "code db byte": lambda r: _flip(r / "index-sqlite" / "index-code.db"),
    "extracted-prose db row": lambda r: _db_drop_row(r, "extracted-prose"),
    "sqlite manifest": lambda r: (r / "index-sqlite" / "pieces" / "manifest.json").unlink(),
}


def test_the_pool_is_used(build: tuple[Path, dict[str, Any]]) -> None:
    root, state = build
    tasks = validate._plan(root, state["modes"], state["compatibilityKey"], True, {})
    assert validate._lanes(tasks, 3) == 3
    assert validate._lanes(tasks, 1000) < 1000  # no more lanes than the tasks can fill
    lanes = validate._assign(tasks, 2)
    assert lanes is not None
    here, pool = lanes
    assert pool and here
    assert sorted(t.key for t in here + pool) == sorted(t.key for t in tasks)


def test_valid_build_reports_the_same(build: tuple[Path, dict[str, Any]]) -> None:
    rep = _same_everywhere(*build)
    assert rep["ok"] and rep["issueCount"] == 0


@pytest.mark.parametrize("what", sorted(CORRUPTIONS))
def test_corrupt_build_reports_the_same(build: tuple[Path, dict[str, Any]], what: str) -> None:
    root, state = build
    CORRUPTIONS[what](root)
    rep = _same_everywhere(root, state)
    assert not rep["ok"], what


def test_corruptions_in_every_mode_at_once_report_the_same(
    build: tuple[Path, dict[str, Any]],
) -> None:
    root, state = build
    for what in (
        "code postings order",
        "code chunk dropped",
        "extracted-prose minhash",
        "prose no chunk_meta",
        "code db byte",
        "extracted-prose db row",
    ):
        CORRUPTIONS[what](root)
    rep = _same_everywhere(root, state)
    codes = [(i["mode"], i["code"]) for i in rep["issues"]]
    assert ("code", "POSTINGS_ORDER") in codes
    assert ("code", "PIECE_COUNT") in codes
    assert ("extracted-prose", "MINHASH_INVALID") in codes
    assert ("prose", "PIECE_MISSING") in codes
    assert ("code", "PIECE_CHECKSUM") in codes
    assert ("extracted-prose", "SQLITE_COUNT") in codes


def test_trusted_pieces_report_the_same(build: tuple[Path, dict[str, Any]]) -> None:
    from pairofcleats.artifacts.reader import IndexReader
    from pairofcleats.build.reuse import Trusted

    root, state = build
    trusted = {}
    sreader = IndexReader(root / "index-sqlite")
    for mode in state["modes"]:
        reader = IndexReader(root / f"index-{mode}")
        trusted[mode] = Trusted(
            chunks=reader.entry("chunk_meta").count,
            pieces={e.name: e.checksum for e in reader.manifest.pieces},
            dbs={f"index-{mode}.db": sreader.entry(f"index-{mode}.db").checksum},
        )
    CORRUPTIONS["code chunk dropped"](root)  # its trusted count no longer holds
    args = (root, state["modes"], state["compatibilityKey"], True, trusted)
    reps = [validate.validate_build(*args, threads=t) for t in (1, 2, 3)]
    for rep in reps:
        rep.pop("checkedAt")
    assert reps[1] == reps[0] and reps[2] == reps[0]
    assert not reps[0]["ok"]


def _pool_workers() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out


def _wait_no_workers() -> None:
    deadline = time.monotonic() + 10
    while _pool_workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pool_workers() == []


def _everything_to(lane: str) -> Callable[[list[Any], int], Any]:
    """An ``_assign`` giving the pool every task, or this process all but the last."""

    def assign(tasks: list[Any], threads: int) -> Any:
        return ([], list(tasks)) if lane == "pool" else (tasks[:-1], tasks[-1:])

    return assign


@pytest.mark.parametrize("lane", ["pool", "here", "split"])
@pytest.mark.parametrize(
    "piece,value",
    [
        ("chunk_meta", [1, 2, 3]),  # ints have no .get: the head raises AttributeError
        ("token_postings", None),  # docLengths an int: len() raises TypeError
    ],
)
def test_a_task_that_raises_raises_as_the_sequential_path_does(
    build: tuple[Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    lane: str,
    piece: str,
    value: Any,
) -> None:
    root, state = build
    idir = root / "index-code"
    if value is None:
        tp = jsonio.loads((idir / "token_postings.json").read_bytes())
        tp["docLengths"] = 5
        value = tp
    _rewrite(idir, piece, jsonio.dumps(value))
    with pytest.raises(Exception) as seq:
        _report(root, state, 1)
    if lane != "split":
        monkeypatch.setattr(validate, "_assign", _everything_to(lane))
    start = time.monotonic()
    with pytest.raises(Exception) as par:
        _report(root, state, 2)
    assert time.monotonic() - start < 30
    assert type(par.value) is type(seq.value)
    assert str(par.value) == str(seq.value)
    _wait_no_workers()


def test_pool_is_shut_down_after_validation(build: tuple[Path, dict[str, Any]]) -> None:
    _report(*build, 3)
    _wait_no_workers()


def test_an_interrupt_during_the_merge_kills_the_pool(
    build: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, state = build
    started = []

    def slow(*args: Any) -> Any:
        started.append(len(_pool_workers()))
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "_merge", slow)
    with pytest.raises(KeyboardInterrupt):
        _report(root, state, 2)
    assert started
    _wait_no_workers()


def test_a_dead_worker_falls_back_to_this_process(
    build: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, state = build
    want = _report(root, state, 1)
    real_init = validate._Pool.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        for proc in list(self._executor._processes.values()):
            proc.kill()  # the worker dies before any result comes back

    monkeypatch.setattr(validate._Pool, "__init__", init)
    monkeypatch.setattr(validate, "_assign", _everything_to("pool"))
    assert _report(root, state, 2) == want
    _wait_no_workers()


def test_validate_index_takes_threads(built_fixture: Any) -> None:
    env = built_fixture.env
    one = validate_index(built_fixture.repo, env=env, threads=1)
    assert one["ok"]
    assert validate_index(built_fixture.repo, env=env, threads=2) == one


_PARENT = """
import sys, time
from pairofcleats.build import validate

def main():
    task = validate._Task(("sleep",), time.sleep, (120,), 1.0, 0.0)
    pool = validate._Pool([], [task], workers=1)
    pids = list(pool._executor._processes)
    print(pids[0], flush=True)
    time.sleep(120)

if __name__ == "__main__":
    main()
"""


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker: psutil.Process | None = None
    try:
        assert proc.stdout is not None
        worker = psutil.Process(int(proc.stdout.readline()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        worker.wait(timeout=10)  # psutil.TimeoutExpired if the orphan lingers
    finally:
        if proc.poll() is None:
            proc.kill()
        if worker is not None and worker.is_running():
            worker.kill()
