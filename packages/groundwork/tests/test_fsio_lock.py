"""FileLock: records, LockHeld, stale takeover, races, heartbeat, LockLost, read_lock."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from groundwork.errors import LockHeld, LockLost
from groundwork.fsio import FileLock, read_lock, stale_reason

HELPERS = Path(__file__).parent / "helpers"
HOST = socket.gethostname()


def _write_record(path: Path, **fields: Any) -> None:
    path.write_text(json.dumps(fields))


def _record(path: Path) -> dict[str, Any]:
    rec: dict[str, Any] = json.loads(path.read_text())
    return rec


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _dead_pid() -> tuple[int, float]:
    """A pid (and its createTime) of a real process that has been killed and reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    created = psutil.Process(proc.pid).create_time()
    proc.kill()
    proc.wait()
    return proc.pid, created


def test_acquire_writes_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "index.lock"
    with FileLock(path, {"command": "index build", "buildId": "b1"}, heartbeat_s=None) as lock:
        rec = _record(path)
        me = psutil.Process()
        assert rec["pid"] == os.getpid()
        assert rec["host"] == HOST
        assert rec["createTime"] == me.create_time()
        assert rec["token"] == lock.token
        assert rec["command"] == "index build"
        assert rec["buildId"] == "b1"
        assert rec["startedAt"] == rec["heartbeatAt"]
        assert rec["startedAt"].endswith("Z")
        assert lock.held
        assert lock.took_over_from is None
        assert "held=True" in repr(lock)
    assert not path.exists()
    assert not lock.held


def test_default_command_is_our_cmdline(tmp_path: Path) -> None:
    with FileLock(tmp_path / "l", heartbeat_s=None):
        assert _record(tmp_path / "l")["command"] == " ".join(psutil.Process().cmdline())


