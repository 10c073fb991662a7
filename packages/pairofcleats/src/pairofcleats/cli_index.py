"""``pairofcleats index …``: build, watch, validate, status (a thin layer over build/api.py).

Mounted by ``cli.py`` as ``app.add_typer(index_app, name="index")``. Every command
turns the package's errors into one stderr line (or the ``{ok:false, code, message}``
object under ``--json``) and the §10 exit code; tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from groundwork import jsonio

from pairofcleats.errors import Cancelled, Internal, InvalidRequest, PairOfCleatsError

index_app = typer.Typer(
    name="index",
    help="Build, watch, validate and inspect the index.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PROGRESS_MODES = ("auto", "tty", "log", "jsonl", "off")

RepoOpt = Annotated[
    Path | None, typer.Option("--repo", help="Repository root (default: git toplevel).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help="code, prose, extracted-prose, all or both.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Show tracebacks for errors.")]


def _out(value: Any) -> None:
    sys.stdout.write(jsonio.dumps(value).decode("utf-8") + "\n")
    sys.stdout.flush()


def _fail(err: PairOfCleatsError, json_out: bool, verbose: bool) -> typer.Exit:
    if verbose:
        traceback.print_exception(err, file=sys.stderr)
    if json_out:
        _out(err.to_json())
    else:
        sys.stderr.write(f"pairofcleats: {err.one_line()}\n")
        if err.errors and verbose:  # one line per error unless asked for details
            for issue in err.errors[:20]:
                msg = issue.get("message") or issue
                where = "/".join(str(x) for x in (issue.get("mode"), issue.get("artifact")) if x)
                sys.stderr.write(f"  {where + ': ' if where else ''}{msg}\n")
    return typer.Exit(err.exit_code)


CANCEL = threading.Event()
"""Set by SIGINT/SIGTERM; the build checks it at every stage and worker result."""


def _run(json_out: bool, verbose: bool, fn: Callable[[], Any]) -> Any:
    """Call ``fn`` mapping errors to exits; SIGINT/SIGTERM cancel (exit 130).

    The handler sets ``CANCEL`` before raising ``KeyboardInterrupt``: if the
    exception lands somewhere it is swallowed (a finalizer while the pool forks),
    the flag still stops the build at its next checkpoint.
    """

    def _cancel(signum: int, frame: Any) -> None:
        CANCEL.set()
        raise KeyboardInterrupt

    prev_term = signal.signal(signal.SIGTERM, _cancel)
    prev_int = signal.signal(signal.SIGINT, _cancel)
    try:
        return fn()
    except PairOfCleatsError as err:
        raise _fail(err, json_out, verbose) from None
    except KeyboardInterrupt:
        raise _fail(Cancelled("cancelled"), json_out, verbose) from None
    except OSError as exc:
        internal = Internal(f"{type(exc).__name__}: {exc}")
        raise _fail(internal, json_out, verbose) from None
    finally:
        signal.signal(signal.SIGTERM, prev_term)
        signal.signal(signal.SIGINT, prev_int)


class _Progress:
    """Maps build reports onto ``poc.progress@2`` (jsonl), rich bars (tty) or plain lines (log).

    ``auto`` is jsonl under a progress context, bars when stderr is a terminal, else off (a
    pipe or a CI log gets only the final line). Bars and lines come from groundwork's
    renderers: files processed in stage 1 and chunks embedded in stage 3 have counts, so
    the two long waits of a first build show how far along they are.
    """

    def __init__(self, mode: str, quiet: bool, command: str, args: list[str]) -> None:
        from groundwork.progress import Emitter, has_context, open_reporter

        if mode not in PROGRESS_MODES:
            raise InvalidRequest(
                f"unknown --progress {mode!r}", hint="use auto, tty, log, jsonl or off"
            )
        if mode == "auto":
            mode = (
                "jsonl"
                if has_context(dict(os.environ))
                else ("tty" if sys.stderr.isatty() else "off")
            )
        self.mode = "off" if quiet and mode != "jsonl" else mode
        self.emitter: Emitter | None = None
        if self.mode == "jsonl":
            self.emitter = Emitter(sys.stderr)
        elif self.mode in ("tty", "log"):
            self.emitter = open_reporter(
                "rich" if self.mode == "tty" else "plain",
                env=dict(os.environ),
                stream=sys.stderr,
                tty=self.mode == "tty" or None,
            )
        self.job = f"index-{os.getpid()}"
        words = command.split()
        for k in range(len(words), 0, -1):  # argv's leading command words (``index build``,
            if args[:k] == words[-k:]:  # or ``build`` under the index sub-app) are dropped
                args = args[k:]
                break
        if self.emitter is not None:
            self.emitter.job_start(command, args, job_id=self.job)

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if self.emitter is None:
            return
        task = str(payload.get("taskId", "task"))
        if kind == "task:start":
            mode = payload.get("mode")
            self.emitter.task_start(
                task,
                stage=str(payload.get("stage", task)),
                mode=str(mode) if mode else None,
                jobId=self.job,
            )
        elif kind == "task:progress":
            total = payload.get("total")
            self.emitter.task_progress(
                task,
                int(payload.get("done", 0)),
                int(total) if isinstance(total, int) else None,
                unit=str(payload["unit"]) if payload.get("unit") else None,
                jobId=self.job,
            )
        elif kind == "task:end":
            self.emitter.task_end(task, str(payload.get("status", "ok")), jobId=self.job)

    def end(self, status: str, code: int, result: Any = None) -> None:
        if self.emitter is not None:
            self.emitter.job_end(status, job_id=self.job, exit_code=code, result=result)
            self.emitter.close()


def _summary(res: dict[str, Any]) -> str:
    if res.get("unchanged"):
        return f"index unchanged (build {res['buildId']})"
    counts = ", ".join(
        f"{m} {c['chunks']} chunks/{c['files']} files" for m, c in res.get("counts", {}).items()
    )
    return f"promoted build {res['buildId']}: {counts}"


def _build_kwargs(
    mode: str | None,
    stage: int,
    sqlite: bool | None,
    incremental: bool | None,
    cache_rebuild: bool,
    stub_embeddings: bool,
    embeddings: str | None,
    dims: int | None,
    quality: str | None,
    threads: int | None,
    wait_lock: float,
) -> dict[str, Any]:
    return {
        "mode": mode,
        "stage": stage,
        "sqlite": sqlite,
        "incremental": incremental,
        "cache_rebuild": cache_rebuild,
        "stub_embeddings": stub_embeddings,
        "embeddings": embeddings,
        "dims": dims,
        "quality": quality,
        "threads": threads,
        "wait_lock": wait_lock,
    }


StageOpt = Annotated[int, typer.Option("--stage", min=1, max=4, help="Stop after stage N (1-4).")]
SqliteOpt = Annotated[
    bool | None, typer.Option("--sqlite/--no-sqlite", help="Build the SQLite stage.")
]
IncrOpt = Annotated[
    bool | None,
    typer.Option("-i", "--incremental/--no-incremental", help="Reuse verified bundles."),
]
RebuildOpt = Annotated[bool, typer.Option("--cache-rebuild", help="Ignore incremental bundles.")]
StubOpt = Annotated[bool, typer.Option("--stub-embeddings", help="Deterministic stub vectors.")]
EmbOpt = Annotated[str | None, typer.Option("--embeddings", help="auto, minilm, stub or off.")]
DimsOpt = Annotated[int | None, typer.Option("--dims", help="Embedding dimensions (stub).")]
QualOpt = Annotated[str | None, typer.Option("--quality", help="auto, fast, balanced or max.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="Worker processes.")]
WaitOpt = Annotated[float, typer.Option("--wait-lock", help="Seconds to wait for the index lock.")]
ProgOpt = Annotated[str, typer.Option("--progress", help="auto, tty, log, jsonl or off.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress output.")]


BUILD_EXAMPLES = """Examples:

