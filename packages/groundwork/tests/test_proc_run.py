"""run(): capture, truncation, timeout and cancel kill the tree, leftovers, bad input."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from groundwork.proc import Cancelled, CancelToken, live_children, run

HELPERS = Path(__file__).parent / "helpers"


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _pids(path: Path) -> tuple[int, int]:
    a, b = path.read_text().split()
    return int(a), int(b)


def test_run_captures_output_and_code(tmp_path: Path) -> None:
    done = run(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == b"out\n"
    assert done.stderr_text == "err\n"
    assert done.stdout_text == "out\n"
    assert not done.ok
    assert not (done.timed_out or done.cancelled or done.stdout_truncated)
    assert done.termination is None and done.signal is None
    assert done.duration_s >= 0
    assert done.argv[0] == sys.executable
    assert not live_children()


def test_run_stdin_is_devnull_and_env_cwd(tmp_path: Path) -> None:
    code = "import os, sys; print(repr(sys.stdin.read()), os.environ['GW_X'], os.getcwd())"
    done = run([sys.executable, "-c", code], cwd=tmp_path, env={"GW_X": "42", **_base_env()})
    assert done.ok
    assert done.stdout_text.split() == ["''", "42", str(tmp_path)]


def _base_env() -> dict[str, str]:
    return {"PATH": os.defpath}


def test_run_caps_capture(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 300000); sys.stderr.write('e' * 10)"
    done = run([sys.executable, "-c", code], capture_limit=1000)
    assert done.ok
    assert done.stdout == b"x" * 1000 and done.stdout_truncated
    assert done.stderr == b"e" * 10 and not done.stderr_truncated


def test_run_timeout_kills_the_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    done = run(
        [sys.executable, str(HELPERS / "tree_spawner.py"), str(pidfile)],
        timeout_s=1.0,
        grace_s=0.2,
    )
    child_pid, gc_pid = _pids(pidfile)
    assert done.timed_out and not done.cancelled and not done.ok
    assert done.termination is not None and done.termination.forced
    assert done.returncode == -15 and done.signal == "SIGTERM"
    assert gone(child_pid) and gone(gc_pid)
    assert done.stdout_text.split() == [str(child_pid), str(gc_pid)]


def test_run_cancel_kills_the_tree(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    token = CancelToken()

    def cancel_when_up() -> None:
        while not pidfile.exists():
            time.sleep(0.01)
        token.cancel("test")

    helper = threading.Thread(target=cancel_when_up)
    helper.start()
    done = run(
        [sys.executable, str(HELPERS / "tree_spawner.py"), str(pidfile), "--stubborn"],
        grace_s=0.2,
        cancel=token,
    )
    helper.join()
    assert done.cancelled and not done.timed_out
    assert done.returncode == -9
    assert done.termination is not None and done.termination.forced
    child_pid, gc_pid = _pids(pidfile)
    assert gone(child_pid) and gone(gc_pid)


def test_run_already_cancelled() -> None:
    token = CancelToken()
    token.cancel("early")
    with pytest.raises(Cancelled, match="early"):
        run([sys.executable, "-c", "pass"], cancel=token)


def test_run_kills_leftover_holding_pipes(tmp_path: Path) -> None:
    """The leader exits 0 but its grandchild keeps stdout open: it is killed."""
    pidfile = tmp_path / "pids"
    done = run(
        [sys.executable, str(HELPERS / "tree_spawner.py"), str(pidfile), "--exit"],
        grace_s=0.2,
    )
    assert done.returncode == 0 and not done.timed_out
    assert done.termination is not None and done.termination.terminated
    _, gc_pid = _pids(pidfile)
    assert gone(gc_pid)


def test_run_bad_argv() -> None:
    with pytest.raises(ValueError):
        run("echo hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run([])
    with pytest.raises(FileNotFoundError):
        run(["/nonexistent/gw-no-such-program"])
    assert not live_children()


def test_run_interrupted_by_exception_leaves_nothing(tmp_path: Path) -> None:
    """An exception while waiting (here from a SIGINT handler) still kills and reaps."""
    pidfile = tmp_path / "pids"

    class Boom(Exception):
        pass

    def boom(signum: int, frame: object) -> None:
        raise Boom

    def interrupt_when_up() -> None:
        while not pidfile.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, boom)
    helper = threading.Thread(target=interrupt_when_up)
    helper.start()
    try:
        with pytest.raises(Boom):
            run([sys.executable, str(HELPERS / "tree_spawner.py"), str(pidfile)], grace_s=0.2)
    finally:
        helper.join()
        signal.signal(signal.SIGINT, previous)
    child_pid, gc_pid = _pids(pidfile)
    assert gone(child_pid) and gone(gc_pid)
    assert not live_children()