def test_reserved_metadata_and_bad_heartbeat(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pid, token"):
        FileLock(tmp_path / "l", {"token": "x", "pid": 1})
    with pytest.raises(ValueError):
        FileLock(tmp_path / "l", heartbeat_s=0)


def test_held_lock_raises_naming_pid_and_host(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with FileLock(path, heartbeat_s=None):
        other = FileLock(path, heartbeat_s=None)
        with pytest.raises(LockHeld) as info:
            other.acquire()
        assert info.value.holder["pid"] == os.getpid()
        assert str(os.getpid()) in str(info.value)
        assert HOST in str(info.value)
        assert not other.held


def test_acquire_is_idempotent_and_release_twice(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "l", heartbeat_s=None)
    assert lock.acquire() is lock
    token = lock.token
    assert lock.acquire() is lock
    assert lock.token == token
    lock.release()
    lock.release()


def test_wait_s_gets_lock_after_release(tmp_path: Path) -> None:
    path = tmp_path / "l"
    first = FileLock(path, heartbeat_s=None).acquire()
    timer = threading.Timer(0.2, first.release)
    timer.start()
    try:
        second = FileLock(path, heartbeat_s=None).acquire(wait_s=10)
        assert second.held
        assert second.took_over_from is None
        second.release()
    finally:
        timer.join()


def test_wait_s_times_out(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with FileLock(path, heartbeat_s=None), pytest.raises(LockHeld):
        FileLock(path, heartbeat_s=None).acquire(wait_s=0.15)


def test_takeover_dead_pid(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "l"
    pid, created = _dead_pid()
    now = _iso(time.time())
    _write_record(path, pid=pid, host=HOST, createTime=created, token="old", heartbeatAt=now)
    with caplog.at_level(logging.WARNING, logger="groundwork.fsio.lock"):
        lock = FileLock(path, heartbeat_s=None).acquire()
    assert f"(dead) from pid {pid} on {HOST}" in caplog.text
    try:
        assert lock.took_over_reason == "dead"
        assert lock.took_over_from is not None
        assert lock.took_over_from["pid"] == pid
        assert _record(path)["token"] == lock.token
    finally:
        lock.release()


def test_takeover_reused_pid(tmp_path: Path) -> None:
    """A live pid whose createTime differs is someone else: stale at once."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = psutil.Process(proc.pid).create_time()
        path = tmp_path / "l"
        now = _iso(time.time())
        _write_record(path, pid=proc.pid, host=HOST, createTime=real - 1000, heartbeatAt=now)
        with FileLock(path, heartbeat_s=None) as lock:
            assert lock.took_over_reason == "reused"
        # the same live pid with the right createTime is a live holder
        _write_record(path, pid=proc.pid, host=HOST, createTime=real, heartbeatAt=now)
        with pytest.raises(LockHeld):
            FileLock(path, heartbeat_s=None).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_takeover_old_heartbeat_other_host(tmp_path: Path) -> None:
    path = tmp_path / "l"
    fresh = _iso(time.time())
    old = _iso(time.time() - 3600)
    _write_record(path, pid=1, host="elsewhere.invalid", createTime=1.0, heartbeatAt=fresh)
    with pytest.raises(LockHeld) as info:
        FileLock(path, heartbeat_s=None).acquire()
    assert "elsewhere.invalid" in str(info.value)
    _write_record(path, pid=1, host="elsewhere.invalid", createTime=1.0, heartbeatAt=old)
    with FileLock(path, heartbeat_s=None, stale_after_s=1800) as lock:
        assert lock.took_over_reason == "heartbeat"


def test_takeover_hung_live_holder_on_this_host(tmp_path: Path) -> None:
    """A live pid on this host with a heartbeat older than stale_after_s is stale."""
    path = tmp_path / "l"
    me = psutil.Process()
    old = _iso(time.time() - 120)
    _write_record(path, pid=me.pid, host=HOST, createTime=me.create_time(), heartbeatAt=old)
    with FileLock(path, heartbeat_s=None, stale_after_s=60) as lock:
        assert lock.took_over_reason == "heartbeat"


def test_unreadable_record_uses_mtime(tmp_path: Path) -> None:
    path = tmp_path / "l"
    path.write_bytes(b"{half a rec")
    with pytest.raises(LockHeld) as info:
        FileLock(path, heartbeat_s=None).acquire()
    assert info.value.holder == {}
    old = time.time() - 7200
    os.utime(path, (old, old))
    with FileLock(path, heartbeat_s=None) as lock:
        assert lock.took_over_reason == "heartbeat"
        assert lock.took_over_from is None


def test_stale_reason_pure_cases() -> None:
    now = 10_000.0
    assert stale_reason(None, now - 10, 60, now=now) is None
    assert stale_reason(None, now - 100, 60, now=now) == "heartbeat"
    rec = {"host": "h2", "pid": 1, "heartbeatAt": "not a time"}
    assert stale_reason(rec, now - 100, 60, now=now, host="h1") == "heartbeat"
    rec = {"host": "h1", "pid": True, "heartbeatAt": _iso(now)}
    assert stale_reason(rec, 0, 60, now=now, host="h1") is None
    rec = {"host": "h1", "pid": -5, "heartbeatAt": _iso(now)}
    assert stale_reason(rec, 0, 60, now=now, host="h1") == "dead"


def test_two_processes_race_exactly_one_wins(tmp_path: Path) -> None:
    lock, go, done = tmp_path / "race.lock", tmp_path / "go", tmp_path / "done"
    racers = [
        subprocess.Popen(
            [sys.executable, str(HELPERS / "lock_racer.py"), str(lock), str(go), str(done)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for proc in racers:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        go.touch()
        results = []
        for proc in racers:
            assert proc.stdout is not None
            results.append(proc.stdout.readline().split())
        winners = [r for r in results if r == ["won"]]
        losers = [r for r in results if r and r[0] == "held"]
        assert len(winners) == 1, results
        assert len(losers) == 2
        winner_pid = racers[results.index(["won"])].pid
        assert all(r[1] == str(winner_pid) and r[2] == HOST for r in losers)
    finally:
        done.touch()
        for proc in racers:
            proc.wait(timeout=30)
    assert not lock.exists()


def test_racers_on_a_stale_lock_one_takes_over(tmp_path: Path) -> None:
    lock, go, done = tmp_path / "race.lock", tmp_path / "go", tmp_path / "done"
    pid, created = _dead_pid()
    _write_record(lock, pid=pid, host=HOST, createTime=created, heartbeatAt=_iso(time.time()))
    racers = [
        subprocess.Popen(
            [sys.executable, str(HELPERS / "lock_racer.py"), str(lock), str(go), str(done)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in racers:
            assert proc.stdout is not None
            proc.stdout.readline()
        go.touch()
        outs = []
        for proc in racers:
            assert proc.stdout is not None
            outs.append(proc.stdout.readline().split())
        assert sorted(o[0] for o in outs) == ["held", "won"]
    finally:
        done.touch()
        for proc in racers:
            proc.wait(timeout=30)


def test_heartbeat_thread_refreshes(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with FileLock(path, heartbeat_s=0.05) as lock:
        first = _record(path)["heartbeatAt"]
        deadline = time.monotonic() + 10
        while _record(path)["heartbeatAt"] == first and time.monotonic() < deadline:
            time.sleep(0.02)
        rec = _record(path)
        assert rec["heartbeatAt"] > first
        assert rec["token"] == lock.token
        assert rec["startedAt"] == first


def test_refresh_raises_lock_lost_when_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "l"
    lock = FileLock(path, heartbeat_s=None).acquire()
    lock.refresh()
    _write_record(path, pid=4242, host="thief.invalid", token="other", heartbeatAt="x")
    with pytest.raises(LockLost, match=r"thief\.invalid"):
        lock.refresh()
    assert not lock.held
    with pytest.raises(LockLost):  # stays lost
        lock.refresh()
    lock.release()  # must not delete the thief's record
    assert _record(path)["token"] == "other"


def test_refresh_raises_when_file_removed_and_heartbeat_reports(tmp_path: Path) -> None:
    path = tmp_path / "l"
    lost: list[LockLost] = []
    got = threading.Event()

    def on_lost(exc: LockLost) -> None:
        lost.append(exc)
        got.set()

    lock = FileLock(path, heartbeat_s=0.03, on_lost=on_lost).acquire()
    path.unlink()
    assert got.wait(10)
    assert "removed" in str(lost[0])
    assert lock.lost is lost[0]
    with pytest.raises(LockLost):
        lock.refresh()
    lock.release()
    with pytest.raises(LockLost, match="never acquired"):
        FileLock(path).refresh()


def test_heartbeat_survives_transient_oserror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = FileLock(tmp_path / "l", heartbeat_s=0.02)
    calls = {"n": 0}
    real_refresh = lock.refresh

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk hiccup")
        real_refresh()

    monkeypatch.setattr(lock, "refresh", flaky)
    with lock:
        deadline = time.monotonic() + 10
        while calls["n"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert calls["n"] >= 3
        assert lock.held


def test_read_lock(tmp_path: Path) -> None:
    path = tmp_path / "l"
    status = read_lock(path)
    assert not status.exists and not status.held and status.holder is None
    with FileLock(path, heartbeat_s=None):
        status = read_lock(path)
        assert status.held
        assert status.holder is not None and status.holder["pid"] == os.getpid()
        assert not (tmp_path / "l.lockcheck").exists()
    pid, created = _dead_pid()
    _write_record(path, pid=pid, host=HOST, createTime=created, heartbeatAt=_iso(time.time()))
    status = read_lock(path)
    assert status.exists and not status.held and status.stale == "dead"
