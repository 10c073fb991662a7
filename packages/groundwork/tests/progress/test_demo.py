"""The demo job: a real child process supervised through the protocol."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from groundwork.progress.demo import main, run_demo
from groundwork.progress.events import parse_event


def test_jsonl_demo_is_one_well_ordered_job() -> None:
    buf = io.StringIO()
    code = run_demo("jsonl", env=dict(os.environ), stream=buf, steps=5, delay_s=0)
    assert code == 0
    events = [parse_event(x) for x in buf.getvalue().splitlines()]
    kinds = [e.event for e in events]
    assert kinds[:2] == ["job:start", "job:spawn"] and kinds[-1] == "job:end"
    assert kinds.count("job:end") == 1
    assert all(e.job_id == "demo-1" for e in events)
    assert [e.seq for e in events] == list(range(len(events)))
    pid = events[1]["pid"]
    assert all(e["pid"] == pid for e in events[2:-1])
    names = {e["name"] for e in events if e.event == "task:start"}
    assert names == {"Scanning files", "Indexing chunks"}
    messages = {e["message"] for e in events if e.event == "log"}
    assert "a plain stdout line from the child" in messages
    assert "a non-protocol stderr line" in messages
    final = [e["current"] for e in events if e.event == "task:progress"]
    assert final.count(5) == 2  # each task reports its last count
    assert events[-1]["status"] == "ok" and events[-1]["exitCode"] == 0


def test_rich_demo_draws_both_tasks() -> None:
    class TTY(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = TTY()
    assert (
        run_demo("rich", env={**os.environ, "COLUMNS": "100"}, stream=stream, steps=3, delay_s=0)
        == 0
    )
    out = stream.getvalue()
    assert "Scanning files" in out and "Indexing chunks" in out and "3/3" in out


def test_main_rejects_a_bad_mode_in_one_line() -> None:
    err = io.StringIO()
    assert main(["--progress", "fancy"], {}, io.StringIO(), err) == 2
    assert err.getvalue().count("\n") == 1 and "unknown progress mode" in err.getvalue()


def test_module_runs_as_a_program() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "groundwork.progress.demo", "--progress", "plain", "--steps", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "> Scanning files [scan:files]" in proc.stderr
    assert "job demo-1 ok, exit 0" in proc.stderr
    assert proc.stdout == ""


def test_child_side_reports_under_the_context() -> None:
    err, out = io.StringIO(), io.StringIO()
    env = {"GROUNDWORK_PROGRESS_CONTEXT": '{"jobId":"j"}'}
    assert main(["--child", "--steps", "2", "--delay", "0"], env, out, err) == 0
    assert out.getvalue() == "a plain stdout line from the child\n"
    lines = err.getvalue().splitlines()
    assert lines.count("a non-protocol stderr line") == 1
    events = [parse_event(x) for x in lines if x.startswith("{")]
    assert all(e.job_id == "j" for e in events)
    assert [e.seq for e in events] == list(range(len(events)))
