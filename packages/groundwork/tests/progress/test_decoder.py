"""Decoder: chunk boundaries, UTF-8 splits, CR/CRLF, wrapping, the line cap, pipes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from groundwork.progress.decoder import Decoder, iter_events, iter_streams
from groundwork.progress.emitter import Emitter
from groundwork.progress.events import Event, parse_event
from hypothesis import given, settings
from hypothesis import strategies as st

TASK = (
    b'{"proto":"poc.progress@2","event":"task:start","ts":"2026-02-04T12:00:00.010Z","seq":1,'
    b'"jobId":"job-1","taskId":"code:scan","name":"Scanning \xc3\xa7\xe2\x9c\x93","stage":"code"}'
)
SAMPLE = (
    TASK
    + b"\r\nplain text \xe2\x9c\x93 caf\xc3\xa9\n"
    + b'{"ok":true}\r'
    + b"\r\n"
    + b"\xf0\x9f\x98\x80 emoji line\r"
    + TASK
    + b"\n"
    + b"last line without newline"
)


def view(events: list[Event]) -> list[dict[str, Any]]:
    """Events without their wall-clock ts (wrapped lines are stamped now)."""
    out = []
    for ev in events:
        d = ev.to_dict()
        d.pop("ts")
        out.append(d)
    return out


def decode_whole(data: bytes, stream: str = "stdout", **kw: Any) -> list[Event]:
    dec = Decoder(**kw)
    return dec.feed(data, stream) + dec.close()


def test_sample_decodes_to_events_and_wrapped_logs() -> None:
    events = decode_whole(SAMPLE)
    kinds = [(e.event, e.get("message")) for e in events]
    assert kinds == [
        ("task:start", None),
        ("log", "plain text ✓ café"),
        ("log", '{"ok":true}'),
        ("log", "😀 emoji line"),
        ("task:start", None),
        ("log", "last line without newline"),
    ]
    assert events[0] == parse_event(TASK)
    assert events[0]["name"] == "Scanning ç✓"
    wrapped = [e for e in events if e.event == "log"]
    assert all(e["level"] == "info" and e.stream == "stdout" for e in wrapped)
    assert [e.seq for e in wrapped] == [0, 1, 2, 3]


def test_stderr_lines_are_wrapped_as_warn() -> None:
    (ev,) = decode_whole(b"Traceback (most recent call last):\n", "stderr")
    assert (ev.event, ev["level"], ev.stream) == ("log", "warn", "stderr")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_chunking_gives_the_same_events(data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, len(SAMPLE) - 1), max_size=12)))
    dec = Decoder()
    events: list[Event] = []
    prev = 0
    for cut in [*cuts, len(SAMPLE)]:
        events += dec.feed(SAMPLE[prev:cut])
        prev = cut
    events += dec.close()
    assert view(events) == view(decode_whole(SAMPLE))


@pytest.mark.parametrize("cut", range(1, len(SAMPLE)))
def test_split_at_every_byte_offset(cut: int) -> None:
    dec = Decoder()
    events = dec.feed(SAMPLE[:cut]) + dec.feed(SAMPLE[cut:]) + dec.close()
    assert view(events) == view(decode_whole(SAMPLE))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20), max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.data(),
)
def test_text_lines_survive_any_split_and_line_ending(
    texts: list[str], ending: str, data: st.DataObject
) -> None:
    clean = [t.replace("\r", "").replace("\n", "") for t in texts]
    clean = [t for t in clean if t]
    raw = "".join(t + ending for t in clean).encode()
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=8)))
    dec = Decoder(max_line_bytes=1 << 20)
    events: list[Event] = []
    prev = 0
    for cut in [*cuts, len(raw)]:
        events += dec.feed(raw[prev:cut], "stderr")
        prev = cut
    events += dec.close()
    assert [e["message"] for e in events] == clean  # no dropped or duplicated lines


def test_crlf_split_between_chunks_is_one_break() -> None:
    dec = Decoder()
    events = dec.feed(b"a\r") + dec.feed(b"\nb\r") + dec.feed(b"c\n") + dec.close()
    assert [e["message"] for e in events] == ["a", "b", "c"]


def test_streams_keep_separate_partial_lines() -> None:
    dec = Decoder()
    out = dec.feed(b"out-par", "stdout")
    out += dec.feed(b"err-par", "stderr")
    out += dec.feed(b"t1\n", "stdout")
    out += dec.feed(b"t2\n", "stderr")
    assert [(e.stream, e["message"]) for e in out] == [
        ("stdout", "out-part1"),
        ("stderr", "err-part2"),
    ]
    assert dec.close() == []


def test_close_one_stream_flushes_only_it() -> None:
    dec = Decoder(stream="stderr")
    dec.feed(b"tail-a")
    dec.feed(b"tail-b", "stdout")
    (a,) = dec.close("stderr")
    assert (a.stream, a["message"], a["level"]) == ("stderr", "tail-a", "warn")
    (b,) = dec.close()
    assert b["message"] == "tail-b"


def test_invalid_utf8_and_bad_json_become_logs() -> None:
    events = decode_whole(b'\xff\xfe bad\n{"proto":"poc.progress@2"\n{oops\n')
    assert [e.event for e in events] == ["log", "log", "log"]
    assert events[0]["message"] == "\ufffd\ufffd bad"


def test_over_cap_line_becomes_one_warn_log_and_the_next_line_decodes() -> None:
    cap = 200
    assert len(TASK) <= cap
    dec = Decoder(max_line_bytes=cap)
    events: list[Event] = []
    events += dec.feed(b"short\n" + b"x" * 50)
    for _ in range(100):  # 5,000 more bytes in many chunks: never buffered
        events += dec.feed(b"y" * 50)
        assert len(dec._buffers["stdout"].data) <= cap  # never more than the cap kept
    events += dec.feed(b"z\r\n" + TASK[:10])
    events += dec.feed(TASK[10:] + b"\n" + b"w" * cap + b"\n")
    events += dec.close()
    assert [e.event for e in events] == ["log", "log", "task:start", "log"]
    warn = events[1]
    assert warn["level"] == "warn" and warn.stream == "stdout"
    assert warn["meta"] == {"lineBytes": 50 + 5000 + 1, "maxLineBytes": cap, "dropped": True}
    assert "200-byte line cap" in warn["message"] and "xxxx" in warn["message"]
    assert events[3]["message"] == "w" * cap  # exactly at the cap is fine


def test_default_cap_is_one_mebibyte() -> None:
    dec = Decoder()
    assert dec.max_line_bytes == 1_048_576
    big = b"a" * 1_048_577
    (ev,) = dec.feed(big + b"\n")
    assert ev["meta"]["lineBytes"] == 1_048_577
    with pytest.raises(ValueError):
        Decoder(max_line_bytes=0)


def test_over_cap_at_close_is_reported() -> None:
    dec = Decoder(max_line_bytes=4)
    assert dec.feed(b"123456") == []
    (ev,) = dec.close()
    assert ev["meta"]["lineBytes"] == 6


def test_context_and_extra_events() -> None:
    hello = (
        b'{"proto":"poc.progress@2","event":"supervisor:hello","ts":"2026-02-04T12:00:00Z",'
        b'"seq":0,"pid":1}\n'
    )
    dec = Decoder(extra_events=["supervisor:hello"], context={"jobId": "j1", "seq": 5})
    first, second = dec.feed(hello + b"text\n")
    assert first.event == "supervisor:hello"
    assert (second.job_id, second.seq) == ("j1", 0)
    plain = Decoder()
    assert plain.feed(hello)[0].event == "log"


def test_wrapped_events_are_valid_protocol_lines() -> None:
    for ev in decode_whole(SAMPLE + b"\n" + b"q" * 100 + b"\n", max_line_bytes=50):
        assert parse_event(ev.to_line()) == ev


CHILD = textwrap.dedent(
    """
    import sys, time
    from groundwork.progress import Emitter, context_from_env
    import os
    em = Emitter(sys.stderr, context_from_env(dict(os.environ)))
    print("hello from stdout", flush=True)
    em.task_start("code:scan", "Scanning", total=5, unit="files")
    for i in range(1, 6):
        em.task_progress("code:scan", i, force=True)
        sys.stderr.write("raw stderr " + "é" * i + "\\n")
        sys.stderr.flush()
    sys.stdout.write('{"ok":true}\\r\\n')
    em.task_end("code:scan")
    em.log("done", meta={"n": 5})
    """
)


def test_real_subprocess_through_pipes(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "GROUNDWORK_PROGRESS_CONTEXT": '{"jobId":"job-9","runId":"run-1"}',
        "PYTHONIOENCODING": "utf-8",
    }
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    dec = Decoder()
    # tiny reads so that lines and UTF-8 characters arrive split
    err_events = list(iter_events(proc.stderr, "stderr", decoder=dec, chunk_size=7))
    out_events = list(iter_events(proc.stdout.fileno(), "stdout", decoder=dec, chunk_size=5))
    assert proc.wait(timeout=60) == 0

    protocol = [e for e in err_events if e.event != "log" or e.get("message") == "done"]
    assert [e.event for e in protocol] == ["task:start"] + ["task:progress"] * 5 + [
        "task:end",
        "log",
    ]
    assert all(e.job_id == "job-9" and e.run_id == "run-1" for e in protocol)
    assert [e.seq for e in protocol] == list(range(8))
    assert [e["current"] for e in protocol if e.event == "task:progress"] == [1, 2, 3, 4, 5]
    raw = [e for e in err_events if e.event == "log" and e.get("message") != "done"]
    assert [e["message"] for e in raw] == ["raw stderr " + "é" * i for i in range(1, 6)]
    assert all(e["level"] == "warn" and e.stream == "stderr" for e in raw)
    assert [(e["message"], e["level"]) for e in out_events] == [
        ("hello from stdout", "info"),
        ('{"ok":true}', "info"),
    ]

    # a supervisor re-stamps everything into one per-job sequence
    sink: list[Event] = []
    sup = Emitter(sink.append)
    for ev in err_events + out_events:
        sup.forward(ev, jobId="job-9", pid=proc.pid)
    assert [e.seq for e in sink] == list(range(len(err_events) + len(out_events)))


def test_iter_streams_reads_both_pipes_without_deadlock(tmp_path: Path) -> None:
    # The child fills stdout far beyond a pipe buffer before it writes stderr:
    # reading stderr first to EOF would hang.
    script = tmp_path / "flood.py"
    script.write_text(
        "import sys\n"
        "for i in range(3000):\n"
        "    sys.stdout.write('line %d ' % i + 'x' * 100 + '\\n')\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write('done\\n')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    events = list(
        iter_streams({"stdout": proc.stdout, "stderr": proc.stderr.fileno()}, chunk_size=4096)
    )
    assert proc.wait(timeout=60) == 0
    out = [e["message"] for e in events if e.stream == "stdout"]
    assert len(out) == 3000 and out[-1].startswith("line 2999 ")
    assert [e["message"] for e in events if e.stream == "stderr"] == ["done"]
