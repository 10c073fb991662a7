"""The ``poc.progress@2`` event: one value type, one allow-list, one strict parser.

Every line on a progress stream is one canonical JSON object with ``proto``,
``event``, ``ts`` and ``seq`` plus optional ``runId``, ``jobId``, ``pid`` and
``stream``; each event kind adds its own fields (roadmap §7.2). Fields this
module does not know are kept untouched, so tools can attach ``data`` and
supervisors can forward what children wrote.

The parser is strict on purpose: a tool's own ``{"ok":true}`` result or any
other stray JSON must never be mistaken for progress, so anything that is not a
well-formed event of an admitted kind raises :class:`ProgressError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from groundwork import jsonio
from groundwork.errors import JsonError, ProgressError
from groundwork.jsonio import utc_now_iso

__all__ = [
    "ENVELOPE_KEYS",
    "EVENTS",
    "LEVELS",
    "PROTO",
    "STATUSES",
    "Event",
    "ProgressError",
    "parse_event",
    "task_stage",
    "utc_now_iso",
    "validate_event",
]

PROTO = "poc.progress@2"

EVENTS: frozenset[str] = frozenset(
    {
        "log",
        "task:start",
        "task:progress",
        "task:end",
        "job:start",
        "job:spawn",
        "job:end",
        "job:artifacts",
    }
)
"""The allow-list; other kinds (``supervisor:hello``) need ``extra_events``."""

LEVELS: tuple[str, ...] = ("trace", "debug", "info", "warn", "error")
"""``log`` levels, least to most severe."""

STATUSES: frozenset[str] = frozenset({"ok", "failed", "cancelled"})
"""Terminal status of a task or a job."""

ENVELOPE_KEYS: frozenset[str] = frozenset({"proto", "event", "ts", "seq"})
"""Keys every event carries and only the stamping code may set."""

_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def task_stage(task_id: str) -> str:
    """The default ``stage`` of a task: its id up to the first ``:`` (or all of it)."""
    return task_id.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Event:
    """One protocol event; ``fields`` holds everything but the four envelope keys.

    Treat ``fields`` as read-only: :meth:`with_fields` and
    :func:`dataclasses.replace` give changed copies.
    """

    event: str
    seq: int
    ts: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    proto: str = PROTO

    def get(self, key: str, default: Any = None) -> Any:
        """A field's value, or ``default`` when the event lacks it."""
        return self.fields.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __contains__(self, key: object) -> bool:
        return key in self.fields

    @property
    def job_id(self) -> str | None:
        value = self.fields.get("jobId")
        return value if isinstance(value, str) else None

    @property
    def run_id(self) -> str | None:
        value = self.fields.get("runId")
        return value if isinstance(value, str) else None

    @property
    def task_id(self) -> str | None:
        value = self.fields.get("taskId")
        return value if isinstance(value, str) else None

    @property
    def stream(self) -> str | None:
        value = self.fields.get("stream")
        return value if isinstance(value, str) else None

    def with_fields(self, **changes: Any) -> Event:
        """A copy with ``changes`` merged into ``fields`` (``None`` deletes a key)."""
        merged = {**self.fields, **changes}
        return Event(
            event=self.event,
            seq=self.seq,
            ts=self.ts,
            fields={k: v for k, v in merged.items() if v is not None or k not in changes},
            proto=self.proto,
        )

    def to_dict(self) -> dict[str, Any]:
        """The wire object: envelope plus fields."""
        return {
            **self.fields,
            "proto": self.proto,
            "event": self.event,
            "ts": self.ts,
            "seq": self.seq,
        }

    def to_line(self) -> bytes:
        """One canonical JSON line, ``\\n``-terminated, ready to write."""
        return jsonio.dumps(self.to_dict()) + b"\n"


# ---------------------------------------------------------------- field checks
# Each check returns None when the value is acceptable, else what was expected.

