"""The Primary Brain planner (spec §8): goal text in, at most 5 typed tasks out.

``deterministic_plan`` is M10's rule set, pure and exact. ``llm_plan`` asks the
provider for JSON and validates it strictly; anything else (error, timeout,
bad JSON, wrong shape) falls back to the deterministic plan and says why, so
the caller can send ``planner/fallback``. ``make_plan`` picks by mode.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from groundwork.llm import LLMError, Message, Options, Provider

from spiderweb.brain.settings import PlannerConfig, resolve_mode

TaskKind = Literal["research", "execution", "status"]
KINDS: tuple[TaskKind, ...] = ("research", "execution", "status")
MAX_TASKS = 5
MAX_TITLE_CHARS = 200
DEFAULT_TASKS: tuple[str, ...] = (
    "Understand the goal and required outcome",
    "Collect key constraints and required inputs",
    "Produce an actionable result and next steps",
)
_PREFIX = re.compile(r"^(?:- |\* |\+ |\d+\. |\d+\) |Task )")
_SENTENCE = re.compile(r"[.!?]")


class InvalidGoal(ValueError):
    """The goal is empty after trimming (reply ``error{code:"invalid_goal"}``)."""


class PlanRejected(ValueError):
    """An LLM plan that fails validation; the message says which rule."""


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """One task; ``depends_on`` holds 1-based ids of earlier tasks."""

    title: str
    kind: TaskKind
    depends_on: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    """A plan and which planner produced it; ``fallback_reason`` is set when LLM planning failed."""

    goal: str
    tasks: tuple[PlannedTask, ...]
    planner: Literal["llm", "deterministic"]
    fallback_reason: str | None = None

    @property
    def reply_text(self) -> str:
        n = len(self.tasks)
        if self.planner == "llm":
            return f"I have a plan with {n} task(s) for this goal."
        return f"I have a deterministic plan with {n} task(s) for this goal."

    @property
    def ram_text(self) -> str:
        """The system entry RAM gets after the goal itself."""
        lines = [f"Primary Brain plan for goal: {self.goal}"]
        lines += [f"{i}. {t.title}" for i, t in enumerate(self.tasks, start=1)]
        return "\n".join(lines)


def clean_goal(text: str) -> str:
    """Trim; an empty goal raises ``InvalidGoal``."""
    goal = text.strip()
    if not goal:
        raise InvalidGoal("goal is empty")
    return goal


def split_goal(goal: str) -> list[str]:
    """M10's split: the first rule that applies of ``;``/newline, `` and ``, ``,``, ``.!?``."""
    if ";" in goal or "\n" in goal:
        return re.split(r"[;\n]", goal)
    if " and " in goal:
        return goal.split(" and ")
    if "," in goal:
        return goal.split(",")
    if _SENTENCE.search(goal):
        return _SENTENCE.split(goal)
    return [goal]


def clean_part(part: str) -> str:
    """Trim, strip one list/``Task `` prefix, trim `` -.``."""
    text = part.strip()
    text = _PREFIX.sub("", text, count=1)
    return text.strip(" -.")


def deterministic_plan(goal: str) -> Plan:
    """M10's planner: split, clean, drop empties, default three tasks, at most 5, kinds cycle."""
    goal = clean_goal(goal)
    titles = [t for t in (clean_part(p) for p in split_goal(goal)) if t]
    if not titles:
        titles = list(DEFAULT_TASKS)
    tasks = tuple(PlannedTask(t, KINDS[i % 3]) for i, t in enumerate(titles[:MAX_TASKS]))
    return Plan(goal, tasks, "deterministic")


PLANNER_PROMPT = (
    "You are the planning module of an agent. Split the user's goal into 1 to 5 tasks. "
    'Answer with one JSON object only: {"tasks":[{"title":"...","kind":"research"|'
    '"execution"|"status","depends_on":[<ids of earlier tasks, 1-based>]}]}. '
    "Titles are short imperative phrases (at most 200 characters). No prose, no code fences."
)


def extract_json_object(text: str) -> Any:
    """Parse a reply that should be one JSON object, tolerating code fences around it."""
    body = text.strip()
    if body.startswith("```"):
        body = re.sub(r"^```[A-Za-z0-9_-]*\s*", "", body)
        body = re.sub(r"\s*```$", "", body)
    if not body.startswith("{"):
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("no JSON object in reply")
        body = body[start : end + 1]
    return json.loads(body)


def validate_llm_plan(raw: Any) -> tuple[PlannedTask, ...]:
    """§8 rules: 1..5 tasks, titles 1..200 chars, known kinds, dependencies on earlier tasks."""
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list):
        raise PlanRejected('reply is not {"tasks": [...]}')
    items = raw["tasks"]
    if not 1 <= len(items) <= MAX_TASKS:
        raise PlanRejected(f"plan has {len(items)} tasks; 1..{MAX_TASKS} allowed")
    out: list[PlannedTask] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise PlanRejected(f"task {i} is not an object")
        title = item.get("title")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= MAX_TITLE_CHARS:
            raise PlanRejected(f"task {i} title must be 1..{MAX_TITLE_CHARS} characters")
        kind = item.get("kind")
        if kind not in KINDS:
            raise PlanRejected(f"task {i} kind {kind!r} is not research, execution or status")
        deps = item.get("depends_on", [])
        if not isinstance(deps, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in deps
        ):
            raise PlanRejected(f"task {i} depends_on must be a list of ints")
        if any(not 1 <= d < i for d in deps):
            raise PlanRejected(f"task {i} depends on a task that is not earlier")
        out.append(PlannedTask(title.strip(), kind, tuple(deps)))
    return tuple(out)


async def llm_plan(
    goal: str,
    provider: Provider,
    *,
    timeout_s: float = 20.0,
    context: Sequence[Message] = (),
) -> Plan:
    """Ask the provider for a plan; on any failure return the deterministic plan + reason."""
    goal = clean_goal(goal)
    messages = [Message.system(PLANNER_PROMPT), *context, Message.user(f"Goal: {goal}")]
    try:
        completion = await asyncio.wait_for(
            provider.complete(messages, Options(temperature=0.0)), timeout_s
        )
        tasks = validate_llm_plan(extract_json_object(completion.text))
    except TimeoutError:
        return _fallback(goal, f"planner timed out after {timeout_s:g} s")
    except LLMError as exc:
        return _fallback(goal, f"provider error: {exc.code}")
    except (ValueError, PlanRejected) as exc:
        return _fallback(goal, f"invalid plan: {exc}")
    return Plan(goal, tasks, "llm")


def _fallback(goal: str, reason: str) -> Plan:
    plan = deterministic_plan(goal)
    return Plan(plan.goal, plan.tasks, "deterministic", reason)


async def make_plan(
    goal: str,
    provider: Provider | None,
    config: PlannerConfig | None = None,
    *,
    context: Sequence[Message] = (),
) -> Plan:
    """Plan by ``planner.mode``; raises ``InvalidGoal`` for an empty goal."""
    cfg = config or PlannerConfig()
    goal = clean_goal(goal)
    if provider is None or resolve_mode(cfg.mode, provider.type) == "deterministic":
        return deterministic_plan(goal)
    return await llm_plan(goal, provider, timeout_s=cfg.timeout_s, context=context)
