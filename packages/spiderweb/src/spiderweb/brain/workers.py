"""Worker sub-brains (spec §9): run one planned task with the sandboxed tools.

Two kinds, picked by ``workers.mode`` (``auto`` = LLM unless the provider is
``mock``):

- **deterministic** (M10 behaviour, now with real tools): research searches the
  workspace for the title's words, execution lists and reads the best
  matching file, status reports goal progress. Without a workspace each
  answers M10's text ``<kind>: found <wordcount> <research terms|…>``.
- **LLM**: up to ``workers.max_steps`` steps; each model reply is one JSON object,
  ``{"tool": name, "args": {...}}`` or ``{"final": text}``; one corrective retry
  on invalid JSON, then the task fails.

Workers return a ``WorkerResult`` (``complete``/``failed``). The task timeout
and cancellation belong to the caller (``asyncio.wait_for`` and task cancel);
``call_tool`` forwards a cancel into the tool's thread via its token.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from groundwork.llm import LLMError, Message, Options, Provider

from spiderweb.brain.planner import TaskKind, extract_json_object
from spiderweb.brain.settings import WorkersConfig, resolve_mode
from spiderweb.memory.ram import truncate_utf8
from spiderweb.tools.base import Tool, ToolContext, ToolResult, call_tool

MAX_DETAIL_BYTES = 1024
_WORD = re.compile(r"[A-Za-z0-9_]+")
_M10_LABEL: dict[str, str] = {
    "research": "research terms",
    "execution": "execution steps",
    "status": "status checks",
}


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An immutable copy of what the worker needs from the goal."""

    task_id: int
    title: str
    kind: TaskKind
    goal: str = ""
    completed: int = 0
    total: int = 1


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """A finished task: ``detail`` is at most 1 KiB; ``worker`` says which kind ran."""

    status: Literal["complete", "failed"]
    detail: str
    worker: Literal["llm", "deterministic"]
    steps: int = 0


def bounded_detail(text: str) -> str:
    """Cut a detail to 1 KiB at a character boundary."""
    return truncate_utf8(text, MAX_DETAIL_BYTES)


def result_entry(task_id: int, kind: str, status: str, detail: str) -> str:
    """The RAM ``tool_result`` text ``[task N kind status] detail``, at most 1 KiB."""
    return truncate_utf8(f"[task {task_id} {kind} {status}] {detail}", MAX_DETAIL_BYTES)


def title_terms(title: str) -> list[str]:
    """The title's words of at least 3 characters, lowercased, first occurrence order."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(title):
        if len(w) >= 3:
            seen.setdefault(w.lower(), None)
    return list(seen)


def m10_text(kind: str, title: str) -> str:
    """M10's workspace-less text: ``<kind>: found <wordcount> <label>``."""
    return f"{kind}: found {len(title.split())} {_M10_LABEL.get(kind, 'items')}"


def _done(detail: str, worker: Literal["llm", "deterministic"] = "deterministic") -> WorkerResult:
    return WorkerResult("complete", bounded_detail(detail), worker)


def _failed(detail: str, worker: Literal["llm", "deterministic"] = "deterministic") -> WorkerResult:
    return WorkerResult("failed", bounded_detail(detail), worker)


# -- deterministic ----------------------------------------------------------------------------
async def deterministic_worker(
    item: WorkItem,
    tools: Mapping[str, Tool],
    ctx: ToolContext,
    *,
    call_timeout_s: float = 10.0,
) -> WorkerResult:
    """M10's research/execution/status workers backed by the real tools."""
    if item.kind == "status":
        if ctx.workspace is None:
            return _done(m10_text(item.kind, item.title))
        return _done(f"status: {item.completed} of {item.total} tasks complete")
    if ctx.workspace is None:
        return _done(m10_text(item.kind, item.title))
    terms = title_terms(item.title)
    if item.kind == "research":
        return await _research(terms, tools, ctx, call_timeout_s)
    return await _execution(terms, tools, ctx, call_timeout_s)


async def _research(
    terms: Sequence[str], tools: Mapping[str, Tool], ctx: ToolContext, timeout_s: float
) -> WorkerResult:
    label = " ".join(terms)
    hits: dict[tuple[str, int], None] = {}
    for term in terms:
        res = await call_tool(
            tools["search"], {"query": term, "limit": 20}, ctx, timeout_s=timeout_s
        )
        if not res.ok:
            return _failed(f"research: search failed ({res.error_code}): {res.output}")
        for m in (res.data or {}).get("matches", []):
            hits.setdefault((m["path"], m["line"]), None)
    per_path = Counter(path for path, _ in hits)
    top = sorted(per_path, key=lambda p: (-per_path[p], p))[:3]
    detail = f'research: found {len(hits)} matches for "{label}"'
    if top:
        detail += "; top: " + ", ".join(top)
    return _done(detail)


