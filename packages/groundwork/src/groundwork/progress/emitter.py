"""Emitter: stamps and writes ``poc.progress@2`` events, one canonical line each.

One method per event kind, so callers name what happened and the emitter
fills the rest: ``ts``, ``seq`` (from 0, strictly rising per ``jobId``, else
per ``stream``), the context fields, a task's ``name``/``stage`` defaults,
``percent`` and ``durationMs``. ``task:progress`` is throttled per task so a
tight loop can report every item; a suppressed update is written before the
task ends so the last count is never lost. Every event passes the same strict
check as :func:`~groundwork.progress.events.parse_event` before it is written,
so whatever an Emitter writes a parser accepts.

All methods are thread-safe: one lock covers stamping and writing, so the
order of lines in the sink is the order of ``seq``.
"""

from __future__ import annotations

import copy
import enum
import io
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Literal, Self, cast

from .events import (
    ENVELOPE_KEYS,
    PROTO,
    Event,
    ProgressError,
    task_stage,
    utc_now_iso,
    validate_event,
)

__all__ = ["Emitter", "EventSink", "ProgressLogHandler", "Sink", "task_stage"]

EventSink = Callable[[Event], None]
"""A callback that receives each stamped event (renderers use this)."""

Sink = IO[str] | IO[bytes] | str | os.PathLike[str] | EventSink
"""Where events go: a text or binary stream, a file path (appended), or a callback."""

_LEVEL_ALIASES = {"warning": "warn", "critical": "error", "fatal": "error"}
_EXIT_FOR_STATUS = {"ok": 0, "failed": 1, "cancelled": 130}


class _Default(enum.Enum):
    TOKEN = 0


_DEFAULT: Literal[_Default.TOKEN] = _Default.TOKEN


def _percent(current: float, total: float | None) -> float | int | None:
    if total is None or total <= 0:
        return None
    value = round(current * 100.0 / total, 1)
    return int(value) if value.is_integer() else value


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000.0))


@dataclass(slots=True)
class _TaskClock:
    """Per-task bookkeeping: start time, last known total and throttle state."""

    started: float
    total: float | None = None
    unit: str | None = None
    last_emit: float | None = None
    pending: dict[str, Any] | None = None


class _Writer:
    """Writes finished lines to whatever the sink is."""

    def __init__(self, sink: Sink, *, flush: bool) -> None:
        self._owned: IO[bytes] | None = None
        self._callback: EventSink | None = None
        self._text: IO[str] | None = None
        self._binary: IO[bytes] | None = None
        self._flush = flush
        if isinstance(sink, str | os.PathLike):
            # Unbuffered append: each line is one write(2) at the end of the file,
            # so lines from several processes never interleave mid-line.
            self._owned = cast(IO[bytes], open(os.fspath(sink), "ab", buffering=0))  # noqa: SIM115
            self._binary = self._owned
        elif isinstance(sink, io.TextIOBase) or hasattr(sink, "encoding"):
            self._text = cast(IO[str], sink)
        elif hasattr(sink, "write"):
            self._binary = cast(IO[bytes], sink)
        elif callable(sink):
            self._callback = sink
        else:
            raise TypeError(f"progress sink must be a stream, a path or a callable, not {sink!r}")

    def write(self, event: Event) -> None:
        if self._callback is not None:
            self._callback(event)
            return
        line = event.to_line()
        if self._text is not None:
            self._text.write(line.decode("utf-8"))
            if self._flush:
                self._text.flush()
            return
        assert self._binary is not None
        view = memoryview(line)
        while view:
            view = view[self._binary.write(view) :]
        if self._flush and self._owned is None:
            self._binary.flush()

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None