\b
  pairofcleats index build                      # this repo: MiniLM vectors and SQLite
  pairofcleats index build --embeddings off     # no dense model: fast, sparse ranking
  pairofcleats index build --mode code --stage 2 --no-sqlite
  pairofcleats index build --json --progress jsonl 2> progress.jsonl

Builds are incremental (only changed files are processed), validated, and only then
promoted; a failed or killed build leaves the previous index searchable."""


@index_app.command("build", epilog=BUILD_EXAMPLES)
def build_cmd(
    repo: RepoOpt = None,
    mode: ModeOpt = None,
    stage: StageOpt = 4,
    sqlite: SqliteOpt = None,
    incremental: IncrOpt = None,
    cache_rebuild: RebuildOpt = False,
    stub_embeddings: StubOpt = False,
    embeddings: EmbOpt = None,
    dims: DimsOpt = None,
    quality: QualOpt = None,
    threads: ThreadsOpt = None,
    wait_lock: WaitOpt = 0.0,
    json_out: JsonOpt = False,
    progress: ProgOpt = "auto",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Build, validate and promote the index."""
    from pairofcleats.build.api import build_index

    prog = _run(json_out, verbose, lambda: _Progress(progress, quiet, "index build", sys.argv[1:]))
    kwargs = _build_kwargs(
        mode,
        stage,
        sqlite,
        incremental,
        cache_rebuild,
        stub_embeddings,
        embeddings,
        dims,
        quality,
        threads,
        wait_lock,
    )
    try:
        res = _run(
            json_out,
            verbose,
            lambda: build_index(repo, env=dict(os.environ), report=prog, cancel=CANCEL, **kwargs),
        )
    except typer.Exit as exc:
        prog.end("failed" if exc.exit_code != 130 else "cancelled", exc.exit_code)
        raise
    prog.end("ok", 0, {"buildId": res.get("buildId")})
    if json_out:
        _out(res)
    elif not quiet:
        sys.stdout.write(_summary(res) + "\n")