async def _execution(
    terms: Sequence[str], tools: Mapping[str, Tool], ctx: ToolContext, timeout_s: float
) -> WorkerResult:
    label = " ".join(terms)
    listing = await call_tool(tools["list_files"], {"limit": 1000}, ctx, timeout_s=timeout_s)
    if not listing.ok:
        return _failed(f"execution: list_files failed ({listing.error_code}): {listing.output}")
    paths: list[str] = list((listing.data or {}).get("paths", []))
    matching = [p for p in paths if any(t in p.lower() for t in terms)]
    if not matching:
        return _done(f'execution: no files match "{label}"')
    last: ToolResult | None = None
    for path in matching[:3]:
        res = await call_tool(tools["read_file"], {"path": path}, ctx, timeout_s=timeout_s)
        if res.ok:
            size = (res.data or {}).get("bytes", len(res.output.encode("utf-8")))
            return _done(f"execution: read {path} ({size} bytes)")
        last = res
    assert last is not None
    return _failed(f"execution: read_file failed ({last.error_code}): {last.output}")


# -- LLM ----------------------------------------------------------------------------------
WORKER_PROMPT = (
    "You are a worker sub-agent completing one task of a larger goal. "
    "You may call the tools listed below. Reply with exactly one JSON object and nothing else: "
    '{{"tool": "<name>", "args": {{...}}}} to call a tool, or {{"final": "<result>"}} when '
    "done. Paths are relative to the workspace. You have at most {steps} replies.\n"
    "Tools:\n{tools}"
)
CORRECTION = (
    "Your reply was not one valid JSON object. Answer with exactly one JSON object: "
    '{"tool": "<name>", "args": {...}} or {"final": "<result>"}.'
)


def describe_tools(tools: Mapping[str, Tool]) -> str:
    """One line per tool: name, description and JSON-schema params."""
    return "\n".join(
        f"- {t.name}: {t.description} params={json.dumps(t.params, sort_keys=True)}"
        for t in tools.values()
    )


def parse_step(text: str) -> tuple[Literal["tool", "final"], Any, dict[str, Any]]:
    """Parse a worker reply; raises ``ValueError`` unless it is one tool call or a final answer."""
    raw = extract_json_object(text)
    if not isinstance(raw, dict):
        raise ValueError("reply is not a JSON object")
    if "final" in raw:
        final = raw["final"]
        return "final", final if isinstance(final, str) else json.dumps(final), {}
    tool = raw.get("tool")
    args = raw.get("args", {})
    if not isinstance(tool, str) or not tool:
        raise ValueError('reply has neither "final" nor a "tool" name')
    if not isinstance(args, dict):
        raise ValueError('"args" must be an object')
    return "tool", tool, args


async def llm_worker(
    item: WorkItem,
    provider: Provider,
    tools: Mapping[str, Tool],
    ctx: ToolContext,
    *,
    max_steps: int = 6,
    call_timeout_s: float = 10.0,
) -> WorkerResult:
    """Tool-using loop of at most ``max_steps`` model replies (a correction does not count)."""
    messages: list[Message] = [
        Message.system(WORKER_PROMPT.format(steps=max_steps, tools=describe_tools(tools))),
        Message.user(
            f"Goal: {item.goal}\nTask {item.task_id} ({item.kind}): {item.title}\n"
            f"Progress: {item.completed} of {item.total} tasks complete."
        ),
    ]
    corrected = False
    steps = 0
    while steps < max_steps:
        try:
            completion = await provider.complete(messages, Options(temperature=0.0))
        except LLMError as exc:
            return _failed(f"{item.kind}: provider error ({exc.code})", "llm")
        reply = completion.text
        messages.append(Message.assistant(reply))
        try:
            action, value, args = parse_step(reply)
        except ValueError as exc:
            if corrected:
                return WorkerResult(
                    "failed",
                    bounded_detail(f"{item.kind}: invalid worker reply ({exc})"),
                    "llm",
                    steps,
                )
            corrected = True
            messages.append(Message.user(CORRECTION))
            continue
        steps += 1
        if action == "final":
            return WorkerResult("complete", bounded_detail(str(value)), "llm", steps)
        tool = tools.get(value)
        if tool is None:
            res = ToolResult.fail("unknown_tool", f"no tool named {value!r}")
        else:
            res = await call_tool(tool, args, ctx, timeout_s=call_timeout_s)
        status = "ok" if res.ok else f"error {res.error_code}"
        messages.append(Message.user(f"Tool {value} result ({status}):\n{res.output}"))
    return WorkerResult(
        "failed",
        bounded_detail(f"{item.kind}: no final answer after {max_steps} steps"),
        "llm",
        steps,
    )


class WorkerRunner:
    """Runs a ``WorkItem`` with the configured worker kind; one instance per server."""

    def __init__(
        self,
        provider: Provider | None,
        tools: Mapping[str, Tool],
        config: WorkersConfig | None = None,
        *,
        call_timeout_s: float = 10.0,
    ) -> None:
        self.provider = provider
        self.tools = dict(tools)
        self.config = config or WorkersConfig()
        self.call_timeout_s = call_timeout_s

    @property
    def mode(self) -> Literal["llm", "deterministic"]:
        if self.provider is None:
            return "deterministic"
        return resolve_mode(self.config.mode, self.provider.type)

    async def run(self, item: WorkItem, ctx: ToolContext) -> WorkerResult:
        """Run one task; the caller applies ``workers.task_timeout_s`` and cancellation."""
        if self.mode == "llm" and self.provider is not None:
            return await llm_worker(
                item,
                self.provider,
                self.tools,
                ctx,
                max_steps=self.config.max_steps,
                call_timeout_s=self.call_timeout_s,
            )
        return await deterministic_worker(item, self.tools, ctx, call_timeout_s=self.call_timeout_s)