class Emitter:
    """Writes protocol events to ``sink``, with ``context`` merged into every one.

    ``stream`` names the stream this emitter writes (the default ``stream`` of
    its ``log`` events and the ``seq`` counter of events without a ``jobId``).
    ``throttle_s`` is the minimum gap between two ``task:progress`` events of
    one task; ``extra_events`` admits kinds beyond the allow-list for
    :meth:`emit` and :meth:`forward`. ``clock`` is a monotonic clock (seconds),
    injectable for tests.
    """

    def __init__(
        self,
        sink: Sink,
        context: Mapping[str, Any] | None = None,
        *,
        stream: str = "stderr",
        throttle_s: float = 0.1,
        extra_events: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        flush: bool = True,
    ) -> None:
        self._writer = _Writer(sink, flush=flush)
        self.context: dict[str, Any] = {
            k: v for k, v in (context or {}).items() if k not in ENVELOPE_KEYS
        }
        self.stream = stream
        self.throttle_s = throttle_s
        self.extra_events = frozenset(extra_events)
        self._clock = clock
        self._lock = threading.RLock()
        self._seq: dict[tuple[str, str], int] = {}
        self._tasks: dict[tuple[str | None, str], _TaskClock] = {}
        self._jobs: dict[str, float] = {}
        self._created = clock()
        self._closed = threading.Event()  # shared with bind() views

    def bind(self, **fields: Any) -> Self:
        """A view of this emitter with ``fields`` added to its context.

        The view shares the sink, the lock, the ``seq`` counters and the task
        and job clocks, so a supervisor can hand ``emitter.bind(jobId=j,
        pid=p)`` to the code running job ``j``. A ``None`` value removes a
        context key. Close the original, not the views.
        """
        view = copy.copy(self)
        merged = {**self.context, **fields}
        view.context = {k: v for k, v in merged.items() if k not in ENVELOPE_KEYS and v is not None}
        return view

    # ------------------------------------------------------------ stamping

    def _seq_key(self, fields: Mapping[str, Any]) -> tuple[str, str]:
        job = fields.get("jobId")
        if isinstance(job, str) and job:
            return ("job", job)
        stream = fields.get("stream")
        return ("stream", stream if isinstance(stream, str) else self.stream)

    def _stamp(self, kind: str, fields: Mapping[str, Any], ts: str | None) -> Event:
        """Validate, number and write one event; the caller holds the lock."""
        if self._closed.is_set():
            raise ProgressError("this progress emitter is closed")
        key = self._seq_key(fields)
        seq = self._seq.get(key, 0)
        obj = {**fields, "proto": PROTO, "event": kind, "ts": ts or utc_now_iso(), "seq": seq}
        event = validate_event(obj, self.extra_events)
        event.to_line()  # fail before numbering when a field is not canonical JSON
        self._seq[key] = seq + 1
        self._writer.write(event)
        return event

    def _merge(self, fields: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
        """Context, then the method's fields, then caller extras (an extra None drops a key)."""
        merged = {**self.context, **fields, **extra}
        return {
            k: v
            for k, v in merged.items()
            if k not in ENVELOPE_KEYS and not (v is None and k in extra)
        }

    def emit(self, kind: str, **fields: Any) -> Event:
        """Any admitted kind with the given fields (e.g. ``supervisor:hello``)."""
        with self._lock:
            return self._stamp(kind, self._merge({}, fields), None)

    def forward(self, event: Event | Mapping[str, Any], **overrides: Any) -> Event:
        """Re-emit someone else's event with a fresh ``seq`` from this emitter.

        A supervisor forwards its children's ``task:*`` and ``log`` events this
        way: ``overrides`` (``jobId``, ``pid``) are set, ``None`` removes a
        field, the context fills what is missing, and the original ``ts`` is
        kept because it is when the thing happened.
        """
        if not isinstance(event, Event):
            event = validate_event(dict(event), self.extra_events)
        fields = {**self.context, **event.fields}
        for key, value in overrides.items():
            if value is None:
                fields.pop(key, None)
            else:
                fields[key] = value
        with self._lock:
            return self._stamp(event.event, self._merge(fields, {}), event.ts)

    # ---------------------------------------------------------------- log

    def log(
        self,
        message: str,
        level: str = "info",
        *,
        stream: str | None = None,
        meta: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        **extra: Any,
    ) -> Event:
        """A ``log`` event; ``warning``/``critical``/``fatal`` map to warn/error."""
        level = _LEVEL_ALIASES.get(level, level)
        fields: dict[str, Any] = {
            "level": level,
            "message": message,
            "stream": stream or self.stream,
        }
        if meta is not None:
            fields["meta"] = dict(meta)
        if task_id is not None:
            fields["taskId"] = task_id
        with self._lock:
            return self._stamp("log", self._merge(fields, extra), None)

    # --------------------------------------------------------------- tasks

    def _task_key(self, task_id: str, extra: Mapping[str, Any]) -> tuple[str | None, str]:
        job = extra.get("jobId", self.context.get("jobId"))
        return (job if isinstance(job, str) else None, task_id)

    def task_start(
        self,
        task_id: str,
        name: str | None = None,
        stage: str | None = None,
        *,
        mode: str | None = None,
        total: float | None = None,
        unit: str | None = None,
        **extra: Any,
    ) -> Event:
        """A ``task:start``; ``name`` defaults to the id, ``stage`` to its prefix.

        ``total`` and ``unit`` are remembered for later progress calls.
        """
        fields: dict[str, Any] = {
            "taskId": task_id,
            "name": task_id if name is None else name,
            "stage": task_stage(task_id) if stage is None else stage,
        }
        if mode is not None:
            fields["mode"] = mode
        with self._lock:
            event = self._stamp("task:start", self._merge(fields, extra), None)
            self._tasks[self._task_key(task_id, extra)] = _TaskClock(
                started=self._clock(), total=total, unit=unit
            )
            return event

    def task_progress(
        self,
        task_id: str,
        current: float,
        total: float | None = None,
        *,
        unit: str | None = None,
        percent: float | None = None,
        force: bool = False,
        **extra: Any,
    ) -> Event | None:
        """A ``task:progress``, or None when throttled.

        ``total``/``unit`` default to the last ones given for the task and
        ``percent`` is computed from them. An update is always written when it
        is the task's first, reaches ``total``, or ``force`` is set.
        """
        with self._lock:
            key = self._task_key(task_id, extra)
            clock = self._tasks.get(key)
            if clock is None:
                clock = self._tasks[key] = _TaskClock(started=self._clock())
            if total is not None:
                clock.total = total
            if unit is not None:
                clock.unit = unit
            fields: dict[str, Any] = {"taskId": task_id, "current": current, "total": clock.total}
            if clock.unit is not None:
                fields["unit"] = clock.unit
            pct = percent if percent is not None else _percent(current, clock.total)
            if pct is not None:
                fields["percent"] = pct
            merged = self._merge(fields, extra)
            now = self._clock()
            done = clock.total is not None and current >= clock.total
            due = clock.last_emit is None or now - clock.last_emit >= self.throttle_s
            if not (force or done or due):
                clock.pending = merged
                return None
            event = self._stamp("task:progress", merged, None)
            clock.last_emit = now
            clock.pending = None
            return event

    def _flush_pending(self, clock: _TaskClock) -> None:
        if clock.pending is not None:
            pending, clock.pending = clock.pending, None
            self._stamp("task:progress", pending, None)
            clock.last_emit = self._clock()

    def task_end(
        self,
        task_id: str,
        status: str = "ok",
        *,
        error: str | Mapping[str, Any] | None = None,
        duration_ms: float | None = None,
        **extra: Any,
    ) -> Event:
        """A ``task:end``; ``durationMs`` is measured from ``task_start`` if not given."""
        with self._lock:
            key = self._task_key(task_id, extra)
            clock = self._tasks.pop(key, None)
            if clock is not None:
                self._flush_pending(clock)
            fields: dict[str, Any] = {"taskId": task_id, "status": status}
            if duration_ms is not None:
                fields["durationMs"] = duration_ms
            elif clock is not None:
                fields["durationMs"] = _ms(self._clock() - clock.started)
            if error is not None:
                fields["error"] = error if isinstance(error, str) else dict(error)
            return self._stamp("task:end", self._merge(fields, extra), None)

    # ---------------------------------------------------------------- jobs

    def _job_id(self, job_id: str | None) -> Any:
        return job_id if job_id is not None else self.context.get("jobId")

    def job_start(
        self,
        command: str,
        args: Sequence[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        *,
        job_id: str | None = None,
        title: str | None = None,
        **extra: Any,
    ) -> Event:
        """A ``job:start``; ``job_id`` defaults to the context's ``jobId``, ``cwd`` to ours."""
        fields: dict[str, Any] = {
            "jobId": self._job_id(job_id),
            "command": command,
            "args": list(args),
            "cwd": os.fspath(os.getcwd() if cwd is None else cwd),
        }
        if title is not None:
            fields["title"] = title
        with self._lock:
            event = self._stamp("job:start", self._merge(fields, extra), None)
            self._jobs[event["jobId"]] = self._clock()
            return event

    def job_spawn(
        self,
        pid: int,
        *,
        job_id: str | None = None,
        spawned_at: str | None = None,
        **extra: Any,
    ) -> Event:
        """A ``job:spawn``: the job's process is running as ``pid``."""
        fields = {
            "jobId": self._job_id(job_id),
            "pid": pid,
            "spawnedAt": spawned_at or utc_now_iso(),
        }
        with self._lock:
            return self._stamp("job:spawn", self._merge(fields, extra), None)

    def job_end(
        self,
        status: str = "ok",
        *,
        job_id: str | None = None,
        exit_code: int | Literal[_Default.TOKEN] | None = _DEFAULT,
        signal: str | None = None,
        duration_ms: float | None = None,
        result: Any = None,
        error: Mapping[str, Any] | str | None = None,
        termination: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> Event:
        """A ``job:end``; ``exitCode`` defaults to 0/1/130 for ok/failed/cancelled.

        ``durationMs`` is measured from :meth:`job_start` (or from this
        emitter's creation when the job was not started here).
        """
        with self._lock:
            jid = self._job_id(job_id)
            started = self._jobs.pop(jid, self._created) if isinstance(jid, str) else self._created
            if exit_code is _DEFAULT:
                exit_code = _EXIT_FOR_STATUS.get(status, 1)
            fields: dict[str, Any] = {
                "jobId": jid,
                "status": status,
                "exitCode": exit_code,
                "signal": signal,
                "durationMs": (
                    duration_ms if duration_ms is not None else _ms(self._clock() - started)
                ),
            }
            if result is not None:
                fields["result"] = result
            if error is not None:
                fields["error"] = error if isinstance(error, str) else dict(error)
            if termination is not None:
                fields["termination"] = dict(termination)
            return self._stamp("job:end", self._merge(fields, extra), None)

    def job_artifacts(
        self,
        artifacts: Sequence[Mapping[str, Any]],
        *,
        job_id: str | None = None,
        artifacts_indexed: int | bool | None = None,
        **extra: Any,
    ) -> Event:
        """A ``job:artifacts``; ``artifactsIndexed`` defaults to the list's length."""
        fields = {
            "jobId": self._job_id(job_id),
            "artifacts": [dict(a) for a in artifacts],
            "artifactsIndexed": len(artifacts) if artifacts_indexed is None else artifacts_indexed,
        }
        with self._lock:
            return self._stamp("job:artifacts", self._merge(fields, extra), None)

    # ------------------------------------------------------------- logging

    def handler(self, level: int = logging.NOTSET) -> ProgressLogHandler:
        """A ``logging.Handler`` that turns records into ``log`` events."""
        return ProgressLogHandler(self, level)

    # ----------------------------------------------------------- lifecycle

    def flush(self) -> None:
        """Write every throttled-away ``task:progress`` still pending."""
        with self._lock:
            for clock in self._tasks.values():
                self._flush_pending(clock)

    def close(self) -> None:
        """Flush pending progress and close a file this emitter opened (idempotent)."""
        with self._lock:
            if self._closed.is_set():
                return
            self.flush()
            self._closed.set()
            self._writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _level_name(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    if levelno >= logging.DEBUG:
        return "debug"
    return "trace"


class ProgressLogHandler(logging.Handler):
    """Routes ``logging`` records to an Emitter as ``log`` events.

    In jsonl mode this is how warnings and tracebacks stay protocol lines: the
    message carries the formatted traceback, ``meta.logger`` the logger name.
    """

    def __init__(self, emitter: Emitter, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.emitter = emitter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            elif record.exc_text:
                message += "\n" + record.exc_text
            if record.stack_info:
                message += "\n" + record.stack_info
            self.emitter.log(message, _level_name(record.levelno), meta={"logger": record.name})
        except Exception:
            self.handleError(record)
