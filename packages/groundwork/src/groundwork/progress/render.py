"""Reporters: one interface, four outputs (rich bars, plain lines, jsonl, none).

A :class:`Reporter` *is* an :class:`Emitter`: the systems call the same
methods (``task_start``, ``task_progress``, ``log``, ``forward`` …) whatever
the user chose, and only the sink differs. ``jsonl`` writes protocol lines to
the stream; ``rich`` and ``plain`` hand each stamped event to a renderer that
folds it into a :class:`ProgressState` and draws from that; ``none`` checks and
drops. Because every mode stamps and validates the same way, a bug in how a
tool reports shows up in every mode, not only in the one CI happens to use.

:func:`open_reporter` picks the mode: ``auto`` is jsonl when a parent set a
progress context (we are a supervised child), rich bars on a TTY, plain lines
otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from .context import CONTEXT_ALIASES, context_from_env, has_context
from .emitter import Emitter, Sink
from .events import LEVELS, Event, ProgressError
from .state import JobState, ProgressState, TaskKey, TaskState

__all__ = [
    "MODES",
    "MODE_ALIASES",
    "NullRenderer",
    "PlainRenderer",
    "Renderer",
    "Reporter",
    "RichRenderer",
    "open_reporter",
    "resolve_mode",
]

MODES: tuple[str, ...] = ("rich", "plain", "jsonl", "none")
MODE_ALIASES: Mapping[str, str] = {"tty": "rich", "log": "plain", "off": "none"}

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_LEVEL_STYLE = {"trace": "dim", "debug": "dim", "info": "", "warn": "yellow", "error": "bold red"}
_MARK = {"running": " ", "ok": "✓", "failed": "✗", "cancelled": "-"}


def _rank(level: str) -> int:
    return _LEVEL_RANK.get(level, _LEVEL_RANK["info"])


def _seconds(ms: Any) -> str:
    return f"{ms / 1000:.1f}s" if isinstance(ms, int | float) else "?"


def _count(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _job_line(job: JobState) -> str:
    if not job.finished:
        what = job.title or " ".join([job.command or "", *job.args]).strip()
        return f"job {job.job_id} started: {what}"
    code = "" if job.exit_code is None else f", exit {job.exit_code}"
    sig = f", signal {job.signal}" if job.signal else ""
    return f"job {job.job_id} {job.status}{code}{sig} in {_seconds(job.duration_ms)}"


class Renderer(Protocol):
    """What a Reporter hands its events to."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


class NullRenderer:
    """Drops everything (mode ``none``)."""

    def handle(self, event: Event) -> None:
        return None

    def close(self) -> None:
        return None


class _Remaining(TimeRemainingColumn):
    """Time left for a running counted task (rich's estimate from its recent speed); blank
    once it is done or when it has no total, where rich would print ``-:--``/``0:00``."""

    def render(self, task: Any) -> Text:
        if task.finished or task.total is None:
            return Text("")
        return super().render(task)


