"""The ``poc.progress@2`` progress protocol: events, emitter, decoder, state, renderers.

::

    events   Event, parse_event (strict), the allow-list and field shapes
    emitter  Emitter: stamps ts/seq, merges context, throttles; logging handler
    decoder  Decoder: chunks -> lines -> event-or-log, line cap, CR/CRLF
    context  GROUNDWORK_PROGRESS_CONTEXT in and out of an env mapping
    state    ProgressState: jobs, tasks and recent logs for renderers and TUIs
    render   Reporter and open_reporter: rich | plain | jsonl | none
"""

from __future__ import annotations

from .context import CONTEXT_ALIASES, CONTEXT_ENV, child_env, context_from_env, has_context
from .decoder import DEFAULT_MAX_LINE_BYTES, Decoder, iter_events, iter_streams
from .emitter import Emitter, EventSink, ProgressLogHandler, Sink
from .events import (
    EVENTS,
    LEVELS,
    PROTO,
    STATUSES,
    Event,
    ProgressError,
    parse_event,
    task_stage,
    utc_now_iso,
    validate_event,
)
from .render import (
    MODE_ALIASES,
    MODES,
    NullRenderer,
    PlainRenderer,
    Renderer,
    Reporter,
    RichRenderer,
    open_reporter,
    resolve_mode,
)
from .state import JobState, LogLine, ProgressState, TaskKey, TaskState

__all__ = [
    "CONTEXT_ALIASES",
    "CONTEXT_ENV",
    "DEFAULT_MAX_LINE_BYTES",
    "EVENTS",
    "LEVELS",
    "MODES",
    "MODE_ALIASES",
    "PROTO",
    "STATUSES",
    "Decoder",
    "Emitter",
    "Event",
    "EventSink",
    "JobState",
    "LogLine",
    "NullRenderer",
    "PlainRenderer",
    "ProgressError",
    "ProgressLogHandler",
    "ProgressState",
    "Renderer",
    "Reporter",
    "RichRenderer",
    "Sink",
    "TaskKey",
    "TaskState",
    "child_env",
    "context_from_env",
    "has_context",
    "iter_events",
    "iter_streams",
    "open_reporter",
    "parse_event",
    "resolve_mode",
    "task_stage",
    "utc_now_iso",
    "validate_event",
]
