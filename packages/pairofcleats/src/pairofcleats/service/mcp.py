"""The MCP server (§10) over stdio with the ``mcp`` SDK: four tools for coding agents.

``index_status``, ``config_status``, ``build_index`` and ``search`` return their JSON both as
text in ``content[0].text`` and as ``structuredContent``; failures set ``isError`` with
``{code, message, hint?}``. stdout carries only the protocol: logging goes to stderr, and
the SDK's stdio transport points fd 1 at stderr while serving, so stray prints land there. More
than ``service.mcp.queueMax`` pending calls → ``QUEUE_OVERLOADED``. ``build_index`` sends
``notifications/progress`` when the client gave a progress token, and a client cancel stops
the build at its next progress point (the build dir is removed, as for SIGINT).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import mcp_types as types
from groundwork import jsonio
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

from pairofcleats import __version__
from pairofcleats import api as poc_api
from pairofcleats.errors import (
    Cancelled,
    Internal,
    InvalidRequest,
    PairOfCleatsError,
    QueueOverloaded,
)
from pairofcleats.search.searcher import Searcher, SearchRequest
from pairofcleats.service.keys import unknown_keys_hint

__all__ = ["TOOLS", "McpState", "build_server", "serve_stdio"]

#: The §9.3 filters, each a string or a list of strings (a list ORs, different keys AND).
_FILTER_HELP = {
    "path": "path prefix, or a glob when it holds * ? [ (src/, **/*_test.py)",
    "file": "path substring, or /regex/ (server.go, /test_.*\\.py$/)",
    "lang": "language id (python, javascript, typescript, go, rust, java, c, cpp, ...) "
    "or its extension (py, js, ts)",
    "ext": "file extension, with or without the dot (py, .ts)",
    "type": "chunk kind contains (function, method, class, section, ...)",
    "kind": "same as type",
    "name": "chunk name contains",
    "signature": "signature contains",
    "param": "has a parameter of exactly this name",
    "returns": "return type contains",
    "calls": "calls this function (base name after the last . :: ->, or the full text)",
    "uses": "uses this identifier (base name or full text)",
    "import": "the file's imports contain this",
    "author": "the file's last git author contains this",
}
_FILTER_PROPS = {
    k: {"type": ["string", "array"], "items": {"type": "string"}, "description": v}
    for k, v in _FILTER_HELP.items()
}
_REPO = {"repoPath": {"type": "string", "description": "Repository root (default: server repo)."}}
_MODE_HELP = "code, prose (docs), extracted-prose (comments and docstrings), all or both"
_SEARCH_HELP = (
    "Ranked search over a repository's index: code chunks (functions, classes, methods), "
    "prose sections (Markdown/RST) and extracted prose (comments, docstrings), each mode "
    "ranked by BM25 over name/signature/doc/comment/body fields fused with MiniLM vectors. "
    "Returns up to `top` hits per mode with file, line span, kind, name and score; "
    "`compact` keeps the location and scores only (fewer tokens). Query syntax: words "
    '(identifiers are split, so getUserName finds get_user_name), "exact phrases", -word or '
    "NOT word to exclude, OR between alternatives, parentheses; adjacent words must all match "
    "for code-like queries, and rank by how many match for natural-language ones (a query "
    "that matches too little relaxes to any-word and tolerates one typo per word unless "
    "`strict`). The word and is an operator too: leave it out of natural-language queries "
    "unless both sides must match. Filters narrow before ranking."
)

TOOLS: list[types.Tool] = [
    types.Tool(
        name="index_status",
        description="Index status of a repository: current build, per-mode counts, lock.",
        input_schema={"type": "object", "properties": dict(_REPO), "additionalProperties": False},
    ),
    types.Tool(
        name="config_status",
        description="Validate .pairofcleats.json and show the effective configuration.",
        input_schema={"type": "object", "properties": dict(_REPO), "additionalProperties": False},
    ),
    types.Tool(
        name="build_index",
        description=(
            "Build, validate and promote the index (incremental by default: only changed "
            "files are processed). Search keeps answering from the previous build meanwhile."
        ),
        input_schema={
            "type": "object",
            "properties": {
                **_REPO,
                "mode": {"type": "string", "description": f"Modes to build: {_MODE_HELP}."},
                "incremental": {
                    "type": "boolean",
                    "description": "Reuse verified per-file bundles (default true).",
                },
                "sqlite": {"type": "boolean", "description": "Also build the SQLite stage."},
                "stubEmbeddings": {
                    "type": "boolean",
                    "description": "Deterministic stub vectors instead of MiniLM (fast).",
                },
            },
            "additionalProperties": False,
        },
    ),
    types.Tool(
        name="search",
        description=_SEARCH_HELP,
        input_schema={
            "type": "object",
            "properties": {
                **_REPO,
                "query": {
                    "type": "string",
                    "description": 'Words, "phrases", -exclusions, OR, NOT, parentheses.',
                },
                "mode": {"type": "string", "description": f"Modes to search: {_MODE_HELP}."},
                "backend": {
                    "type": "string",
                    "description": "auto (default), memory, sqlite or sqlite-fts.",
                },
                "top": {"type": "integer", "minimum": 1, "description": "Hits per mode (5)."},
                "ann": {
                    "type": "boolean",
                    "description": "Rank with dense vectors too (default: when indexed).",
                },
                "explain": {
                    "type": "boolean",
                    "description": "Add each hit's scoreBreakdown and the query plan.",
                },
                "compact": {
                    "type": "boolean",
                    "description": "Location, kind, name and scores only.",
                },
                "matchMode": {
                    "type": "string",
                    "enum": ["all", "any", "auto"],
                    "description": "Adjacent words: all must match, any ranks, auto decides.",
                },
                "strict": {
                    "type": "boolean",
                    "description": "No relaxation and no typo expansion.",
                },
                "stubEmbeddings": {
                    "type": "boolean",
                    "description": "Embed the query with the stub (for stub-built indexes).",
                },
                "modifiedSince": {
                    "type": "string",
                    "description": "Files modified within N days, or since an ISO date.",
                },
                "filter": {
                    "type": "string",
                    "description": "Filters as 'k:v ...' (keys file, path, lang, ext, type, kind).",
                },
                "case": {"type": "boolean", "description": "Case-sensitive filters."},
                **_FILTER_PROPS,
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    ),
]
_TOOL_NAMES = {t.name for t in TOOLS}
_SEARCH_KEYS = set(TOOLS[3].input_schema["properties"])
_BUILD_KEYS = set(TOOLS[2].input_schema["properties"])


class McpState:
    """Default repo, env, warm searchers and the pending-call counter."""

    def __init__(self, repo: Path, env: Mapping[str, str], queue_max: int) -> None:
        self.repo = repo
        self.env = dict(env)
        self.queue_max = queue_max
        self.pending = 0
        self._lock = threading.Lock()
        self._searchers: dict[Path, Searcher] = {}

    def enter(self) -> None:
        with self._lock:
            if self.pending >= self.queue_max:
                raise QueueOverloaded(f"{self.pending} calls pending (queueMax {self.queue_max})")
            self.pending += 1

    def leave(self) -> None:
        with self._lock:
            self.pending -= 1

    def repo_for(self, args: Mapping[str, Any]) -> Path:
        raw = args.get("repoPath")
        if raw is None:
            return self.repo
        if not isinstance(raw, str):
            raise InvalidRequest("repoPath must be a string")
        path = Path(os.path.realpath(raw))
        if not path.is_dir():
            raise InvalidRequest(
                f"repoPath {raw} is not a directory", hint="pass an existing repository root"
            )
        return path

    def searcher(self, repo: Path) -> Searcher:
        with self._lock:
            s = self._searchers.get(repo)
            if s is None:
                s = Searcher(repo, env=self.env)
                self._searchers[repo] = s
            return s


#: Every tool argument's JSON schema (a name means the same thing in every tool).
_SCHEMAS: dict[str, dict[str, Any]] = {
    k: v for tool in TOOLS for k, v in tool.input_schema["properties"].items()
}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "array": (list,),
}


def _is(value: Any, json_type: str) -> bool:
    if json_type == "integer" and isinstance(value, bool):
        return False  # True is an int to Python, not to JSON Schema
    return isinstance(value, _JSON_TYPES[json_type])


def _check_keys(args: Mapping[str, Any], allowed: set[str]) -> None:
    """Unknown keys and values of the wrong type are ``INVALID_REQUEST`` (as in the HTTP
    API): ``"strict": "false"`` must not turn strict on, nor ``"top": "abc"`` be an INTERNAL."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown argument(s): {', '.join(unknown)}", hint=unknown_keys_hint(unknown, allowed)
        )
    for key, value in args.items():
        if value is None:  # null is "not given", as args.get() reads it
            continue
        schema = _SCHEMAS[key]
        declared = schema["type"]
        types_ = declared if isinstance(declared, list) else [declared]
        if not any(_is(value, t) for t in types_):
            got = jsonio.dumps(value).decode("utf-8")
            raise InvalidRequest(f"argument {key!r} must be {' or '.join(types_)}, not {got}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise InvalidRequest(f"argument {key!r} must be a list of strings")
        if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
            raise InvalidRequest(f"argument {key!r} must be at least {schema['minimum']}")
        if "enum" in schema and value not in schema["enum"]:
            choices = ", ".join(schema["enum"])
            raise InvalidRequest(f"argument {key!r} must be one of {choices}, not {value!r}")


def _search(state: McpState, args: Mapping[str, Any]) -> dict[str, Any]:
    _check_keys(args, _SEARCH_KEYS)
    query = args.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("search needs a non-empty 'query' string")
    filters = poc_api.make_filters(
        {k: args.get(k) for k in _FILTER_PROPS},
        filter_string=args.get("filter"),
        modified_since=args.get("modifiedSince"),
        case=bool(args.get("case", False)),
    )
    top = args.get("top")
    req = SearchRequest(
        query=query,
        mode=args.get("mode"),
        top=int(top) if top is not None else None,
        backend=args.get("backend"),
        ann=args.get("ann"),
        match_mode=args.get("matchMode"),
        strict=bool(args.get("strict", False)),
        stub_embeddings=bool(args.get("stubEmbeddings", False)),
        explain=bool(args.get("explain", False)),
        compact=bool(args.get("compact", False)),
        filters=filters,
    )
    repo = state.repo_for(args)
    return poc_api.run_search(state.searcher(repo), req)


def _build(
    state: McpState,
    args: Mapping[str, Any],
    progress: Callable[[float, str], None],
    cancel: threading.Event,
) -> dict[str, Any]:
    _check_keys(args, _BUILD_KEYS)
    steps = {"discover": 1, "stage1": 2, "stage2": 3, "stage3": 4, "stage4": 5}
    done = [0.0]

    def report(event: str, data: dict[str, Any]) -> None:
        if cancel.is_set():
            raise Cancelled("build cancelled by the client")
        task = str(data.get("taskId", ""))
        if event == "task:end" and task in steps:
            done[0] = float(steps[task])
            progress(done[0], f"{task} done")
        elif event == "task:start":
            progress(done[0], f"{task} started")

    return dict(
        poc_api.build_index(
            state.repo_for(args),
            mode=args.get("mode"),
            incremental=args.get("incremental"),
            sqlite=args.get("sqlite"),
            stub_embeddings=bool(args.get("stubEmbeddings", False)),
            env=state.env,
            report=report,
        )
    )


def _ok(value: Any) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=jsonio.dumps(value).decode("utf-8"))],
        structured_content=value,
    )


