"""The HTTP API (§10): Starlette routes served by uvicorn on 127.0.0.1 (``--port 0`` ephemeral).

Every route but ``/health`` needs ``Authorization: Bearer <token>`` when a token is set (compared
in constant time); a non-loopback host without a token refuses to start unless
``--allow-unauthenticated``. ``repoPath`` must resolve under an allowed root (else 403).
Searches run in the thread pool on one warm :class:`Searcher` per repo, which reloads when
``current.json`` changes and keeps its own result LRU, so builds never block search. Errors are
``{ok:false, code, message, errors?}`` with the status of their class in ``pairofcleats.errors``.
SIGTERM exits 0, SIGINT 130.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from groundwork import jsonio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pairofcleats import api as poc_api
from pairofcleats.errors import (
    Forbidden,
    Internal,
    InvalidRequest,
    PairOfCleatsError,
    PayloadTooLarge,
    Unauthorized,
)
from pairofcleats.search.searcher import Searcher, SearchRequest
from pairofcleats.service.keys import unknown_keys_hint

__all__ = ["ApiState", "SearchBody", "ServeOptions", "create_app", "serve"]

DEFAULT_PORT = 7345


class SearchBody(BaseModel):
    """``POST /search`` body: strict (unknown keys and wrong JSON types are a 400: ``"top":
    "5"`` is refused, not read as 5, as the MCP tool's schema refuses it)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    query: str = Field(min_length=1)
    repo_path: str | None = Field(None, alias="repoPath")
    mode: str | None = None
    backend: str | None = None
    top: int | None = Field(None, ge=1, le=1000)
    ann: bool | None = None
    ann_backend: str | None = Field(None, alias="annBackend")
    dense_vector_mode: str | None = Field(None, alias="denseVectorMode")
    explain: bool = False
    output: Literal["compact", "full"] = "full"
    match_mode: Literal["all", "any", "auto"] | None = Field(None, alias="matchMode")
    strict: bool = False
    stub_embeddings: bool = Field(False, alias="stubEmbeddings")
    stats: bool = False
    path: list[str] | str | None = None
    file: list[str] | str | None = None
    lang: list[str] | str | None = None
    ext: list[str] | str | None = None
    type: list[str] | str | None = None
    kind: list[str] | str | None = None
    name: list[str] | str | None = None
    signature: list[str] | str | None = None
    param: list[str] | str | None = None
    returns: list[str] | str | None = None
    calls: list[str] | str | None = None
    uses: list[str] | str | None = None
    import_: list[str] | str | None = Field(None, alias="import")
    author: list[str] | str | None = None
    modified_since: str | None = Field(None, alias="modifiedSince")
    filter: str | None = None
    case: bool = False

    def to_request(self) -> SearchRequest:
        filters = poc_api.make_filters(
            {
                "path": self.path,
                "file": self.file,
                "lang": self.lang,
                "ext": self.ext,
                "type": self.type,
                "kind": self.kind,
                "name": self.name,
                "signature": self.signature,
                "param": self.param,
                "returns": self.returns,
                "calls": self.calls,
                "uses": self.uses,
                "import": self.import_,
                "author": self.author,
            },
            filter_string=self.filter,
            modified_since=self.modified_since,
            case=self.case,
        )
        return SearchRequest(
            query=self.query,
            mode=self.mode,
            top=self.top,
            backend=self.backend,
            ann=self.ann,
            ann_backend=self.ann_backend,
            dense_vector_mode=self.dense_vector_mode,
            match_mode=self.match_mode,
            strict=self.strict,
            stub_embeddings=self.stub_embeddings,
            explain=self.explain,
            stats=self.stats,
            compact=self.output == "compact",
            filters=filters,
        )


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Resolved server settings (flags > env > config file > defaults)."""

    repo: Path
    host: str
    port: int
    token: str | None
    allow_unauthenticated: bool
    allowed_roots: tuple[Path, ...]
    max_body_bytes: int
    json_out: bool
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_flags(
        cls,
        *,
        repo: Path | None,
        host: str | None,
        port: int | None,
        auth_token: str | None,
        allow_unauthenticated: bool,
        allowed_repo_roots: str | None,
        max_body_bytes: int | None,
        json_out: bool,
        env: Mapping[str, str],
    ) -> ServeOptions:
        from pairofcleats import config as poc_config
        from pairofcleats import paths

        root = paths.resolve_repo_root(repo, Path.cwd(), env)
        if not root.is_dir():  # fail at start-up, as every other command does, not per request
            raise InvalidRequest(
                f"repo {repo if repo is not None else root} is not a directory",
                hint="pass --repo PATH to a directory",
            )
        cfg = poc_config.load(root, env).service.api
        roots = (
            [r for r in allowed_repo_roots.split(",") if r.strip()]
            if allowed_repo_roots is not None
            else list(cfg.allowed_repo_roots)
        )
        token = auth_token or env.get("PAIROFCLEATS_API_TOKEN") or cfg.token
        opts = cls(
            repo=root,
            host=host or cfg.host,
            port=cfg.port if port is None else port,
            token=token or None,
            allow_unauthenticated=allow_unauthenticated,
            allowed_roots=tuple(Path(os.path.realpath(r.strip())) for r in roots),
            max_body_bytes=max_body_bytes or cfg.max_body_bytes,
            json_out=json_out,
            env=dict(env),
        )
        opts.check()
        return opts

    def check(self) -> None:
        """Refuse unsafe or impossible settings before binding (exit 2)."""
        if not 0 <= self.port <= 65535:
            raise InvalidRequest(f"--port {self.port} is out of range", hint="use 0-65535")
        if not self.token and not _is_loopback(self.host) and not self.allow_unauthenticated:
            raise InvalidRequest(
                f"refusing to serve on non-loopback host {self.host} without a token",
                hint="pass --auth-token (or PAIROFCLEATS_API_TOKEN) or --allow-unauthenticated",
            )


class Metrics:
    """Prometheus counters; rendered in the text exposition format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.search_sum = 0.0
        self.search_count = 0
        self.buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
        self.bucket_counts = [0] * len(self.buckets)

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self.requests[(route, status)] += 1

    def search(self, seconds: float) -> None:
        with self._lock:
            self.search_sum += seconds
            self.search_count += 1
            for i, b in enumerate(self.buckets):
                if seconds <= b:
                    self.bucket_counts[i] += 1

    def render(self, cache_hits: int) -> str:
        with self._lock:
            lines = [
                "# HELP pairofcleats_api_requests_total API requests by route and status.",
                "# TYPE pairofcleats_api_requests_total counter",
            ]
            for (route, status), n in sorted(self.requests.items()):
                lines.append(
                    f'pairofcleats_api_requests_total{{route="{route}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP pairofcleats_search_seconds Search latency.",
                "# TYPE pairofcleats_search_seconds histogram",
            ]
            for b, n in zip(self.buckets, self.bucket_counts, strict=True):
                lines.append(f'pairofcleats_search_seconds_bucket{{le="{b}"}} {n}')
            lines.append(f'pairofcleats_search_seconds_bucket{{le="+Inf"}} {self.search_count}')
            lines.append(f"pairofcleats_search_seconds_sum {self.search_sum}")
            lines.append(f"pairofcleats_search_seconds_count {self.search_count}")
            lines += [
                "# HELP pairofcleats_index_cache_hits_total Search results served from the LRU.",
                "# TYPE pairofcleats_index_cache_hits_total counter",
                f"pairofcleats_index_cache_hits_total {cache_hits}",
            ]
        return "\n".join(lines) + "\n"


class ApiState:
    """Per-process server state: options, warm searchers per repo, metrics."""

    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.started = time.monotonic()
        self.metrics = Metrics()
        self._searchers: dict[Path, Searcher] = {}
        self._lock = threading.Lock()

    def resolve_repo(self, repo_path: str | None) -> Path:
        """The repo a request targets; 403 unless under an allowed root (or the default)."""
        if repo_path is None:
            return self.opts.repo
        real = Path(os.path.realpath(repo_path))
        roots = (self.opts.repo, *self.opts.allowed_roots)
        for root in roots:
            if real == root or root in real.parents:
                return real
        raise Forbidden(
            f"repoPath {repo_path} is not under an allowed repo root",
            hint="start the server with --allowed-repo-roots including it",
        )

    def searcher(self, repo: Path) -> Searcher:
        with self._lock:
            s = self._searchers.get(repo)
            if s is None:
                s = Searcher(repo, env=self.opts.env)
                self._searchers[repo] = s
            return s

    def cache_hits(self) -> int:
        with self._lock:
            return sum(s.cache_hits for s in self._searchers.values())


def _json(value: Any, status: int = 200) -> Response:
    return Response(jsonio.dumps(value), status_code=status, media_type="application/json")


def _error(err: PairOfCleatsError) -> Response:
    return _json(err.to_json(), err.http_status)


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {jsonio.dumps(data).decode('utf-8')}\n\n".encode()


Handler = Callable[[Request], Awaitable[Response]]


def _guard(state: ApiState, route: str, handler: Handler, *, auth: bool = True) -> Handler:
    """Auth, error mapping and metrics around one route."""

    async def wrapped(request: Request) -> Response:
        try:
            if auth and state.opts.token:
                header = request.headers.get("authorization", "")
                scheme, _, given = header.partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                    given.strip().encode(), state.opts.token.encode()
                ):
                    raise Unauthorized("missing or wrong bearer token")
            response = await handler(request)
        except PairOfCleatsError as err:
            response = _error(err)
        except Exception as exc:  # a bug: 500 with a one-line message
            response = _error(Internal(f"{type(exc).__name__}: {exc}"))
        state.metrics.request(route, response.status_code)
        return response

    return wrapped