@index_app.command("watch")
def watch_cmd(
    repo: RepoOpt = None,
    mode: ModeOpt = None,
    stage: StageOpt = 4,
    sqlite: SqliteOpt = None,
    stub_embeddings: StubOpt = False,
    embeddings: EmbOpt = None,
    dims: DimsOpt = None,
    quality: QualOpt = None,
    threads: ThreadsOpt = None,
    wait_lock: Annotated[
        float, typer.Option("--wait-lock", help="Seconds to wait for the lock.")
    ] = 60.0,
    watch_poll: Annotated[
        int | None, typer.Option("--watch-poll", help="Poll every MS ms.")
    ] = None,
    watch_debounce: Annotated[int, typer.Option("--watch-debounce", help="Debounce MS ms.")] = 500,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Keep the index current: one incremental build per batch of changes."""
    from pairofcleats.build.api import watch_index

    def on_result(res: dict[str, Any]) -> None:
        if json_out:
            _out(res)
        elif not quiet:
            if res.get("ok"):
                sys.stderr.write(f"[watch] {_summary(res)}\n")
            else:
                sys.stderr.write(
                    f"[watch] attempt failed: {res.get('code')}: {res.get('message')}\n"
                )

    _run(
        json_out,
        verbose,
        lambda: watch_index(
            repo,
            poll_ms=watch_poll,
            debounce_ms=watch_debounce,
            on_result=on_result,
            env=dict(os.environ),
            cancel=CANCEL,
            mode=mode,
            stage=stage,
            sqlite=sqlite,
            stub_embeddings=stub_embeddings,
            embeddings=embeddings,
            dims=dims,
            quality=quality,
            threads=threads,
            wait_lock=wait_lock,
        ),
    )


@index_app.command("validate")
def validate_cmd(
    repo: RepoOpt = None,
    mode: ModeOpt = None,
    build: Annotated[str | None, typer.Option("--build", help="Validate this buildId.")] = None,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check every piece of the current (or given) build against its manifest."""
    from pairofcleats.build.api import validate_index

    rep = _run(
        json_out,
        verbose,
        lambda: validate_index(repo, mode=mode, build=build, threads=threads, env=dict(os.environ)),
    )
    if json_out:
        _out(rep)
    else:
        if rep["ok"]:
            sys.stdout.write(f"build {rep['buildId']}: ok\n")
        else:
            sys.stderr.write(
                f"pairofcleats: INDEX_INVALID: build {rep['buildId']}:"
                f" {rep['issueCount']} issue(s)\n"
            )
            for i in rep["issues"]:
                where = "/".join(str(x) for x in (i.get("mode"), i.get("artifact")) if x)
                sys.stderr.write(f"  {where}: {i['code']}: {i['message']}\n")
    if not rep["ok"]:
        raise typer.Exit(1)


@index_app.command("status")
def status_cmd(
    repo: RepoOpt = None, json_out: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """Show the current build, per-mode counts, the lock and the last build."""
    from pairofcleats.build.api import index_status

    st = _run(json_out, verbose, lambda: index_status(repo, env=dict(os.environ)))
    if json_out:
        _out(st)
        return
    sys.stdout.write("".join(f"{line}\n" for line in status_lines(st)))
    for w in st.get("warnings", []):
        sys.stderr.write(f"warning: {w['code']}: {w['message']}\n")


def _mib(n: Any) -> str:
    """A byte count as MiB (KiB below one MiB)."""
    if not isinstance(n, int | float):
        return "?"
    return f"{n / (1 << 20):,.1f} MiB" if n >= 1 << 20 else f"{n / 1024:,.0f} KiB"


def status_lines(st: Mapping[str, Any]) -> list[str]:
    """``index status``'s text: the current build and when it was promoted, per mode its
    counts, sizes, SQLite and embeddings (model and dims), then the lock and a last build
    that differs from the current one (a failed or running attempt)."""
    lines = [f"repo {st['repo']} ({st['repoId']})"]
    cur = st.get("current")
    when = f" (promoted {cur['promotedAt']})" if cur and cur.get("promotedAt") else ""
    lines.append(f"current build: {cur['buildId'] if cur else 'none'}{when}")
    if not cur:
        lines.append("  build one with: pairofcleats index build")
    for m, info in st.get("modes", {}).items():
        if "chunks" not in info:
            continue
        sq = info.get("sqlite") or {}
        emb = info.get("embeddings") or {}
        sqlite = f"sqlite {_mib(sq.get('bytes'))}" if sq.get("ready") else "no sqlite"
        if emb.get("ready"):
            dense = f"embeddings {emb.get('model')} {emb.get('dims')}-d"
            dense += " + HNSW" if emb.get("hnsw") else ""
        else:
            dense = "no embeddings"
        lines.append(
            f"  {m}: {info['stage']}, {info['files']} files, {info['chunks']} chunks,"
            f" {_mib(info.get('bytes'))}; {sqlite}; {dense}"
        )
    lock = st.get("lock") or {}
    if lock.get("held"):
        holder = lock.get("holder") or {}
        stale = " (stale)" if lock.get("stale") else ""
        lines.append(f"lock: held by pid {holder.get('pid')} ({holder.get('command', '?')}){stale}")
    last = st.get("lastBuild") or {}
    if last.get("buildId") and (not cur or last["buildId"] != cur.get("buildId")):
        lines.append(f"last build: {last['buildId']} {last.get('status')}")
    return lines
