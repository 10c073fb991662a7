"""The Typer app of pairofcleats (§10): every command, help text and usage error.

``pairofcleats.cli.main`` runs a plain ``search`` line without it (``cli_search.parse``);
everything else comes here. Errors from the package's tree become one line (or the
``{ok:false, code, message}`` object under ``--json``) and their exit code; help and
``--version`` go to stdout. ``run`` calls Typer with ``standalone_mode=False`` so usage errors
print one line (exit 2) and Ctrl-C exits 130. The service commands import their servers
lazily: a search never loads starlette, uvicorn or the MCP SDK.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from pairofcleats import __version__
from pairofcleats.cli_search import report
from pairofcleats.cli_search import run as run_search
from pairofcleats.errors import InvalidRequest, PairOfCleatsError


def _root_app() -> typer.Typer:
    return typer.Typer(
        name="pairofcleats",
        help="Code and prose search index for coding agents.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = _root_app()
# The same root holding only ``search``: Typer builds every registered command's parameters
# on each run, so ``main`` runs a search through this one (skipping the index and service
# commands' annotations and adapters). Help and errors of ``search`` read the same.
search_app = _root_app()
service_app = typer.Typer(
    name="service",
    help="Serve the index over HTTP or MCP.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(service_app, name="service")

try:  # the index commands; the CLI still works (search, service) without them
    _index_app: typer.Typer | None = importlib.import_module("pairofcleats.cli_index").index_app
except ImportError:  # pragma: no cover - only while the build pipeline is being written
    _index_app = None
if _index_app is not None:
    app.add_typer(_index_app, name="index")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pairofcleats {__version__}")
        raise typer.Exit(0)


@search_app.callback(invoke_without_command=True)
@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Code and prose search index for coding agents."""


def fail(
    err: PairOfCleatsError,
    *,
    json_out: bool,
    verbose: bool = False,
    emit: Callable[[Any], None] | None = None,
) -> typer.Exit:
    """Report ``err`` once (``cli_search.report``) and return the ``typer.Exit`` to raise."""
    return typer.Exit(report(err, json_out=json_out, verbose=verbose, emit=emit))


def _env() -> dict[str, str]:
    return dict(os.environ)


SEARCH_EXAMPLES = """Examples:

\b
  pairofcleats search "atomic write" -n 5
  pairofcleats search getUserName --mode code --explain
  pairofcleats search "parse config" --lang python --kind function --json --compact
  pairofcleats search '"exact phrase" -test OR spec' --path src/

Words match identifiers by sub-word (getUserName finds get_user_name); a misspelt word is
expanded to close vocabulary words unless --strict. AND, OR and NOT (any case) are
operators. With no index yet, run: pairofcleats index build"""


@search_app.command("search", epilog=SEARCH_EXAMPLES)
@app.command("search", epilog=SEARCH_EXAMPLES)
def search_cmd(
    query: Annotated[str, typer.Argument(help='The query (terms, "phrases", -negations, OR, ()).')],
    repo: Annotated[Path | None, typer.Option("--repo", help="Repository root.")] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="code, prose, extracted-prose, both or all (default all)."),
    ] = None,
    top: Annotated[
        int | None, typer.Option("-n", "--top", help="Hits per mode (default 5).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="auto, memory, sqlite, sqlite-fts (alias fts).")
    ] = None,
    ann: Annotated[
        bool | None, typer.Option("--ann/--no-ann", help="Dense ranking on or off.")
    ] = None,
    ann_backend: Annotated[
        str | None, typer.Option("--ann-backend", help="auto, exact or hnsw.")
    ] = None,
    dense_vector_mode: Annotated[
        str | None, typer.Option("--dense-vector-mode", help="merged, code, doc or auto.")
    ] = None,
    match: Annotated[str | None, typer.Option("--match", help="all, any or auto.")] = None,
    bm25_k1: Annotated[
        float | None, typer.Option("--bm25-k1", help="BM25 k1 (default 1.2).")
    ] = None,
    bm25_b: Annotated[float | None, typer.Option("--bm25-b", help="BM25 b (default 0.75).")] = None,
    fts_profile: Annotated[
        str | None,
        typer.Option("--fts-profile", help="balanced, headline or name (sqlite-fts weights)."),
    ] = None,
    stub_embeddings: Annotated[
        bool, typer.Option("--stub-embeddings", help="Embed the query with the stub model.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="No typo expansion or relaxation.")
    ] = False,
    path: Annotated[list[str] | None, typer.Option("--path", help="Path prefix or glob.")] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="Path substring or /regex/.")
    ] = None,
    lang: Annotated[
        list[str] | None, typer.Option("--lang", help="Language id, or its extension (py).")
    ] = None,
    ext: Annotated[
        list[str] | None, typer.Option("--ext", help="Extension, with or without dot.")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--type", "--kind", help="Chunk kind contains.")
    ] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Name contains.")] = None,
    signature: Annotated[
        list[str] | None, typer.Option("--signature", help="Signature contains.")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Parameter name.")] = None,
    returns: Annotated[
        list[str] | None, typer.Option("--returns", help="Return type contains.")
    ] = None,
    calls: Annotated[list[str] | None, typer.Option("--calls", help="Calls this function.")] = None,
    uses: Annotated[list[str] | None, typer.Option("--uses", help="Uses this identifier.")] = None,
    imports: Annotated[
        list[str] | None, typer.Option("--import", help="File import contains.")
    ] = None,
    author: Annotated[
        list[str] | None, typer.Option("--author", help="Last author contains.")
    ] = None,
    modified_since: Annotated[
        str | None, typer.Option("--modified-since", help="Days, or an ISO date.")
    ] = None,
    filter_string: Annotated[str | None, typer.Option("--filter", help='"k:v …" filters.')] = None,
    case: Annotated[bool, typer.Option("--case", help="Case-sensitive filters.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    compact: Annotated[bool, typer.Option("--compact", help="Compact hits.")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", "--why", help="Add score breakdowns.")
    ] = False,
    stats: Annotated[bool, typer.Option("--stats", help="Add timing and backend stats.")] = False,
    progress: Annotated[
        str, typer.Option("--progress", help="auto, tty, log, jsonl or off (jsonl: stderr events).")
    ] = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", help="Tracebacks on errors.")] = False,
) -> None:
    """Search the promoted index of a repository."""
    # the first statement: ``locals()`` is exactly the parameters, named as cli_search's
    code = run_search(dict(locals()))
    if code:
        raise typer.Exit(code)


