"""Command line for spiderweb: a thin layer over ``spiderweb.api`` and the store.

Only this module reads ``os.environ`` and prints. Every user error is one line
on stderr naming the problem and the fix; exit codes are 0 ok, 1 failure,
2 bad input or configuration, 130 cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from groundwork import jsonio
from groundwork.fsio import atomic_write

from spiderweb import __version__
from spiderweb.transport.routing import is_valid_agent_id, is_valid_session_key

# The server, store, client and pydantic config are imported inside the commands
# that use them: ``--help``, ``--version`` and usage errors stay fast (§ CLI).
if TYPE_CHECKING:
    from spiderweb.client import Frame, ReconnectingClient
    from spiderweb.config import SpiderwebConfig
    from spiderweb.memory.ram import Ram
    from spiderweb.memory.store import LtmStore
    from spiderweb.memtrace import MemTrace

app = typer.Typer(
    name="spiderweb",
    help="WebSocket gateway for agents: sessions, memory, identity, planner, workers.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
sessions_app = typer.Typer(help="Inspect and manage stored sessions.", no_args_is_help=True)
memory_app = typer.Typer(
    help="Read a session's memory; prune and import LTM.", no_args_is_help=True
)
config_app = typer.Typer(help="Show and edit the config file.", no_args_is_help=True)
identity_app = typer.Typer(help="Show an agent's merged identity.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(memory_app, name="memory")
app.add_typer(config_app, name="config")
app.add_typer(identity_app, name="identity")

DEFAULT_URL = "ws://127.0.0.1:18790"
REPLY_WAIT_S = 120.0

JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")
ChatJsonOpt = typer.Option(
    False, "--json", help="Print the session.ack, then each frame, as one JSON line each."
)
ConfigOpt = typer.Option(None, "--config", help="Config file (default: $SPIDERWEB_CONFIG).")
DataDirOpt = typer.Option(None, "--data-dir", help="Data directory (default: from config).")
SendOpt = typer.Option(None, "--send", help="Send TEXT, wait for the reply, exit (repeatable).")
IdsOpt = typer.Option(None, "--id", help="Memory id (repeatable).")


def _env() -> dict[str, str]:
    return dict(os.environ)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _emit(payload: Any, as_json: bool, human: str) -> None:
    if as_json:
        typer.echo(jsonio.dumps(payload).decode("utf-8"))
    else:
        typer.echo(human)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spiderweb {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """WebSocket gateway for agents: sessions, memory, identity, planner, workers."""


# -- config loading --------------------------------------------------------------------------
def _load(config: str | None, overrides: dict[str, Any] | None = None) -> SpiderwebConfig:
    from groundwork.config import ConfigError

    from spiderweb.config import config_path, key_warning, load_settings

    path = config_path(_env(), config)
    try:
        cfg = load_settings(path, overrides)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        _fail(f"bad config: {lines[0]}{more}; fix the file or the flag", 2)
    warning = key_warning(path, cfg)
    if warning:
        typer.echo(warning, err=True)
    return cfg


def _key(key: str, what: str = "session key") -> str:
    """A session key as the wire accepts it (§3), else exit 2 naming the rule."""
    if not is_valid_session_key(key):
        _fail(f"bad {what} {key!r}: use 1-128 characters from A-Z a-z 0-9 . _ : -", 2)
    return key


def _data_dir(config: str | None, data_dir: str | None) -> Path:
    from spiderweb.config import data_dir_of

    if data_dir:
        return Path(data_dir).expanduser()
    return data_dir_of(_load(config), _env())


@contextlib.contextmanager
def _store(data_dir: Path, *, writing: bool = False) -> Iterator[LtmStore]:
    from groundwork.fsio import read_lock

    from spiderweb.config import LOCK_NAME
    from spiderweb.memory.store import StoreError, open_store

    if writing:
        status = read_lock(data_dir / LOCK_NAME)
        if status.held:
            pid = (status.holder or {}).get("pid", "?")
            _fail(f"data dir {data_dir} is in use by a running server (pid {pid}): stop it first")
    try:
        store = open_store(data_dir)
    except StoreError as exc:
        _fail(f"{exc}; check --data-dir")
    try:
        yield store
    finally:
        store.close()


# -- serve -----------------------------------------------------------------------------------
@app.command()
def serve(
    bind: str | None = typer.Option(None, "--bind", help="Address to listen on."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port (0 = ephemeral)."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    provider: str | None = typer.Option(None, "--provider", help="Provider name."),
    model: str | None = typer.Option(None, "--model", help="Model name."),
    base_url: str | None = typer.Option(None, "--base-url", help="Provider base URL."),
    workspace: str | None = typer.Option(None, "--workspace", help="Root for worker tools."),
    token_env: str | None = typer.Option(None, "--token-env", help="Env var with the token."),
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth", help="Allow a non-loopback bind without a token."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Run the gateway until SIGTERM/SIGINT; prints `listening ws://HOST:PORT` when ready."""
    from spiderweb.config import config_path, write_raw

    env = _env()
    path = config_path(env, config)
    if not path.exists():
        with contextlib.suppress(OSError):
            write_raw(path, {})  # created on first serve, mode 0600
    overrides = {
        "server": {"bind": bind, "port": port, "auth_token_env": token_env},
        "provider": {"name": provider, "model": model, "base_url": base_url},
        "storage": {"data_dir": data_dir},
        "tools": {"workspace": workspace},
    }
    cfg = _load(config, overrides)
    logging.basicConfig(
        level=cfg.log.level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    from spiderweb.tools.registry import workspace_root

    if cfg.tools.workspace and workspace_root(cfg.tools) is None:  # else silently no_workspace
        typer.echo(
            f"warning: tools.workspace {cfg.tools.workspace!r} is not a directory; "
            "worker tools will answer no_workspace",
            err=True,
        )
    trace = _memtrace(env)
    try:
        code = asyncio.run(_serve(cfg, env, insecure_no_auth, as_json))
    finally:
        if trace is not None:
            trace.stop()
    raise typer.Exit(code)


def _memtrace(env: dict[str, str]) -> MemTrace | None:
    """The debug snapshot hook, on only when ``SPIDERWEB_TRACEMALLOC_DIR`` is set."""
    from spiderweb.memtrace import MemTrace

    out = env.get("SPIDERWEB_TRACEMALLOC_DIR")
    if not out:
        return None
    raw = env.get("SPIDERWEB_TRACEMALLOC_EVERY_S", "60")
    try:
        trace = MemTrace(Path(out), float(raw))
    except ValueError:
        _fail(f"bad SPIDERWEB_TRACEMALLOC_EVERY_S {raw!r}: use seconds > 0", 2)
    trace.start()
    return trace


async def _serve(cfg: SpiderwebConfig, env: dict[str, str], insecure: bool, as_json: bool) -> int:
    from spiderweb.api import ServeError, SpiderwebServer
    from spiderweb.config import data_dir_of

    server = SpiderwebServer(
        cfg, data_dir=data_dir_of(cfg, env), env=env, insecure_no_auth=insecure
    )
    try:
        port = await server.start()
    except ServeError as exc:
        typer.echo(exc.message, err=True)
        return exc.exit_code
    _freeze_startup_heap()
    stop = asyncio.Event()
    interrupted = False
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        nonlocal interrupted
        interrupted = interrupted or sig == signal.SIGINT
        stop.set()

    # Before `listening`: a supervisor may send SIGTERM the moment it reads that line.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    url = f"ws://{cfg.server.bind}:{port}"
    _emit({"event": "listening", "url": url, "port": port}, as_json, f"listening {url}")
    sys.stdout.flush()
    await stop.wait()
    await server.stop()
    return 130 if interrupted else 0


#: ``gc.set_threshold`` while serving (docs/adr/0006-serve-gc-thresholds.md). A turn
#: leaves ~65 net container allocations behind, so the default 700 ran a young
#: collection every ~11 turns and a full one every few seconds (30-60 ms each at
#: 200 sessions); under P3 that was ~15 % of the loop thread's CPU.
GC_THRESHOLDS = (20_000, 20, 10)


def _freeze_startup_heap() -> None:
    """Move what startup allocated (imports, config, restored sessions) out of the GC's sight.

    Otherwise the first full collections walk that whole heap while a turn
    waits: a 70 ms stall around turn 700 of P2. ``gc.freeze`` is for exactly
    this: objects alive after start-up stay alive, so scanning them finds nothing.
    Then collections run less often (:data:`GC_THRESHOLDS`): refcounting frees
    almost everything a turn allocates, so young collections found little.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# -- chat ------------------------------------------------------------------------------------
_CONTROL = {"/pause", "/resume", "/cancel", "/clear", "/state", "/heartbeat"}
#: What ``/help`` prints; answered by the client itself, never sent to the agent.
CHAT_HELP = """\
/goal TEXT     plan and run a goal          /new          archive, start a fresh context
/pause /resume /cancel /clear               control the running goal
/state         the agent's state            /heartbeat    one heartbeat now
/recall [N]    the last N memories          /query TOPIC  memories about TOPIC
/history [N]   the last N messages          /quit         leave (or end of input)
anything else is sent to the agent as a chat message"""


def _command(line: str) -> tuple[str, dict[str, Any], frozenset[str]]:
    """One chat line or slash command as (request type, fields, reply types that end it)."""
    word, _, rest = line.partition(" ")
    rest = rest.strip()
    if word in _CONTROL:
        action = word[1:]
        reply = "agent.progress" if action == "heartbeat" else "agent.state"
        return "agent.control", {"action": action}, frozenset({reply})
    if word == "/recall":
        limit = int(rest) if rest.isdigit() else 25
        return "memory.recall", {"limit": limit}, frozenset({"memory.recall"})
    if word == "/query":
        return "memory.query", {"topic": rest or None}, frozenset({"memory.query"})
    if word == "/history":
        limit = int(rest) if rest.isdigit() else 50
        return "session.history", {"limit": limit}, frozenset({"session.history.response"})
    if line == "/new":
        return "chat.send", {"content": line}, frozenset({"session.new"})
    return "chat.send", {"content": line}, frozenset({"session.receive"})


def _render(frame: Frame) -> str | None:
    kind = frame.get("type")
    if kind == "session.receive":
        return str(frame.get("content", ""))
    if kind == "error":
        return f"error [{frame.get('code')}]: {frame.get('message')}"
    if kind == "agent.progress":
        return f"· {frame.get('phase')}/{frame.get('status')}: {frame.get('message')}"
    if kind == "agent.state":
        return (
            f"· state {frame.get('phase')}: {frame.get('queuedTasks')} queued, "
            f"{frame.get('activeTasks')} active, mode {frame.get('mode')}"
        )
    if kind == "agent.status":
        return f"· task {frame.get('taskId')} {frame.get('worker')}: {frame.get('status')}"
    if kind == "memory.event":
        return f"· memory {frame.get('event')}/{frame.get('status')}: {frame.get('message')}"
    if kind == "agent.plan":
        tasks = frame.get("tasks") or []
        return "plan:\n" + "\n".join(f"  {t['id']}. [{t['status']}] {t['title']}" for t in tasks)
    if kind in ("memory.recall", "memory.query"):
        items = frame.get("items") or []
        return (
            "\n".join(
                f"  [{i['source']} {i['kind']} {i['id']}] {i.get('text') or i.get('content')}"
                for i in items
            )
            or "  (no items)"
        )
    if kind == "session.history.response":
        items = frame.get("items") or []
        return "\n".join(f"  {i['role']}: {i['content']}" for i in items) or "  (empty)"
    if kind == "session.new":
        return f"· new session context (archived: {frame.get('archived')})"
    return None


@app.command()
def chat(
    url: str = typer.Argument(DEFAULT_URL, help="Server URL (ws://host:port)."),
    agent: str = typer.Option("default", "--agent", help="Agent id."),
    session: str | None = typer.Option(None, "--session", help="Session key to adopt."),
    token_env: str = typer.Option("SPIDERWEB_TOKEN", "--token-env", help="Env var with token."),
    proto: int = typer.Option(1, "--proto", min=1, max=2, help="Protocol 1 or 2."),
    send: list[str] | None = SendOpt,
    as_json: bool = ChatJsonOpt,
) -> None:
    """Terminal client: prints the session key, streams replies; `--send` for scripts.

    Type a message to chat, or a slash command: /goal TEXT (plan and run a goal), /new
    (archive and start a fresh context), /pause, /resume, /cancel, /clear, /state,
    /heartbeat, /recall [N], /query TOPIC, /history [N], /help, /quit (or end of input).
    """
    if not url.startswith(("ws://", "wss://")):
        _fail(f"bad URL {url!r}: use ws://HOST:PORT (as `spiderweb serve` prints it)", 2)
    if not is_valid_agent_id(agent):
        _fail(f"bad --agent {agent!r}: use 1-64 characters from A-Z a-z 0-9 . _ -", 2)
    if session is not None:
        _key(session, "--session")
    token = _env().get(token_env) or None
    try:
        code = asyncio.run(_chat(url, agent, session, token, proto, send or [], as_json))
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code)


async def _chat(
    url: str,
    agent: str,
    session: str | None,
    token: str | None,
    proto: int,
    sends: list[str],
    as_json: bool,
) -> int:
    from spiderweb.client import ClientError, ReconnectingClient

    client = ReconnectingClient(
        url,
        agent=agent,
        session=session,
        proto=proto,
        token=token,
        notice=lambda text: typer.echo(f"· {text}", err=True),
    )
    try:
        ack = await client.connect()
    except ClientError as exc:
        typer.echo(f"{exc}; is `spiderweb serve` running?", err=True)
        return 1
    if as_json:  # the ack first: it names the session key, as the text line does
        typer.echo(jsonio.dumps(ack).decode("utf-8"))
    else:
        typer.echo(f"session {ack.get('sessionKey')}")
    try:
        if sends:
            return await _send_all(client, sends, as_json)
        return await _interactive(client, as_json)
    except ClientError as exc:
        typer.echo(f"{exc}; is `spiderweb serve` running?", err=True)
        return 1
    finally:
        await client.close()


def _show(frame: Frame, as_json: bool) -> None:
    text = jsonio.dumps(frame).decode("utf-8") if as_json else _render(frame)
    if text is not None:
        typer.echo(text)


async def _send_all(client: ReconnectingClient, sends: list[str], as_json: bool) -> int:
    """Send each line and wait (reconnecting if needed) for its answer; exit 1 on an error."""
    status = 0
    for line in sends:
        if line.strip() == "/help":
            typer.echo(CHAT_HELP)
            continue
        type_, fields, want = _command(line)
        rid = await client.send(type_, want, **fields)
        try:
            reply = await client.wait_for(rid, REPLY_WAIT_S)
        except TimeoutError:
            typer.echo(f"no reply to {line!r} within {REPLY_WAIT_S:g} s", err=True)
            return 1
        if reply.get("type") == "error" or reply.get("status") == "interrupted":
            status = 1
        if as_json:
            typer.echo(jsonio.dumps(reply).decode("utf-8"))
        else:
            typer.echo(_render(reply) or jsonio.dumps(reply).decode("utf-8"))
    return status


def _stdin_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
    """Read stdin in a daemon thread (a blocked read must not hold up the exit)."""

    def run() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=run, name="chat-stdin", daemon=True).start()


async def _interactive(client: ReconnectingClient, as_json: bool) -> int:
    """Print frames as they come while sending what the user types; ``/quit`` or EOF ends."""
    streamed: set[str] = set()

    async def reader() -> None:
        while True:
            frame = await client.recv()
            request = str(frame.get("request"))
            if not as_json and frame.get("type") == "session.delta":
                sys.stdout.write(str(frame.get("delta", "")))  # stream as it arrives
                sys.stdout.flush()
                streamed.add(request)
                continue
            if not as_json and frame.get("type") == "session.receive" and request in streamed:
                streamed.discard(request)
                typer.echo("")  # the deltas already printed the text
                continue
            _show(frame, as_json)

    lines: asyncio.Queue[str | None] = asyncio.Queue()
    _stdin_lines(asyncio.get_running_loop(), lines)
    task = asyncio.create_task(reader())
    try:
        while True:
            get = asyncio.ensure_future(lines.get())
            await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                get.cancel()
                task.result()  # re-raises the ClientError that ended the reader
                return 1
            line = get.result()
            if line is None or line.strip() == "/quit":
                # Let answers to what was already sent arrive (bounded wait).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REPLY_WAIT_S):
                        while client.pending and not task.done():
                            await asyncio.sleep(0.1)
                return 0
            line = line.strip()
            if line == "/help":
                typer.echo(CHAT_HELP)
            elif line:
                type_, fields, want = _command(line)
                await client.send(type_, want, **fields)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


# -- sessions --------------------------------------------------------------------------------
def _meta_dict(meta: Any) -> dict[str, Any]:
    return {
        "session_key": meta.session_id,
        "agent_id": meta.agent_id,
        "created_at_ms": meta.created_at_ms,
        "last_active": meta.last_active_ms,
        "message_count": meta.message_count,
        "is_active": meta.is_active,
    }


@sessions_app.command("list")
def sessions_list(
    agent: str | None = typer.Option(None, "--agent", help="Only this agent's sessions."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List stored sessions, most recently active first."""
    with _store(_data_dir(config, data_dir)) as store:
        rows = [_meta_dict(m) for m in store.list_sessions(agent)]
    human = "\n".join(
        f"{r['session_key']}  agent={r['agent_id']}  messages={r['message_count']}"
        f"{'  (active)' if r['is_active'] else ''}"
        for r in rows
    )
    _emit({"sessions": rows}, as_json, human or "(no sessions)")


@sessions_app.command("show")
def sessions_show(
    key: str = typer.Argument(..., help="Session key."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show one session: metadata, worker counters, goal and RAM size."""
    _key(key)
    with _store(_data_dir(config, data_dir)) as store:
        meta = store.session_meta(key)
        state = store.get_state(key)
        snaps = store.snapshot_list(key)
    if meta is None and state is None and not snaps:
        _fail(f"no session {key!r}: see `spiderweb sessions list`", 1)
    info: dict[str, Any] = _meta_dict(meta) if meta else {"session_key": key}
    if state is not None:
        goal = state.get("goal") or {}
        info.update(
            {
                "queuedTasks": state.get("workerQueueDepth", 0),
                "activeTasks": state.get("workerActiveTasks", 0),
                "droppedTasks": state.get("workerDroppedTasks", 0),
                "mode": state.get("workerMode", "running"),
                "lastGoal": state.get("workerLastGoal", ""),
                "goalState": goal.get("state"),
                "entries": len(state.get("entries", [])),
                "summaries": len(state.get("summaries", [])),
                "next_id": state.get("next_id"),
            }
        )
    info["snapshots"] = len(snaps)
    _emit(info, as_json, "\n".join(f"{k}: {v}" for k, v in info.items()))


@sessions_app.command("export")
def sessions_export(
    out: str | None = typer.Option(None, "--out", help="Write to this file (default stdout)."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
) -> None:
    """Export every session (state, transcript, snapshots) as one JSON object."""
    with _store(_data_dir(config, data_dir)) as store:
        data = store.export_sessions()
    text = jsonio.dumps_pretty(data)
    if out:
        atomic_write(Path(out), text, mode=0o600)
        typer.echo(f"exported {len(data.get('sessions', []))} session(s) to {out}")
    else:
        sys.stdout.write(text.decode("utf-8"))


@sessions_app.command("import")
def sessions_import(
    file: str = typer.Argument(..., help="A `sessions export` file."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import an export (idempotent); refused while a server holds the data dir."""
    try:
        data = jsonio.loads(Path(file).read_bytes())
    except (OSError, ValueError) as exc:
        _fail(f"cannot read {file}: {exc}", 2)
    with _store(_data_dir(config, data_dir), writing=True) as store:
        report = store.import_sessions(data, now_ms=time.time_ns() // 1_000_000)
    payload = {"imported": report.imported, "skipped": report.skipped, "warnings": report.warnings}
    _emit(payload, as_json, f"imported {report.imported}, skipped {report.skipped}")
    if report.warnings and not report.imported:
        raise typer.Exit(1)


@sessions_app.command("delete")
def sessions_delete(
    key: str = typer.Argument(..., help="Session key."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Delete every stored row of a session; refused while a server holds the data dir."""
    _key(key)
    with _store(_data_dir(config, data_dir), writing=True) as store:
        existed = store.delete_session(key).result()
    if not existed:
        _fail(f"no session {key!r}: see `spiderweb sessions list`", 1)
    _emit({"deleted": key}, as_json, f"deleted {key}")


# -- memory ----------------------------------------------------------------------------------
def _ram_of(store: LtmStore, key: str) -> Ram:
    from spiderweb.memory.ram import Ram, RamLimits

    state = store.get_state(key)
    if state is None:
        return Ram(RamLimits())
    try:
        return Ram.from_state(state)
    except ValueError:
        return Ram(RamLimits())


@memory_app.command("recall")
def memory_recall(
    key: str = typer.Argument(..., help="Session key."),
    limit: int = typer.Option(25, "--limit", min=0, help="Items (0 or >128 = 128)."),
    full: bool = typer.Option(False, "--full", help="Include archived entries."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Like `memory.recall`: RAM summaries and entries, then LTM snapshots."""
    from spiderweb.memory.recall import recall_items

    _key(key)
    with _store(_data_dir(config, data_dir)) as store:
        items = recall_items(
            _ram_of(store, key), store.snapshots(key), limit=limit, include_full=full
        )
    _emit({"sessionKey": key, "items": items}, as_json, _items_text(items))


@memory_app.command("query")
def memory_query(
    key: str = typer.Argument(..., help="Session key."),
    topic: str | None = typer.Option(None, "--topic", help="Case-sensitive substring."),
    kind: str = typer.Option("all", "--kind", help="summary, entry or all."),
    ids: list[int] | None = IdsOpt,
    limit: int = typer.Option(25, "--limit", min=0, help="Items (0 or >128 = 128)."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Like `memory.query`: tombstones and LTM entries too, filtered by kind/topic/ids."""
    from spiderweb.memory.recall import query_items

    _key(key)
    if kind not in ("summary", "entry", "all"):
        _fail(f"bad --kind {kind!r}: use summary, entry or all", 2)
    with _store(_data_dir(config, data_dir)) as store:
        items = query_items(
            _ram_of(store, key),
            store.snapshots(key),
            limit=limit,
            kind=kind,  # type: ignore[arg-type]
            topic=topic,
            memory_ids=ids or [],
        )
    _emit({"sessionKey": key, "topic": topic, "items": items}, as_json, _items_text(items))


def _items_text(items: list[dict[str, Any]]) -> str:
    return (
        "\n".join(
            f"[{i['source']} {i['kind']} {i['id']}] {i.get('text') or i.get('content')}"
            for i in items
        )
        or "(no items)"
    )


@memory_app.command("snapshots")
def memory_snapshots(
    key: str = typer.Argument(..., help="Session key."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List a session's LTM snapshots, newest first."""
    _key(key)
    with _store(_data_dir(config, data_dir)) as store:
        snaps = store.snapshot_list(key)
    rows = [
        {
            "id": s.id,
            "timestamp_ms": s.timestamp_ms,
            "reason": s.reason,
            "next_id": s.next_id,
            "entry_count": s.entry_count,
            "summary_count": s.summary_count,
        }
        for s in snaps
    ]
    human = "\n".join(
        f"{r['id']}  {r['timestamp_ms']}  {r['reason']}  entries={r['entry_count']}" for r in rows
    )
    _emit({"sessionKey": key, "snapshots": rows}, as_json, human or "(no snapshots)")


@memory_app.command("prune")
def memory_prune(
    keep: int | None = typer.Option(
        None, "--keep", min=0, help="Snapshots kept per session (0 = all)."
    ),
    days: int | None = typer.Option(
        None, "--days", min=0, help="Drop older than N days (0 = never)."
    ),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Prune LTM snapshots now (same rules as at startup)."""
    with _store(_data_dir(config, data_dir), writing=True) as store:
        result = store.prune(now_ms=time.time_ns() // 1_000_000, keep=keep, days=days).result()
    payload = {
        "snapshots": result.snapshots,
        "entries": result.entries,
        "summaries": result.summaries,
        "sessions": result.sessions,
    }
    _emit(payload, as_json, f"pruned {result.snapshots} snapshot(s), {result.sessions} session(s)")


@memory_app.command("import-legacy")
def memory_import_legacy(
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Import `.spiderweb-ltm` legacy JSON snapshots (idempotent)."""
    with _store(_data_dir(config, data_dir), writing=True) as store:
        report = store.import_legacy()
    payload = {"imported": report.imported, "skipped": report.skipped, "warnings": report.warnings}
    _emit(payload, as_json, f"imported {report.imported}, skipped {report.skipped}")


# -- config ----------------------------------------------------------------------------------
@config_app.command("path")
def config_path_cmd(config: str | None = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Print the config file path."""
    from spiderweb.config import config_path

    path = config_path(_env(), config)
    _emit({"path": str(path), "exists": path.exists()}, as_json, str(path))


@config_app.command("show")
def config_show(config: str | None = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Print the effective config (defaults filled in; the API key masked)."""
    cfg = _load(config)
    data = cfg.model_dump(mode="json")
    if data["provider"].get("api_key"):
        data["provider"]["api_key"] = "***"
    _emit(data, as_json, jsonio.dumps_pretty(data).decode("utf-8").rstrip())


def _why(exc: ValueError) -> str:
    """The first problem of a failed config edit as ``section.key: message (got X)``."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        got = f" (got {first['input']!r})" if not isinstance(first["input"], dict) else ""
        return f"{where}: {first['msg']}{got}; the file was not changed"
    return str(exc).splitlines()[0]


def _edit(config: str | None, section: str, values: dict[str, Any], as_json: bool) -> None:
    from spiderweb.config import config_path, edit

    path = config_path(_env(), config)
    try:
        edit(path, section, values)
    except ValueError as exc:
        _fail(f"cannot edit {path}: {_why(exc)}", 2)
    _emit({"path": str(path), section: values}, as_json, f"updated {section} in {path}")


@config_app.command("set-provider")
def config_set_provider(
    name: str = typer.Argument(..., help="openai, openai-compatible, ollama, anthropic, mock."),
    model: str | None = typer.Argument(None, help="Model name."),
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set provider.name (and provider.model)."""
    _edit(config, "provider", {"name": name, "model": model}, as_json)


@config_app.command("set-server")
def config_set_server(
    bind: str | None = typer.Option(None, "--bind", help="Address to listen on."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port."),
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set server.bind and/or server.port."""
    _edit(config, "server", {"bind": bind, "port": port}, as_json)


@config_app.command("set-key")
def config_set_key(
    key: str = typer.Argument(..., help="Provider API key (stored with mode 0600)."),
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Store provider.api_key in the config file (mode 0600)."""
    from spiderweb.config import config_path, edit

    path = config_path(_env(), config)
    try:
        edit(path, "provider", {"api_key": key})
    except ValueError as exc:
        _fail(f"cannot edit {path}: {_why(exc)}", 2)
    _emit({"path": str(path), "provider": {"api_key": "***"}}, as_json, f"stored key in {path}")


@config_app.command("set-log")
def config_set_log(
    level: str = typer.Argument(..., help="debug, info, warning, error or critical."),
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set log.level."""
    _edit(config, "log", {"level": level.lower()}, as_json)


# -- identity --------------------------------------------------------------------------------
@identity_app.command("show")
def identity_show(
    agent: str = typer.Argument(..., help="Agent id."),
    data_dir: str | None = DataDirOpt,
    config: str | None = ConfigOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print the merged persona (SOUL > AGENT > IDENTITY > USER) and shadow warnings."""
    from spiderweb.identity import load_identity

    root = _data_dir(config, data_dir)
    try:
        identity = load_identity(root, agent)
    except ValueError as exc:
        _fail(f"{exc}: use 1-64 characters from A-Z a-z 0-9 . _ -", 2)
    for warning in identity.warnings:
        if not as_json:
            typer.echo(f"warning: {warning}", err=True)
    payload = {
        "agent_id": agent,
        "files": list(identity.files),
        "warnings": list(identity.warnings),
        "prompt": identity.prompt,
    }
    _emit(payload, as_json, identity.prompt)


def _usage_line(exc: typer.TyperException) -> str:
    """A usage error as one line naming the problem and where the help is."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "spiderweb"
    message = " ".join(exc.format_message().split())
    return f"{where}: {message} (see `{where} --help`)"


def main() -> None:
    """Entry point: usage errors are one line on stderr and exit 2 (no boxed help screen).

    typer >= 0.29 vendors click privately, so its errors are caught through the
    public base ``typer.TyperException``: usage errors carry ``exit_code`` 2.
    """
    try:
        code = app(standalone_mode=False, prog_name="spiderweb")
    except typer.TyperException as exc:
        code = exc.exit_code
        if type(exc).__name__ == "NoArgsIsHelpError":
            code = 2  # the group's help is already printed: no command given is a usage error
        elif code == 2:
            typer.echo(_usage_line(exc), err=True)
        else:
            typer.echo(f"spiderweb: {' '.join(exc.format_message().split())}", err=True)
    except typer.Abort:
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