class RichRenderer:
    """Draws tasks as rich progress bars and prints logs and job lines above them.

    Pass the Console to draw on (tests use ``Console(file=io.StringIO(),
    force_terminal=True)``). Logs below ``min_level`` are not shown; at most
    ``max_finished`` finished bars stay on screen so long runs do not scroll
    the live area off the terminal.
    """

    def __init__(
        self,
        console: Console,
        *,
        min_level: str = "info",
        max_finished: int = 20,
        auto_refresh: bool = True,
        transient: bool = False,
    ) -> None:
        self.console = console
        self.min_level = min_level
        self.max_finished = max_finished
        self.state = ProgressState()
        self.progress = Progress(
            TextColumn("{task.fields[mark]}", markup=False),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[count]}", markup=False),
            TextColumn("{task.fields[unit]}", markup=False),
            TimeElapsedColumn(),
            _Remaining(compact=True),
            console=console,
            auto_refresh=auto_refresh,
            transient=transient,
        )
        self._auto_refresh = auto_refresh
        self._bars: dict[TaskKey, TaskID] = {}
        self._finished: list[TaskKey] = []
        self._started = False
        self._closed = False

    def _start(self) -> None:
        if not self._started and not self._closed:
            self.progress.start()
            self._started = True

    def _description(self, task: TaskState) -> str:
        if task.job_id is not None and len(self.state.jobs) > 1:
            return f"[{task.job_id}] {task.name}"
        return task.name

    def _sync_bar(self, task: TaskState) -> None:
        bar = self._bars.get(task.key)
        mark, unit = _MARK.get(task.status, "?"), task.unit or ""
        description = self._description(task)
        if task.finished and task.status != "ok":
            description += f" ({task.status})"
        total, completed = task.total, task.current
        if total is not None:
            count = f"{_count(completed)}/{_count(total)}"
        else:
            count = _count(completed) if completed else ""
            if task.finished and task.status == "ok":
                total = completed = 1  # done: a full bar, not a pulse with "0/?"
        if bar is None:
            self._start()
            bar = self._bars[task.key] = self.progress.add_task(
                description, total=total, mark=mark, unit=unit, count=count
            )
        self.progress.update(
            bar,
            description=description,
            total=total,
            completed=completed,
            mark=mark,
            unit=unit,
            count=count,
        )
        if task.finished:
            self.progress.stop_task(bar)
            if task.key not in self._finished:
                self._finished.append(task.key)
            while len(self._finished) > self.max_finished:
                old = self._finished.pop(0)
                gone = self._bars.pop(old, None)
                if gone is not None:
                    self.progress.remove_task(gone)
        if not self._auto_refresh:
            self.progress.refresh()

    def _print(self, text: Text) -> None:
        self.progress.console.print(text, highlight=False, soft_wrap=True)

    def handle(self, event: Event) -> None:
        """Fold the event into the state and redraw what it touched."""
        if self._closed or not self.state.apply(event):
            return
        kind = event.event
        if kind == "log":
            line = self.state.recent_logs[-1]
            if _rank(line.level) >= _rank(self.min_level):
                style = _LEVEL_STYLE.get(line.level, "")
                self._print(Text.assemble((f"{line.level:<5} ", style or "none"), line.message))
        elif kind.startswith("task:"):
            task = self.state.tasks.get((event.job_id, str(event["taskId"])))
            if task is not None:
                self._sync_bar(task)
        elif kind in ("job:start", "job:end"):
            job = self.state.jobs[str(event["jobId"])]
            self._print(Text(_job_line(job), style="bold" if kind == "job:start" else ""))
            if kind == "job:end":
                for task in self.state.tasks_of(job.job_id):
                    if task.key in self._bars:
                        self._sync_bar(task)

    def close(self) -> None:
        """Stop the live display, leaving the final bars on screen."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self.progress.refresh()
            self.progress.stop()


class PlainRenderer:
    """One human line per event, for logs and pipes (mode ``plain``).

    Progress of a task is printed at most every ``interval_s`` (and when it
    completes), so a log file stays readable.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        min_level: str = "info",
        interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.min_level = min_level
        self.interval_s = interval_s
        self.state = ProgressState()
        self._clock = clock
        self._last: dict[TaskKey, float] = {}

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def handle(self, event: Event) -> None:
        if not self.state.apply(event):
            return
        kind = event.event
        if kind == "log":
            line = self.state.recent_logs[-1]
            if _rank(line.level) >= _rank(self.min_level):
                self._write(f"{line.level}: {line.message}")
            return
        if kind in ("job:start", "job:end"):
            self._write(_job_line(self.state.jobs[str(event["jobId"])]))
            return
        if not kind.startswith("task:"):
            return
        key = (event.job_id, str(event["taskId"]))
        task = self.state.tasks[key]
        if kind == "task:start":
            self._last[key] = self._clock()
            self._write(f"> {task.name} [{task.task_id}]")
        elif kind == "task:progress":
            now = self._clock()
            complete = task.total is not None and task.current >= task.total
            if not complete and now - self._last.get(key, float("-inf")) < self.interval_s:
                return
            self._last[key] = now
            pct = "" if task.percent is None else f" ({task.percent:.0f}%)"
            unit = f" {task.unit}" if task.unit else ""
            self._write(f"  {task.name}: {_count(task.current)}/{_count(task.total)}{unit}{pct}")
        else:
            self._last.pop(key, None)
            took = "" if task.duration_ms is None else f" in {_seconds(task.duration_ms)}"
            error = f": {task.error}" if task.error else ""
            self._write(f"< {task.name} {task.status}{took}{error}")

    def close(self) -> None:
        self.stream.flush()