def _err(err: PairOfCleatsError) -> types.CallToolResult:
    body = {"code": err.code, "message": err.message}
    if err.hint:
        body["hint"] = err.hint
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=jsonio.dumps(body).decode("utf-8"))],
        structured_content=body,
        is_error=True,
    )


def build_server(state: McpState) -> Server[Any]:
    """The low-level MCP server with the four tools bound to ``state``."""

    async def list_tools(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        args: dict[str, Any] = dict(params.arguments or {})
        try:
            if name not in _TOOL_NAMES:
                raise InvalidRequest(f"unknown tool {name!r}")
            state.enter()
        except PairOfCleatsError as err:
            return _err(err)
        try:
            if name == "index_status":
                _check_keys(args, set(_REPO))
                repo = state.repo_for(args)
                value = await anyio.to_thread.run_sync(
                    lambda: poc_api.index_status(repo, env=state.env)
                )
            elif name == "config_status":
                _check_keys(args, set(_REPO))
                repo = state.repo_for(args)
                value = await anyio.to_thread.run_sync(
                    lambda: poc_api.config_status(repo, env=state.env)
                )
            elif name == "search":
                value = await anyio.to_thread.run_sync(lambda: _search(state, args))
            else:
                cancel = threading.Event()

                def progress(done: float, message: str) -> None:
                    with contextlib.suppress(Exception):
                        anyio.from_thread.run(ctx.session.report_progress, done, 5.0, message)

                try:
                    value = await anyio.to_thread.run_sync(
                        lambda: _build(state, args, progress, cancel), abandon_on_cancel=True
                    )
                except anyio.get_cancelled_exc_class():
                    cancel.set()
                    raise
            return _ok(value)
        except PairOfCleatsError as err:
            return _err(err)
        except Exception as exc:  # a bug: reported, the server stays up
            return _err(Internal(f"{type(exc).__name__}: {exc}"))
        finally:
            state.leave()

    return Server(
        "pairofcleats",
        version=__version__,
        instructions="Search a repository's code and prose index; build it with build_index.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve_stdio(repo: Path | None, env: Mapping[str, str]) -> int:
    """Serve until stdin closes; returns the exit code (0, or 130 on Ctrl-C)."""
    from pairofcleats import config as poc_config
    from pairofcleats import paths

    root = paths.resolve_repo_root(repo, Path.cwd(), env)
    if not root.is_dir():  # a client would otherwise only see it on the first tool call
        raise InvalidRequest(
            f"repo {repo if repo is not None else root} is not a directory",
            hint="pass --repo PATH to a directory",
        )
    cfg = poc_config.load(root, env)
    state = McpState(root, env, cfg.service.mcp.queue_max)
    server = build_server(state)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        # stdio_server points fd 1 at stderr while serving and writes the protocol through a
        # private duplicate, so stray prints (ours or a library's) never reach the wire.
        anyio.run(main)
    except KeyboardInterrupt:
        return 130
    return 0
