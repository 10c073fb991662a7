"""spawn()/Child: process group, streaming lines, early stop, tails, cancel, registry."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from groundwork.proc import CancelToken, OutputLine, kill_leftovers, live_children, spawn

HELPERS = Path(__file__).parent / "helpers"
PY = sys.executable


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_spawn_own_group_devnull_stdin() -> None:
    code = "import os, sys; print(os.getpgrp(), repr(sys.stdin.read()))"
    with spawn([PY, "-c", code]) as child:
        assert child.pid in [c.pid for c in live_children()]
        pgid, stdin = next(child.lines()).split()
        assert int(pgid) == child.pid != os.getpgrp()
        assert stdin == "''"
        assert child.wait() == 0
        assert child.returncode == 0
    assert child not in live_children()
    assert "returncode=0" in repr(child)


def test_lines_stream_and_stop_early() -> None:
    code = "import time\nfor i in range(1000):\n    print(i, flush=True)\n    time.sleep(0.01)\n"
    child = spawn([PY, "-c", code], grace_s=0.5)
    got = []
    for line in child.lines():
        got.append(line)
        if len(got) == 3:
            break
    assert got == ["0", "1", "2"]
    assert child.running()
    result = child.terminate_tree()
    assert result.terminated
    assert child.returncode == -15
    assert gone(child.pid)
    assert child.terminate_tree() == result  # idempotent once reaped


def test_lines_can_resume_after_an_early_stop(tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "print('head', flush=True)\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.01)\n"
        "print('body')\n"
        "print('end')\n"
    )
    child = spawn([PY, "-c", code])
    assert next(child.lines()) == "head"
    resumed = child.lines()
    go.touch()
    assert list(resumed) == ["body", "end"]
    assert list(child.lines()) == []  # finished: returns at once
    assert child.wait() == 0


def test_output_both_streams_crlf_and_line_cap() -> None:
    code = (
        "import sys\n"
        "sys.stdout.write('a\\r\\nb\\n'); sys.stdout.flush()\n"
        "sys.stderr.write('warn\\n'); sys.stderr.flush()\n"
        "sys.stdout.write('x' * 25)\n"
    )
    child = spawn([PY, "-c", code], max_line_bytes=10)
    items = list(child.output())
    assert child.wait() == 0
    out = [i.text for i in items if i.stream == "stdout"]
    assert out == ["a", "b", "x" * 10, "x" * 10, "x" * 5]
    assert OutputLine("stderr", "warn") in items


def test_lines_of_stdout_keep_stderr_tail() -> None:
    code = "import sys\nprint('o1')\nprint('e1', file=sys.stderr)\nprint('o2')\n"
    child = spawn([PY, "-c", code])
    assert list(child.lines()) == ["o1", "o2"]
    child.wait()
    assert child.tail("stderr") == "e1"
    assert child.tail("stdout") == ""


def test_wait_drains_a_chatty_child() -> None:
    code = "import sys\nfor i in range(20000):\n    sys.stdout.write('%06d\\n' % i)\n"
    child = spawn([PY, "-c", code], max_line_bytes=1000)
    assert child.wait(timeout=60) == 0
    tail = child.tail("stdout").splitlines()
    assert tail[-1] == "019999"
    assert len("\n".join(tail)) <= 1000


def test_raw_pipes_and_devnull_streams() -> None:
    child = spawn([PY, "-c", "print('raw')"], stderr=False)
    assert child.stderr is None
    assert child.stdout is not None
    assert child.stdout.read() == b"raw\n"
    assert child.wait() == 0
    quiet = spawn([PY, "-c", "print('x')"], stdout=False, stderr=False)
    assert list(quiet.output()) == []
    assert quiet.wait() == 0
    assert quiet.tail() == ""


def test_cancel_token_kills_child_tree(tmp_path: Path) -> None:
    token = CancelToken()
    pidfile = tmp_path / "pids"
    child = spawn([PY, str(HELPERS / "tree_spawner.py"), str(pidfile)], cancel=token, grace_s=0.2)
    child_pid, gc_pid = map(int, next(child.lines()).split())
    token.cancel("stop")
    assert child.wait(timeout=30) == -15
    assert child.termination is not None and child.termination.forced
    assert gone(child_pid) and gone(gc_pid)


def test_kill_leftovers_and_context_exit(tmp_path: Path) -> None:
    a = spawn([PY, "-c", "import time; time.sleep(60)"], grace_s=0.5)
    b = spawn([PY, "-c", "import time; time.sleep(60)"], grace_s=0.5)
    assert {a.pid, b.pid} <= {c.pid for c in live_children()}
    assert kill_leftovers(0.5) >= 2
    assert a.returncode == -15 and b.returncode == -15
    assert not live_children()
    with spawn([PY, "-c", "import time; time.sleep(60)"]) as c:
        pid = c.pid
    assert gone(pid)
    assert c.returncode is not None


def test_spawn_rejects_shell_strings() -> None:
    with pytest.raises(ValueError):
        spawn("sleep 1")  # type: ignore[arg-type]


def test_running_does_not_reap() -> None:
    child = spawn([PY, "-c", "pass"])
    deadline = time.monotonic() + 10
    while child.running():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    assert child.returncode is None
    assert child.wait() == 0


def test_pump_refused_when_pipes_not_owned() -> None:
    from groundwork.proc.child import Child, launch

    popen = launch([PY, "-c", "pass"], cwd=None, env=None)
    child = Child(popen, [PY], grace_s=0.1, cancel=None, owns_pipes=False)
    with pytest.raises(RuntimeError):
        next(child.output())
    assert child.wait() == 0
    assert popen.stdout is not None and popen.stderr is not None
    popen.stdout.close()
    popen.stderr.close()


def test_force_kill_children_skips_reaped_and_does_not_reap() -> None:
    from groundwork.proc.child import force_kill_children

    done = spawn([PY, "-c", "pass"])
    done.popen.wait()  # reaped behind the registry's back: must be skipped
    live = spawn([PY, "-c", "import time; time.sleep(60)"])
    force_kill_children(0.2)
    assert psutil.Process(live.pid).status() == psutil.STATUS_ZOMBIE
    assert live.wait() == -15
    done.wait()
    assert not live_children()