class Reporter(Emitter):
    """An Emitter that also owns its renderer; ``mode`` says which output was chosen."""

    def __init__(
        self,
        mode: str,
        sink: Sink,
        context: Mapping[str, Any] | None = None,
        *,
        renderer: Renderer | None = None,
        **options: Any,
    ) -> None:
        super().__init__(renderer.handle if renderer is not None else sink, context, **options)
        self.mode = mode
        self.renderer = renderer

    def close(self) -> None:
        """Flush pending progress, then stop the renderer (idempotent)."""
        try:
            super().close()
        finally:
            if self.renderer is not None:
                self.renderer.close()


def resolve_mode(
    mode: str,
    *,
    env: Mapping[str, str],
    tty: bool,
    aliases: Iterable[str] = CONTEXT_ALIASES,
) -> str:
    """The canonical mode for a user's ``--progress`` value.

    Raises ProgressError for an unknown value, naming the accepted ones.
    """
    name = mode.strip().lower()
    name = MODE_ALIASES.get(name, name)
    if name == "auto":
        if has_context(env, tuple(aliases)):
            return "jsonl"
        return "rich" if tty else "plain"
    if name not in MODES:
        choices = ", ".join(["auto", *MODES, *MODE_ALIASES])
        raise ProgressError(f"unknown progress mode {mode!r}: use one of {choices}")
    return name


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def open_reporter(
    mode: str = "auto",
    *,
    env: Mapping[str, str],
    stream: IO[str],
    tty: bool | None = None,
    console: Console | None = None,
    context: Mapping[str, Any] | None = None,
    extra_events: Iterable[str] = (),
    min_level: str = "info",
    throttle_s: float = 0.1,
) -> Reporter:
    """A Reporter for ``mode`` (``auto``, ``rich``, ``plain``, ``jsonl``, ``none``
    or the aliases ``tty``, ``log``, ``off``) writing to ``stream``.

    ``env`` supplies the progress context (merged into every event; explicit
    ``context`` keys win) and decides ``auto``; ``tty`` defaults to
    ``stream.isatty()``. ``console`` overrides the rich Console. Close the
    reporter (or use it as a context manager) to stop the live display.
    """
    is_tty = _isatty(stream) if tty is None else tty
    chosen = resolve_mode(mode, env=env, tty=is_tty)
    merged = {**context_from_env(env), **(context or {})}
    options: dict[str, Any] = {"throttle_s": throttle_s, "extra_events": extra_events}
    if chosen == "jsonl":
        return Reporter(chosen, stream, merged, **options)
    renderer: Renderer
    if chosen == "rich":
        # rich reads NO_COLOR, COLUMNS, TERM … from the env we were given, not os.environ.
        con = console or Console(
            file=stream, force_terminal=True if tty else None, _environ=dict(env)
        )
        renderer = RichRenderer(con, min_level=min_level)
    elif chosen == "plain":
        renderer = PlainRenderer(stream, min_level=min_level)
    else:
        renderer = NullRenderer()
    return Reporter(chosen, stream, merged, renderer=renderer, **options)