@service_app.command("api")
def service_api_cmd(
    repo: Annotated[Path | None, typer.Option("--repo", help="Default repository.")] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (0: ephemeral; default 7345).")
    ] = None,
    auth_token: Annotated[str | None, typer.Option("--auth-token", help="Bearer token.")] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option("--allow-unauthenticated", help="Allow a non-loopback host without a token."),
    ] = False,
    allowed_repo_roots: Annotated[
        str | None,
        typer.Option("--allowed-repo-roots", help="Comma-separated roots repoPath must be under."),
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option("--max-body-bytes", help="Body size cap.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print {host, port, baseUrl} once up.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Tracebacks on errors.")] = False,
) -> None:
    """Serve search and status over HTTP (Starlette + uvicorn)."""
    try:
        from pairofcleats.service.api import ServeOptions, serve

        code = serve(
            ServeOptions.from_flags(
                repo=repo,
                host=host,
                port=port,
                auth_token=auth_token,
                allow_unauthenticated=allow_unauthenticated,
                allowed_repo_roots=allowed_repo_roots,
                max_body_bytes=max_body_bytes,
                json_out=json_out,
                env=_env(),
            )
        )
    except PairOfCleatsError as err:
        raise fail(err, json_out=json_out, verbose=verbose) from None
    raise typer.Exit(code)


@service_app.command("mcp")
def service_mcp_cmd(
    repo: Annotated[Path | None, typer.Option("--repo", help="Default repository.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Tracebacks on errors.")] = False,
) -> None:
    """Serve the MCP tools over stdio (stdout carries only the protocol)."""
    try:
        from pairofcleats.service.mcp import serve_stdio

        code = serve_stdio(repo=repo, env=_env())
    except PairOfCleatsError as err:
        raise fail(err, json_out=False, verbose=verbose) from None
    raise typer.Exit(code)


def _usage_line(err: typer.TyperException) -> str:
    ctx = getattr(err, "ctx", None)
    cmd = ctx.command_path if ctx is not None else "pairofcleats"
    return f"{cmd}: {err.format_message()} (see {cmd} --help)"


def _wants_json(args: list[str]) -> bool:
    """Was ``--json`` given as an option (not after ``--``, where it is the query)?"""
    options = args[: args.index("--")] if "--" in args else args
    return "--json" in options


def run(args: list[str]) -> int:
    """Run one command line; returns its exit code."""
    try:
        root = search_app if args[:1] == ["search"] else app
        rv: Any = root(args=args, prog_name="pairofcleats", standalone_mode=False)
    except typer.Exit as err:
        return int(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("pairofcleats: cancelled\n")
        return 130
    except typer.TyperException as err:
        # Typer vendors click privately (typer >= 0.29): its errors are caught through the
        # public base class; a usage error carries exit_code 2.
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError":
            sys.stdout.write((ctx.get_help() if ctx is not None else "") + "\n")
            return 0
        if err.exit_code == 2:
            if _wants_json(args):  # §10: under --json stdout carries the error object too
                cmd = ctx.command_path if ctx is not None else "pairofcleats"
                hint = f"see {cmd} --help"
                return report(InvalidRequest(err.format_message(), hint=hint), json_out=True)
            sys.stderr.write(_usage_line(err) + "\n")
            return 2
        sys.stderr.write(f"pairofcleats: {err.format_message()}\n")
        return int(err.exit_code)
    except InvalidRequest as err:  # raised outside a command (should not happen)
        sys.stderr.write(f"pairofcleats: {err.one_line()}\n")
        return 2
    return rv if isinstance(rv, int) else 0
