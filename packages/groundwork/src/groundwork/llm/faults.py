"""Scripted faults, shared by the ``mock`` provider and the fake LLM server.

One vocabulary for both, so a test can move between them: ``ok``, ``text(s)``,
``status(code, retry_after)``, ``hang``, ``delay(s)``, ``reset(after)``,
``malformed``, ``chunked``, ``stall_after(n)`` and ``fault_rate(p, action, seed)``.
The string form is a comma list, each item optionally repeated with ``xN``:
``"429x2,ok"``, ``"status(429,1)x2,500,ok"``, ``"fault_rate(0.2,429,7)"``.
A bare three-digit number is ``status(code)``.

A ``Script`` hands out one action per call; when it runs out, calls are ``ok``.
A ``FaultRate`` never runs out, so steps after it are never reached.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

ActionKind: TypeAlias = Literal[
    "ok", "text", "status", "hang", "delay", "reset", "malformed", "chunked", "stall_after"
]


@dataclass(frozen=True, slots=True)
class Action:
    """One scripted outcome; build with the factory functions below."""

    kind: ActionKind
    text: str | None = None
    status: int | None = None
    retry_after: float | None = None
    seconds: float | None = None
    after: int | None = None

    @property
    def label(self) -> str:
        """Short outcome name recorded per request (``status:429``, ``stall_after:3``)."""
        if self.kind == "status":
            return f"status:{self.status}"
        if self.kind in ("stall_after", "reset") and self.after:
            return f"{self.kind}:{self.after}"
        return self.kind

    def __str__(self) -> str:
        if self.kind == "text":
            return f"text({json.dumps(self.text)})"
        if self.kind == "status":
            if self.retry_after is None:
                return str(self.status)
            return f"status({self.status},{_num(self.retry_after)})"
        if self.kind == "delay":
            return f"delay({_num(self.seconds or 0.0)})"
        if self.kind == "stall_after":
            return f"stall_after({self.after})"
        if self.kind == "reset" and self.after:
            return f"reset({self.after})"
        return self.kind


@dataclass(frozen=True, slots=True)
class FaultRate:
    """With probability ``p`` per call do ``action``, else ``ok``; seeded, so reproducible."""

    p: float
    action: Action
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"fault_rate p must be within 0..1, got {self.p!r}")

    def __str__(self) -> str:
        return f"fault_rate({_num(self.p)},{self.action},{self.seed})"


Step: TypeAlias = Action | FaultRate
Actions: TypeAlias = str | Step | Iterable[str | Step]


def _num(v: float) -> str:
    return repr(int(v)) if float(v).is_integer() else repr(float(v))


def ok() -> Action:
    return Action("ok")


def text(s: str) -> Action:
    """Reply ``s`` instead of the configured reply."""
    return Action("text", text=s)


def status(code: int, retry_after: float | None = None) -> Action:
    """Fail with HTTP ``code``; ``retry_after`` becomes the ``Retry-After`` header."""
    if not 100 <= code <= 599:
        raise ValueError(f"status code must be within 100..599, got {code}")
    return Action("status", status=code, retry_after=retry_after)


def hang() -> Action:
    """Accept the request and never answer (until the server stops or resets)."""
    return Action("hang")


def delay(seconds: float) -> Action:
    """Answer normally after ``seconds``."""
    if seconds < 0:
        raise ValueError(f"delay must be >= 0, got {seconds}")
    return Action("delay", seconds=float(seconds))


def reset(after: int = 0) -> Action:
    """Cut the connection, at once or after ``after`` streamed pieces."""
    if after < 0:
        raise ValueError(f"reset after must be >= 0, got {after}")
    return Action("reset", after=after)


def malformed() -> Action:
    """Answer 200 with a body (or stream event) that is not valid JSON."""
    return Action("malformed")


def chunked() -> Action:
    """Answer normally in many tiny pieces (one character per delta, split writes)."""
    return Action("chunked")


def stall_after(n: int) -> Action:
    """Stream ``n`` pieces, then go silent without closing."""
    if n < 0:
        raise ValueError(f"stall_after n must be >= 0, got {n}")
    return Action("stall_after", after=n)


def fault_rate(p: float, action: Action | str, seed: int = 0) -> FaultRate:
    """Inject ``action`` into a fraction ``p`` of calls."""
    act = action if isinstance(action, Action) else _parse_action(action)
    return FaultRate(float(p), act, int(seed))


_REPEAT = re.compile(r"^(?P<body>.+?)\s*[x×*]\s*(?P<n>\d+)$", re.DOTALL)
_CALL = re.compile(r"^(?P<name>[a-z_]+|\d{3})\s*(?:\((?P<args>.*)\))?$", re.DOTALL)


def _split_top(s: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    cur: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch == "(":
            depth += 1
            cur.append(ch)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in script {s!r}")
            cur.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if depth or quote:
        raise ValueError(f"unbalanced parentheses or quotes in script {s!r}")
    parts.append("".join(cur).strip())
    return parts


def _unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] == '"':
        value = json.loads(arg)
        if not isinstance(value, str):
            raise ValueError(f"text argument must be a string, got {arg!r}")
        return value
    if len(arg) >= 2 and arg[0] == arg[-1] == "'":
        return arg[1:-1]
    return arg


def _parse_step(item: str) -> Step:
    m = _CALL.match(item)
    if m is None:
        raise ValueError(f"unknown script action {item!r}")
    name, raw = m.group("name"), m.group("args")
    if name == "fault_rate":
        args = _split_top(raw or "")
        if len(args) not in (2, 3):
            raise ValueError(f"fault_rate takes (p, action[, seed]), got {item!r}")
        return fault_rate(float(args[0]), args[1], int(args[2]) if len(args) == 3 else 0)
    return _parse_action(item)


def _parse_action(item: str) -> Action:
    m = _CALL.match(item.strip())
    if m is None:
        raise ValueError(f"unknown script action {item!r}")
    name, raw = m.group("name"), m.group("args")
    if name == "text":
        return text(_unquote((raw or "").strip()))
    args = [a for a in _split_top(raw) if a] if raw is not None else []
    try:
        if name.isdigit():
            return status(int(name), float(args[0]) if args else None)
        if name == "status":
            if not args:
                raise ValueError("status needs a code")
            return status(int(args[0]), float(args[1]) if len(args) > 1 else None)
        if name == "delay":
            return delay(float(args[0]) if args else 0.0)
        if name == "reset":
            return reset(int(args[0]) if args else 0)
        if name == "stall_after":
            return stall_after(int(args[0]) if args else 0)
        simple = {"ok": ok, "hang": hang, "malformed": malformed, "chunked": chunked}
        if name in simple and not args:
            return simple[name]()
    except (ValueError, IndexError) as exc:
        raise ValueError(f"bad script action {item!r}: {exc}") from None
    raise ValueError(f"unknown script action {item!r}")


def parse_script(script: str) -> list[Step]:
    """Parse the string form (``"429x2,ok"``) into steps; a bad item raises ``ValueError``."""
    steps: list[Step] = []
    if not script.strip():
        return steps
    for item in _split_top(script):
        if not item:
            raise ValueError(f"empty item in script {script!r}")
        count = 1
        rep = _REPEAT.match(item)
        if rep is not None and _CALL.match(rep.group("body")):
            item, count = rep.group("body"), int(rep.group("n"))
        step = _parse_step(item)
        steps.extend([step] * count)
    return steps


def coerce_steps(actions: Actions) -> list[Step]:
    """Accept a string, one step, or an iterable mixing both."""
    if isinstance(actions, str):
        return parse_script(actions)
    if isinstance(actions, Action | FaultRate):
        return [actions]
    steps: list[Step] = []
    for a in actions:
        steps.extend(coerce_steps(a))
    return steps


class Script:
    """A thread-safe queue of steps; ``next()`` returns ``None`` once it is used up."""

    def __init__(self, actions: Actions = ()) -> None:
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._rngs: dict[int, random.Random] = {}
        self.extend(actions)

    def extend(self, actions: Actions) -> None:
        steps = coerce_steps(actions)
        with self._lock:
            self._steps.extend(steps)

    def clear(self) -> None:
        with self._lock:
            self._steps.clear()
            self._rngs.clear()

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._steps)

    def next(self) -> Action | None:
        with self._lock:
            if not self._steps:
                return None
            head = self._steps[0]
            if isinstance(head, Action):
                self._steps.popleft()
                return head
            rng = self._rngs.setdefault(id(head), random.Random(head.seed))
            return head.action if rng.random() < head.p else ok()
