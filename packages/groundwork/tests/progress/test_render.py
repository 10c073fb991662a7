"""Reporters: rich bars, plain lines, jsonl, none, and how open_reporter picks one."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from groundwork.progress.decoder import Decoder
from groundwork.progress.events import ProgressError, parse_event
from groundwork.progress.render import (
    NullRenderer,
    PlainRenderer,
    Reporter,
    RichRenderer,
    open_reporter,
    resolve_mode,
)
from rich.console import Console

CTX = {"GROUNDWORK_PROGRESS_CONTEXT": '{"jobId":"job-1","runId":"r1"}'}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def rich_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120, color_system="truecolor"), buf


def plain_text(buf: io.StringIO) -> str:
    return ANSI.sub("", buf.getvalue())


def drive(reporter: Reporter) -> None:
    reporter.log("indexing [started]")
    reporter.log("hidden detail", "debug")
    reporter.task_start("code:scan", "Scanning code", total=120, unit="files")
    for i in range(0, 121, 8):
        reporter.task_progress("code:scan", i)
    reporter.task_progress("code:scan", 120)
    reporter.task_end("code:scan")
    reporter.task_start("prose:scan", "Scanning prose", total=10)
    reporter.task_progress("prose:scan", 3)
    reporter.task_end("prose:scan", "failed", error="disk full")


def test_rich_renderer_draws_bars_task_names_and_logs() -> None:
    console, buf = rich_console()
    reporter = open_reporter("rich", env={}, stream=io.StringIO(), console=console)
    assert reporter.mode == "rich"
    drive(reporter)
    reporter.close()
    reporter.close()
    out = plain_text(buf)
    assert "Scanning code" in out and "Scanning prose (failed)" in out
    assert "━" in out  # bar glyphs
    assert "120/120" in out and "files" in out and "100%" in out
    assert "3/10" in out and "✗" in out and "✓" in out
    assert "indexing [started]" in out  # no markup interpretation
    assert "hidden detail" not in out
    assert "\x1b[" in buf.getvalue()  # a real terminal render


def test_rich_renderer_shows_jobs_and_closes_their_tasks() -> None:
    console, buf = rich_console()
    renderer = RichRenderer(console, min_level="debug", auto_refresh=False)
    reporter = Reporter("rich", io.StringIO(), renderer=renderer)
    reporter.job_start("index", ["build"], "/repo", job_id="j1")
    reporter.job_start("search", [], "/repo", job_id="j2")
    reporter.task_start("code:scan", "Scan", jobId="j1")
    reporter.log("detail", "debug")
    reporter.job_end("cancelled", job_id="j1", exit_code=None, signal="SIGTERM")
    reporter.close()
    out = plain_text(buf)
    assert "job j1 started: index build" in out
    assert "[j1] Scan (cancelled)" in out  # job id shown once several jobs run
    assert "job j1 cancelled, signal SIGTERM in" in out
    assert "detail" in out
    assert renderer.state.tasks[("j1", "code:scan")].status == "cancelled"
    renderer.handle(reporter_event("late"))  # after close: ignored, no error


def reporter_event(message: str) -> Any:
    return parse_event(
        '{"proto":"poc.progress@2","event":"log","ts":"2026-02-04T12:00:00.000Z","seq":0,'
        f'"level":"info","message":"{message}","stream":"stderr"}}'
    )


def test_rich_renderer_keeps_a_bounded_number_of_finished_bars() -> None:
    console, _ = rich_console()
    renderer = RichRenderer(console, max_finished=3, auto_refresh=False)
    reporter = Reporter("rich", io.StringIO(), renderer=renderer)
    for i in range(8):
        reporter.task_start(f"t:{i}", total=1)
        reporter.task_end(f"t:{i}")
    reporter.task_start("t:live")
    assert len(renderer.progress.tasks) == 4
    assert sorted(str(t.description) for t in renderer.progress.tasks) == [
        "t:5",
        "t:6",
        "t:7",
        "t:live",
    ]
    reporter.close()


def test_rich_renders_events_decoded_from_a_child() -> None:
    child: list[bytes] = []
    from groundwork.progress.emitter import Emitter

    em = Emitter(lambda ev: child.append(ev.to_line()), {"jobId": "job-3"})
    em.task_start("code:index", "Indexing", total=4)
    em.task_progress("code:index", 4)
    em.task_end("code:index")
    decoder = Decoder("stderr")
    console, buf = rich_console()
    reporter = open_reporter("tty", env={}, stream=io.StringIO(), console=console)
    for ev in decoder.feed(b"".join(child) + b"a stray line\n"):
        reporter.forward(ev)
    reporter.close()
    out = plain_text(buf)
    assert "Indexing" in out and "4/4" in out and "a stray line" in out


def test_plain_renderer_writes_readable_lines_and_throttles_progress() -> None:
    now = [0.0]
    buf = io.StringIO()
    renderer = PlainRenderer(buf, interval_s=1.0, clock=lambda: now[0])
    reporter = Reporter("plain", buf, renderer=renderer, throttle_s=0)
    reporter.job_start("index", ["build"], "/repo", job_id="j1", title="Build index")
    reporter.task_start("code:scan", "Scanning code", total=10, unit="files", jobId="j1")
    reporter.task_progress("code:scan", 1, jobId="j1")  # within the interval: skipped
    now[0] = 1.5
    reporter.task_progress("code:scan", 5, jobId="j1")
    reporter.task_progress("code:scan", 6, jobId="j1")  # skipped
    reporter.task_progress("code:scan", 10, jobId="j1")  # complete: always shown
    reporter.task_end("code:scan", jobId="j1", duration_ms=1500)
    reporter.task_start("x")
    reporter.task_end("x", "failed", error="boom")
    reporter.log("careful", "warn")
    reporter.log("noise", "debug")
    reporter.emit("job:spawn", jobId="j1", pid=5, spawnedAt="2026-02-04T12:00:00.000Z")
    reporter.job_end(job_id="j1", duration_ms=2500)
    reporter.close()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "job j1 started: Build index"
    assert lines[1] == "> Scanning code [code:scan]"
    assert lines[2] == "  Scanning code: 5/10 files (50%)"
    assert lines[3] == "  Scanning code: 10/10 files (100%)"
    assert lines[4] == "< Scanning code ok in 1.5s"
    assert lines[5] == "> x [x]"
    assert lines[6].startswith("< x failed in ") and lines[6].endswith(": boom")
    assert lines[7] == "warn: careful"
    assert lines[8] == "job j1 ok, exit 0 in 2.5s"
    assert len(lines) == 9


def test_plain_progress_without_total() -> None:
    buf = io.StringIO()
    reporter = Reporter("plain", buf, renderer=PlainRenderer(buf, interval_s=0))
    reporter.task_progress("t", 2.5)
    reporter.close()
    assert buf.getvalue() == "  t: 2.5/?\n"


def test_jsonl_reporter_writes_protocol_with_the_env_context() -> None:
    buf = io.StringIO()
    reporter = open_reporter("auto", env=CTX, stream=buf, tty=True)
    assert reporter.mode == "jsonl"
    drive(reporter)
    reporter.close()
    events = [parse_event(x) for x in buf.getvalue().splitlines()]
    assert events and all(e.job_id == "job-1" and e.run_id == "r1" for e in events)
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[1]["level"] == "debug"  # jsonl keeps everything


def test_none_reporter_is_silent_but_still_checks() -> None:
    buf = io.StringIO()
    reporter = open_reporter("off", env={}, stream=buf)
    assert reporter.mode == "none" and isinstance(reporter.renderer, NullRenderer)
    drive(reporter)
    with pytest.raises(ProgressError):
        reporter.task_end("t", "weird")
    reporter.close()
    assert buf.getvalue() == ""


def test_explicit_context_wins_over_env() -> None:
    buf = io.StringIO()
    reporter = open_reporter("jsonl", env=CTX, stream=buf, context={"jobId": "mine"})
    reporter.log("x")
    assert parse_event(buf.getvalue()).job_id == "mine"


@pytest.mark.parametrize(
    ("mode", "env", "tty", "expected"),
    [
        ("auto", {}, True, "rich"),
        ("auto", {}, False, "plain"),
        ("auto", CTX, False, "jsonl"),
        ("auto", {"PAIROFCLEATS_PROGRESS_CONTEXT": '{"jobId":"x"}'}, True, "jsonl"),
        ("AUTO", {}, False, "plain"),
        ("tty", {}, False, "rich"),
        ("log", {}, True, "plain"),
        ("off", {}, True, "none"),
        ("rich", CTX, False, "rich"),
        ("plain", {}, True, "plain"),
        ("jsonl", {}, True, "jsonl"),
        ("none", {}, True, "none"),
    ],
)
def test_resolve_mode(mode: str, env: dict[str, str], tty: bool, expected: str) -> None:
    assert resolve_mode(mode, env=env, tty=tty) == expected


def test_unknown_mode_names_the_choices() -> None:
    with pytest.raises(ProgressError, match=r"unknown progress mode 'fancy'.*auto, rich, plain"):
        open_reporter("fancy", env={}, stream=io.StringIO())


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class BrokenTTY(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("closed")


def test_auto_detects_a_tty_from_the_stream() -> None:
    stream = FakeTTY()
    reporter = open_reporter("auto", env={}, stream=stream)
    assert reporter.mode == "rich"
    reporter.task_start("code:scan", "Scanning code", total=2)
    reporter.task_progress("code:scan", 2)
    reporter.close()
    assert "Scanning code" in plain_text(stream) and "\x1b[" in stream.getvalue()
    assert open_reporter("auto", env={}, stream=BrokenTTY()).mode == "plain"
    assert open_reporter("auto", env={}, stream=io.StringIO()).mode == "plain"


def test_reporter_is_a_context_manager() -> None:
    buf = io.StringIO()
    with open_reporter("plain", env={}, stream=buf) as reporter:
        reporter.log("inside")
    assert buf.getvalue() == "info: inside\n"


def test_rich_console_takes_its_settings_from_the_given_env() -> None:
    stream = FakeTTY()
    env = {"NO_COLOR": "1", "COLUMNS": "60"}
    reporter = open_reporter("rich", env=env, stream=stream, tty=True)
    assert isinstance(reporter.renderer, RichRenderer)
    assert reporter.renderer.console.width == 60
    assert reporter.renderer.console.no_color
    reporter.close()


def test_rich_renderer_shows_a_finished_uncounted_task_as_done() -> None:
    """A task that never reported a total ends as a full bar without a '0/?' count (it
    used to keep pulsing after it finished); a failed one does not claim to be full."""
    console, buf = rich_console()
    renderer = RichRenderer(console, auto_refresh=False)
    reporter = Reporter("rich", io.StringIO(), renderer=renderer)
    reporter.task_start("stage2")
    reporter.task_end("stage2")
    reporter.task_start("stage4")
    reporter.task_end("stage4", "failed", error="disk full")
    reporter.close()
    done, failed = renderer.progress.tasks
    assert done.total == done.completed == 1 and done.fields["count"] == ""
    assert failed.total is None and failed.fields["count"] == ""
    assert "0/?" not in plain_text(buf)


def test_rich_renderer_estimates_time_left_only_for_running_counted_tasks() -> None:
    from groundwork.progress.render import _Remaining

    console, _ = rich_console()
    renderer = RichRenderer(console, auto_refresh=False)
    reporter = Reporter("rich", io.StringIO(), renderer=renderer)
    reporter.task_start("embed", total=1000, unit="chunks")
    reporter.task_progress("embed", 300, force=True)
    reporter.task_start("uncounted")
    reporter.task_start("done")
    reporter.task_end("done")
    column = next(c for c in renderer.progress.columns if isinstance(c, _Remaining))
    running, uncounted, done = renderer.progress.tasks
    assert str(column.render(uncounted)) == "" and str(column.render(done)) == ""
    assert ":" in str(column.render(running))  # rich's estimate, e.g. "00:01" or "-:--"
    reporter.close()