async def _read_body(request: Request, limit: int) -> SearchBody:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    try:
        raw = jsonio.loads(b"".join(chunks))
    except ValueError as err:
        raise InvalidRequest(f"request body is not valid JSON: {err}") from err
    if not isinstance(raw, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        return SearchBody.model_validate(raw)
    except ValidationError as err:
        issues = [
            {"key": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in err.errors()
        ]
        first = issues[0] if issues else {"key": "?", "message": "invalid"}
        extra = [i["key"] for i, e in zip(issues, err.errors(), strict=True) if _extra(e)]
        raise InvalidRequest(
            f"invalid request: {first['key']}: {first['message']}",
            errors=issues,
            hint=unknown_keys_hint(extra, _BODY_KEYS) if extra else None,
        ) from err


def _extra(error: Any) -> bool:
    return bool(error["type"] == "extra_forbidden")


#: The body keys as callers write them (aliases: repoPath, matchMode, import, …).
_BODY_KEYS = frozenset(f.alias or name for name, f in SearchBody.model_fields.items())


def create_app(opts: ServeOptions) -> Starlette:
    """The Starlette application for ``opts`` (tests mount it on a real uvicorn)."""
    state = ApiState(opts)

    async def health(_request: Request) -> Response:
        return _json({"ok": True, "uptimeMs": round((time.monotonic() - state.started) * 1000)})

    def _status_for(repo: Path) -> dict[str, Any]:
        status = poc_api.index_status(repo, env=opts.env)
        return {"ok": True, "repo": str(repo), "status": status}

    async def status(request: Request) -> Response:
        repo = state.resolve_repo(request.query_params.get("repoPath"))
        return _json(await run_in_threadpool(_status_for, repo))

    async def status_stream(request: Request) -> Response:
        repo = state.resolve_repo(request.query_params.get("repoPath"))

        async def events() -> AsyncIterator[bytes]:
            yield _sse("start", {"repo": str(repo)})
            try:
                yield _sse("result", await run_in_threadpool(_status_for, repo))
            except PairOfCleatsError as err:
                yield _sse("error", err.to_json())
            yield _sse("done", {"ok": True})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def metrics(_request: Request) -> Response:
        return Response(
            state.metrics.render(state.cache_hits()),
            media_type="text/plain; version=0.0.4",
        )

    def _run_search(body: SearchBody) -> dict[str, Any]:
        repo = state.resolve_repo(body.repo_path)
        started = time.perf_counter()
        try:
            result = poc_api.run_search(state.searcher(repo), body.to_request())
        finally:
            state.metrics.search(time.perf_counter() - started)
        return {"ok": True, "repo": str(repo), "result": result}

    async def search(request: Request) -> Response:
        body = await _read_body(request, opts.max_body_bytes)
        state.resolve_repo(body.repo_path)  # 403 before any work
        return _json(await run_in_threadpool(_run_search, body))

    async def search_stream(request: Request) -> Response:
        body = await _read_body(request, opts.max_body_bytes)
        state.resolve_repo(body.repo_path)

        async def events() -> AsyncIterator[bytes]:
            yield _sse("start", {"query": body.query})
            yield _sse("progress", {"phase": "search"})
            try:
                out = await run_in_threadpool(_run_search, body)
                yield _sse("progress", {"phase": "render"})
                yield _sse("result", out)
            except PairOfCleatsError as err:
                yield _sse("error", err.to_json())
            except Exception as exc:
                yield _sse("error", Internal(f"{type(exc).__name__}: {exc}").to_json())
            yield _sse("done", {"ok": True})

        return StreamingResponse(events(), media_type="text/event-stream")

    routes = [
        Route("/health", _guard(state, "/health", health, auth=False), methods=["GET"]),
        Route("/status", _guard(state, "/status", status), methods=["GET"]),
        Route("/status/stream", _guard(state, "/status/stream", status_stream), methods=["GET"]),
        Route("/metrics", _guard(state, "/metrics", metrics), methods=["GET"]),
        Route("/search", _guard(state, "/search", search), methods=["POST"]),
        Route("/search/stream", _guard(state, "/search/stream", search_stream), methods=["POST"]),
    ]
    listing = ", ".join(
        f"{m} {r.path}" for r in routes for m in sorted(r.methods or ()) if m != "HEAD"
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        """Unknown routes and wrong methods answer in the API's JSON error shape, naming
        the routes (Starlette's default is a bare ``Not Found`` text)."""
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 405:
            code, message = "METHOD_NOT_ALLOWED", f"{where}: method not allowed"
        elif exc.status_code == 404:
            code, message = "NOT_FOUND", f"{where}: no such route"
        else:
            code, message = "HTTP_ERROR", f"{where}: {exc.detail}"
        body = {"ok": False, "code": code, "message": message, "hint": f"routes: {listing}"}
        resp = _json(body, exc.status_code)
        resp.headers.update(exc.headers or {})  # Allow, on a 405
        return resp

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.api = state
    return app


def serve(opts: ServeOptions) -> int:
    """Bind, print ``{host, port, baseUrl}`` under ``--json`` once listening, serve until a
    signal: 0 after SIGTERM, 130 after SIGINT."""
    import uvicorn

    family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((opts.host, opts.port))
    except OSError as err:
        sock.close()
        raise InvalidRequest(
            f"cannot listen on {opts.host}:{opts.port}: {err.strerror}",
            hint="pick another --port (0 picks a free one)",
        ) from err
    sock.listen(128)
    port = sock.getsockname()[1]
    app = create_app(opts)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
    )

    received: list[int] = []

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Record the signal instead of letting uvicorn re-raise it after shutdown, so the
            # exit code is ours: SIGTERM → 0, SIGINT → 130.
            received.append(sig)
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

    server = _Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            host = opts.host if family == socket.AF_INET else f"[{opts.host}]"
            info = {"host": opts.host, "port": port, "baseUrl": f"http://{host}:{port}"}
            if opts.json_out:
                sys.stdout.write(jsonio.dumps(info).decode("utf-8") + "\n")
                sys.stdout.flush()
            else:
                sys.stderr.write(f"pairofcleats api listening on {info['baseUrl']}\n")
                sys.stderr.flush()
        await task

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    finally:
        sock.close()
    if received and received[-1] == signal.SIGINT:
        return 130
    return 0
