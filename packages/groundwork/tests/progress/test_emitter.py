"""Emitter: stamping, defaults, throttling, seq rules, sinks and the logging handler."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from groundwork.errors import JsonError
from groundwork.progress.emitter import Emitter
from groundwork.progress.events import Event, ProgressError, parse_event
from hypothesis import given, settings
from hypothesis import strategies as st


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(buf: io.StringIO | io.BytesIO) -> list[Event]:
    raw = buf.getvalue()
    text = raw.decode() if isinstance(raw, bytes) else raw
    return [parse_event(x) for x in text.splitlines()]


def assert_seq_rules(events: list[Event], default_stream: str = "stderr") -> None:
    """seq starts at 0 and rises by one per jobId, else per stream."""
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for ev in events:
        key = ("job", ev.job_id) if ev.job_id else ("stream", ev.stream or default_stream)
        assert ev.seq == expected[key], (key, ev)
        expected[key] += 1


def test_every_method_writes_one_parsable_line() -> None:
    buf = io.StringIO()
    em = Emitter(buf, {"jobId": "job-1", "runId": "r1"})
    em.job_start("build_index", ["--progress", "jsonl"], "C:/repo", title="Build")
    em.job_spawn(1234)
    em.task_start("code:scan", "Scanning code", total=120, unit="files")
    em.task_progress("code:scan", 24)
    em.task_end("code:scan")
    em.log("indexing started")
    em.job_end(result={"summary": {"chunks": 120}})
    em.job_artifacts([{"kind": "index", "path": "x", "exists": True}])
    events = lines(buf)
    assert [e.event for e in events] == [
        "job:start",
        "job:spawn",
        "task:start",
        "task:progress",
        "task:end",
        "log",
        "job:end",
        "job:artifacts",
    ]
    assert [e.seq for e in events] == list(range(8))
    assert all(e.job_id == "job-1" and e.run_id == "r1" for e in events)
    progress = events[3]
    assert (progress["current"], progress["total"], progress["unit"], progress["percent"]) == (
        24,
        120,
        "files",
        20,
    )
    end = events[6]
    assert (end["status"], end["exitCode"], end["signal"]) == ("ok", 0, None)
    assert isinstance(end["durationMs"], int)
    assert events[7]["artifactsIndexed"] == 1
    assert events[1]["pid"] == 1234 and events[1]["spawnedAt"].endswith("Z")
    assert events[0]["title"] == "Build" and events[0]["cwd"] == "C:/repo"


def test_name_defaults_to_task_id_and_stage_to_its_prefix() -> None:
    buf = io.StringIO()
    em = Emitter(buf)
    em.task_start("merge:a+b/gen:2")
    em.task_start("solo", stage="custom", mode="code")
    first, second = lines(buf)
    assert (first["name"], first["stage"]) == ("merge:a+b/gen:2", "merge")
    assert (second["name"], second["stage"], second["mode"]) == ("solo", "custom", "code")


def test_duration_and_percent_are_filled_from_the_clock() -> None:
    clock = FakeClock()
    buf = io.StringIO()
    em = Emitter(buf, clock=clock)
    em.task_start("t", total=3)
    em.task_progress("t", 1)
    clock.now += 1.25
    em.task_end("t")
    em.task_end("never-started", "failed", error="boom")
    em.task_end("given", duration_ms=7)
    _start, progress, end, orphan, given_end = lines(buf)
    assert progress["percent"] == 33.3
    assert end["durationMs"] == 1250
    assert "durationMs" not in orphan and orphan["error"] == "boom"
    assert given_end["durationMs"] == 7


def test_progress_is_throttled_per_task_and_the_last_count_survives() -> None:
    clock = FakeClock()
    buf = io.StringIO()
    em = Emitter(buf, throttle_s=0.5, clock=clock)
    em.task_start("a", total=100)
    em.task_start("b")
    assert em.task_progress("a", 1) is not None  # first update always goes out
    assert em.task_progress("a", 2) is None
    assert em.task_progress("b", 1) is not None  # throttling is per task
    clock.now += 0.5
    assert em.task_progress("a", 3) is not None
    assert em.task_progress("a", 4) is None
    assert em.task_progress("a", 5, force=True) is not None
    assert em.task_progress("a", 6) is None
    em.task_end("a")  # writes the suppressed 6 first
    assert em.task_progress("b", 2) is not None  # 0.5 s since b's last update
    assert em.task_progress("b", 3) is None
    assert em.task_progress("b", 9, total=9) is not None  # reaching total always goes out
    events = [e for e in lines(buf) if e.event != "task:start"]
    a = [(e.event, e.get("current")) for e in events if e.task_id == "a"]
    assert a == [
        ("task:progress", 1),
        ("task:progress", 3),
        ("task:progress", 5),
        ("task:progress", 6),
        ("task:end", None),
    ]
    assert [e["current"] for e in events if e.task_id == "b"] == [1, 2, 9]


def test_flush_and_close_write_pending_progress() -> None:
    clock = FakeClock()
    buf = io.StringIO()
    em = Emitter(buf, throttle_s=10, clock=clock)
    em.task_progress("a", 1, unit="files")
    em.task_progress("a", 2)
    em.close()
    em.close()  # idempotent
    events = lines(buf)
    assert [e["current"] for e in events] == [1, 2]
    assert events[1]["unit"] == "files" and events[1]["total"] is None
    assert "percent" not in events[1]
    with pytest.raises(ProgressError, match="closed"):
        em.log("late")


def test_seq_is_per_job_else_per_stream() -> None:
    buf = io.StringIO()
    em = Emitter(buf, stream="stderr")
    em.log("a")
    em.log("b", stream="stdout")
    em.task_start("t")
    em.job_start("c", job_id="j1")
    em.job_start("c", job_id="j2")
    em.log("c", jobId="j1")
    em.log("d", stream="stdout")
    events = lines(buf)
    assert [e.seq for e in events] == [0, 0, 1, 0, 0, 1, 1]
    assert_seq_rules(events)


def test_seq_is_strictly_rising_across_threads() -> None:
    buf = io.StringIO()
    em = Emitter(buf, throttle_s=0)
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        barrier.wait()
        job = f"j{n % 3}" if n % 2 else None
        for i in range(150):
            em.log(f"{n}:{i}", jobId=job)
            em.task_progress(f"t{n}", i, 150, jobId=job)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = lines(buf)
    assert len(events) == 8 * 300
    assert_seq_rules(events)


def test_forward_restamps_seq_keeps_ts_and_applies_overrides() -> None:
    child = io.StringIO()
    child_em = Emitter(child)
    child_em.log("from child")
    child_em.task_start("code:scan")
    child_em.task_end("code:scan")
    child_events = lines(child)

    out = io.StringIO()
    sup = Emitter(out, {"runId": "r9"}, stream="stdout")
    sup.job_start("index", job_id="job-7")
    forwarded = [sup.forward(ev, jobId="job-7", pid=42) for ev in child_events]
    sup.job_end(job_id="job-7")
    events = lines(out)
    assert [e.seq for e in events] == [0, 1, 2, 3, 4]
    assert all(e.job_id == "job-7" and e.run_id == "r9" for e in events)
    assert [f.ts for f in forwarded] == [c.ts for c in child_events]
    assert all(f["pid"] == 42 for f in forwarded)
    # a None override removes a field; a raw dict is validated first
    again = sup.forward(child_events[0].to_dict(), jobId=None, pid=None)
    assert again.job_id is None and "pid" not in again and again.seq == 0
    with pytest.raises(ProgressError):
        sup.forward({"ok": True})


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([None, "j1", "j2"]), st.sampled_from(["stdout", "stderr"])))
)
def test_forward_keeps_per_job_seq_whatever_the_input_order(
    plan: list[tuple[str | None, str]],
) -> None:
    out = io.StringIO()
    sup = Emitter(out)
    for job, stream in plan:
        src = Event(
            "log",
            99,
            "2026-02-04T12:00:00.000Z",
            {"level": "info", "message": "m", "stream": stream},
        )
        sup.forward(src, jobId=job)
    assert_seq_rules(lines(out))


def test_context_is_merged_and_explicit_fields_win() -> None:
    buf = io.StringIO()
    em = Emitter(buf, {"runId": "r1", "jobId": "ctx", "seq": 99, "event": "x", "extra": 1})
    em.log("a")
    em.job_start("c", job_id="explicit")
    em.log("b", runId="r2")
    a, start, b = lines(buf)
    assert (a.run_id, a.job_id, a["extra"], a.seq) == ("r1", "ctx", 1, 0)
    assert start.job_id == "explicit" and start.seq == 0
    assert b.run_id == "r2" and b.seq == 1


def test_bad_events_raise_and_do_not_consume_seq() -> None:
    buf = io.StringIO()
    em = Emitter(buf)
    with pytest.raises(ProgressError):
        em.task_end("t", status="done")
    with pytest.raises(ProgressError):
        em.job_start("no job id")
    with pytest.raises(ProgressError):
        em.emit("supervisor:hello")
    with pytest.raises(JsonError):
        em.log("x", meta={"bad": float("nan")})
    em.log("ok")
    assert [e.seq for e in lines(buf)] == [0]


def test_emit_admits_extra_events() -> None:
    buf = io.StringIO()
    em = Emitter(buf, extra_events=["supervisor:hello"])
    em.emit("supervisor:hello", protoVersion="poc.supervisor@1", pid=1)
    hello = parse_event(buf.getvalue(), extra_events=["supervisor:hello"])
    assert hello.event == "supervisor:hello" and hello.seq == 0


def test_job_end_defaults_exit_codes_by_status() -> None:
    buf = io.StringIO()
    em = Emitter(buf)
    em.job_end("failed", job_id="a", error={"code": "boom", "message": "m"})
    em.job_end("cancelled", job_id="b", termination={"terminated": True, "forced": False})
    em.job_end("cancelled", job_id="c", exit_code=None, signal="SIGTERM", duration_ms=3)
    em.job_artifacts([], job_id="c", artifacts_indexed=False)
    a, b, c, art = lines(buf)
    assert (a["exitCode"], a["error"]["code"]) == (1, "boom")
    assert (b["exitCode"], b["termination"]["forced"]) == (130, False)
    assert (c["exitCode"], c["signal"], c["durationMs"]) == (None, "SIGTERM", 3)
    assert art["artifactsIndexed"] is False


def test_binary_stream_sink() -> None:
    buf = io.BytesIO()
    em = Emitter(buf)
    em.log("héllo ✓")
    (ev,) = lines(buf)
    assert ev["message"] == "héllo ✓"
    assert buf.getvalue().endswith(b"\n")


def test_callback_sink_receives_events() -> None:
    got: list[Event] = []
    em = Emitter(got.append)
    em.log("x")
    assert [e["message"] for e in got] == ["x"]


def test_bad_sink_is_refused() -> None:
    with pytest.raises(TypeError):
        Emitter(42)  # type: ignore[arg-type]


def test_file_sink_appends_and_interleaves_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    path.parent.mkdir()
    path.write_text("previous line\n")
    emitters = [Emitter(path, {"runId": f"r{n}"}) for n in range(4)]

    def work(em: Emitter) -> None:
        for i in range(200):
            em.log("x" * (i * 37 % 5000), meta={"i": i})

    threads = [threading.Thread(target=work, args=(em,)) for em in emitters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for em in emitters:
        em.close()
    text = path.read_text().splitlines()
    assert text[0] == "previous line"
    events = [parse_event(x) for x in text[1:]]
    assert len(events) == 800
    for n in range(4):
        mine = [e for e in events if e.run_id == f"r{n}"]
        assert [e["meta"]["i"] for e in mine] == list(range(200))
        assert [e.seq for e in mine] == list(range(200))


def test_context_manager_closes(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    with Emitter(str(path)) as em:
        em.log("a")
    assert parse_event(path.read_bytes()).seq == 0


def test_logging_handler_maps_levels_and_tracebacks() -> None:
    buf = io.StringIO()
    em = Emitter(buf)
    logger = logging.getLogger("groundwork.test.progress")
    logger.propagate = False
    logger.setLevel(1)
    handler = em.handler()
    logger.addHandler(handler)
    try:
        logger.log(5, "very fine")
        logger.debug("dbg %s", 1)
        logger.info("info")
        logger.warning("careful")
        logger.critical("dead")
        try:
            raise RuntimeError("kaput")
        except RuntimeError:
            logger.exception("failed")
        logger.info("with stack", stack_info=True)
    finally:
        logger.removeHandler(handler)
    events = lines(buf)
    assert [e["level"] for e in events] == [
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "error",
        "info",
    ]
    assert events[1]["message"] == "dbg 1"
    assert events[0]["meta"] == {"logger": "groundwork.test.progress"}
    assert "RuntimeError: kaput" in events[5]["message"]
    assert "Stack (most recent call last)" in events[6]["message"]


def test_logging_handler_reports_its_own_failures(capsys: pytest.CaptureFixture[str]) -> None:
    em = Emitter(io.StringIO())
    em.close()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    handler = em.handler()
    logging.raiseExceptions, old = True, logging.raiseExceptions
    try:
        handler.handle(record)
    finally:
        logging.raiseExceptions = old
    assert "closed" in capsys.readouterr().err


def test_log_level_aliases() -> None:
    buf = io.StringIO()
    em = Emitter(buf)
    em.log("a", "warning")
    em.log("b", "fatal")
    em.log("c", task_id="t:1")
    with pytest.raises(ProgressError):
        em.log("d", "loud")
    a, b, c = lines(buf)
    assert (a["level"], b["level"], c.task_id) == ("warn", "error", "t:1")


def test_bind_shares_counters_and_sink_but_adds_context() -> None:
    buf = io.StringIO()
    root = Emitter(buf, {"runId": "r1", "drop": 1})
    job = root.bind(jobId="j1", pid=9, drop=None)
    job.job_start("index")
    root.log("root line")
    job.task_start("code:scan")
    root.log("again", jobId="j1")  # same job counter as the view's
    job.task_end("code:scan")
    events = lines(buf)
    assert [(e.job_id, e.seq) for e in events] == [
        ("j1", 0),
        (None, 0),
        ("j1", 1),
        ("j1", 2),
        ("j1", 3),
    ]
    assert events[0]["pid"] == 9 and "drop" not in events[0] and events[1]["drop"] == 1
    assert isinstance(events[4]["durationMs"], int)  # the view's task clock
    root.close()
    with pytest.raises(ProgressError, match="closed"):
        job.log("after close")


def test_job_start_cwd_defaults_to_the_process_cwd() -> None:
    buf = io.StringIO()
    Emitter(buf).job_start("c", job_id="j")
    assert parse_event(buf.getvalue())["cwd"] == os.getcwd()