Check = Callable[[Any], str | None]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _nonempty_string(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _count(value: Any) -> str | None:
    return None if _is_number(value) and value >= 0 else "a number >= 0"


def _count_or_null(value: Any) -> str | None:
    return None if value is None or (_is_number(value) and value >= 0) else "a number >= 0 or null"


def _number(value: Any) -> str | None:
    return None if _is_number(value) else "a number"


def _pid(value: Any) -> str | None:
    return None if _is_int(value) and value >= 0 else "an integer >= 0"


def _int_or_null(value: Any) -> str | None:
    return None if value is None or _is_int(value) else "an integer or null"


def _str_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "a string or null"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "an object"


def _object_or_null(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict) else "an object or null"


def _error(value: Any) -> str | None:
    ok = value is None or isinstance(value, str | dict)
    return None if ok else "a string, an object or null"


def _anything(value: Any) -> str | None:
    return None


def _level(value: Any) -> str | None:
    return None if value in LEVELS else f"one of {', '.join(LEVELS)}"


def _status(value: Any) -> str | None:
    return None if value in STATUSES else "one of ok, failed, cancelled"


def _string_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return None if ok else "a list of strings"


def _object_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return None if ok else "a list of objects"


def _indexed(value: Any) -> str | None:
    ok = isinstance(value, bool) or (_is_int(value) and value >= 0)
    return None if ok else "an integer >= 0 or a boolean"


def _timestamp(value: Any) -> str | None:
    ok = isinstance(value, str) and _TS_RE.match(value) is not None
    return None if ok else "an ISO-8601 UTC timestamp"


@dataclass(frozen=True, slots=True)
class _Shape:
    """Required and optional fields of one event kind."""

    required: Mapping[str, Check]
    optional: Mapping[str, Check] = field(default_factory=dict)


_ENVELOPE_OPTIONAL: Mapping[str, Check] = {
    "runId": _string,
    "jobId": _nonempty_string,
    "pid": _pid,
    "stream": _string,
}

# ``signal`` (job:end) and ``artifactsIndexed`` (job:artifacts) are optional on
# input because upstream's own examples omit them; the Emitter always writes them.
_SHAPES: Mapping[str, _Shape] = {
    "log": _Shape(
        {"level": _level, "message": _string, "stream": _string},
        {"meta": _object, "taskId": _nonempty_string},
    ),
    "task:start": _Shape(
        {"taskId": _nonempty_string, "name": _string, "stage": _string},
        {"mode": _string},
    ),
    "task:progress": _Shape(
        {"taskId": _nonempty_string, "current": _count, "total": _count_or_null},
        {"unit": _string, "percent": _number},
    ),
    "task:end": _Shape(
        {"taskId": _nonempty_string, "status": _status},
        {"durationMs": _count, "error": _error},
    ),
    "job:start": _Shape(
        {"jobId": _nonempty_string, "command": _string, "args": _string_list, "cwd": _string},
        {"title": _str_or_null},
    ),
    "job:spawn": _Shape(
        {"jobId": _nonempty_string, "pid": _pid, "spawnedAt": _timestamp},
    ),
    "job:end": _Shape(
        {
            "jobId": _nonempty_string,
            "status": _status,
            "exitCode": _int_or_null,
            "durationMs": _count,
        },
        {
            "signal": _str_or_null,
            "result": _anything,
            "error": _error,
            "termination": _object_or_null,
        },
    ),
    "job:artifacts": _Shape(
        {"jobId": _nonempty_string, "artifacts": _object_list},
        {"artifactsIndexed": _indexed},
    ),
}


def _check(obj: Mapping[str, Any], checks: Mapping[str, Check], *, required: bool) -> None:
    for key, check in checks.items():
        if key not in obj:
            if required:
                raise ProgressError(f"{obj.get('event')} event lacks required field {key!r}")
            continue
        expected = check(obj[key])
        if expected is not None:
            raise ProgressError(
                f"{obj.get('event')} field {key!r} must be {expected}, got {obj[key]!r}"
            )


def validate_event(obj: Any, extra_events: Iterable[str] = ()) -> Event:
    """Check a decoded JSON value against the protocol and wrap it as an Event.

    Raises ProgressError naming the first problem found.
    """
    if not isinstance(obj, dict):
        raise ProgressError(f"a progress event is a JSON object, not {type(obj).__name__}")
    proto = obj.get("proto")
    if proto != PROTO:
        raise ProgressError(f"proto must be {PROTO!r}, got {proto!r}")
    kind = obj.get("event")
    if not isinstance(kind, str) or not (kind in EVENTS or kind in frozenset(extra_events)):
        raise ProgressError(f"event {kind!r} is not in the allow-list")
    ts = obj.get("ts")
    if not isinstance(ts, str) or _TS_RE.match(ts) is None:
        raise ProgressError(f"ts must be an ISO-8601 UTC timestamp, got {ts!r}")
    seq = obj.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ProgressError(f"seq must be an integer >= 0, got {seq!r}")
    shape = _SHAPES.get(kind)
    if shape is not None:
        _check(obj, shape.required, required=True)
        optional = {k: v for k, v in _ENVELOPE_OPTIONAL.items() if k not in shape.required}
        _check(obj, {**optional, **shape.optional}, required=False)
    else:
        _check(obj, _ENVELOPE_OPTIONAL, required=False)
    fields = {k: v for k, v in obj.items() if k not in ENVELOPE_KEYS}
    return Event(event=kind, seq=seq, ts=ts, fields=fields)


def parse_event(line: str | bytes, extra_events: Iterable[str] = ()) -> Event:
    """Parse one protocol line (a trailing ``\\n`` or ``\\r\\n`` is allowed).

    Strict: non-JSON, JSON that is not an object, a wrong ``proto``, a kind
    outside the allow-list (plus ``extra_events``) or a malformed field all
    raise ProgressError. One object per line: an embedded newline is refused.
    """
    body: str | bytes
    if isinstance(line, bytes):
        raw = line.removesuffix(b"\n").removesuffix(b"\r")
        multiline = b"\n" in raw or b"\r" in raw
        body = raw
    else:
        text = line.removesuffix("\n").removesuffix("\r")
        multiline = "\n" in text or "\r" in text
        body = text
    if multiline:
        raise ProgressError("a progress event is exactly one line")
    try:
        obj = jsonio.loads(body)
    except JsonError as exc:
        raise ProgressError(f"not JSON: {exc}") from exc
    return validate_event(obj, extra_events)
