"""``pairofcleats search`` without Typer: the command's body and a parser for plain lines.

A cold search is mostly start-up: importing Typer and building its parameters (with their
pydantic adapters) cost ~150 ms of CPU per process. :func:`parse` accepts only command lines
whose meaning is certain (known options, values that cannot be mistaken for options, one
query) and returns None for anything else: help, ``--version``, typos, missing values,
unusual spellings (``-n5``, ``-n 5.0``). Those go to the Typer app (``pairofcleats.cli_app``),
so help text, usage errors and their exit codes stay Typer's own; a test checks that every
line accepted here parses to the same values under Typer. Both paths run :func:`run`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairofcleats.errors import InvalidRequest, PairOfCleatsError

if TYPE_CHECKING:
    from pairofcleats.service.stdout import StdoutGuard

__all__ = ["DEFAULTS", "FLAGS", "PROGRESS_CONTEXT_VARS", "VALUE_OPTIONS", "parse", "report", "run"]

#: option → (parameter, kind); kind: str, path, int, float or multi (repeatable, a list).
VALUE_OPTIONS: dict[str, tuple[str, str]] = {
    "--repo": ("repo", "path"),
    "--mode": ("mode", "str"),
    "-n": ("top", "int"),
    "--top": ("top", "int"),
    "--backend": ("backend", "str"),
    "--ann-backend": ("ann_backend", "str"),
    "--dense-vector-mode": ("dense_vector_mode", "str"),
    "--match": ("match", "str"),
    "--bm25-k1": ("bm25_k1", "float"),
    "--bm25-b": ("bm25_b", "float"),
    "--fts-profile": ("fts_profile", "str"),
    "--path": ("path", "multi"),
    "--file": ("file", "multi"),
    "--lang": ("lang", "multi"),
    "--ext": ("ext", "multi"),
    "--type": ("kind", "multi"),
    "--kind": ("kind", "multi"),
    "--name": ("name", "multi"),
    "--signature": ("signature", "multi"),
    "--param": ("param", "multi"),
    "--returns": ("returns", "multi"),
    "--calls": ("calls", "multi"),
    "--uses": ("uses", "multi"),
    "--import": ("imports", "multi"),
    "--author": ("author", "multi"),
    "--modified-since": ("modified_since", "str"),
    "--filter": ("filter_string", "str"),
    "--progress": ("progress", "str"),
}
_FILTER_PARAMS = [name for name, kind in VALUE_OPTIONS.values() if kind == "multi"]
#: flag → (parameter, value it sets).
FLAGS: dict[str, tuple[str, bool]] = {
    "--ann": ("ann", True),
    "--no-ann": ("ann", False),
    "--stub-embeddings": ("stub_embeddings", True),
    "--strict": ("strict", True),
    "--case": ("case", True),
    "--json": ("json_out", True),
    "--compact": ("compact", True),
    "--explain": ("explain", True),
    "--why": ("explain", True),
    "--stats": ("stats", True),
    "--verbose": ("verbose", True),
}
#: every parameter but ``query`` when no option is given (what Typer passes).
DEFAULTS: dict[str, Any] = {
    **{name: None for name, kind in VALUE_OPTIONS.values() if kind != "multi"},
    **{name: () for name, kind in VALUE_OPTIONS.values() if kind == "multi"},
    **{name: False for name, _value in FLAGS.values()},
    "ann": None,
    "progress": "auto",
}
_INT = re.compile(r"-?[0-9]+\Z")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
_CONVERT: dict[str, tuple[re.Pattern[str] | None, Callable[[str], Any]]] = {
    "str": (None, str),
    "path": (None, Path),
    "int": (_INT, int),
    "float": (_FLOAT, float),
}


def parse(args: Sequence[str]) -> dict[str, Any] | None:
    """The search parameters of ``args`` (after ``search``), or None: let Typer decide."""
    values: dict[str, Any] = dict(DEFAULTS)
    multi: dict[str, list[str]] = {}
    query: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            query.extend(args[i:])
            break
        if not arg.startswith("-"):
            query.append(arg)
            continue
        if arg in FLAGS:
            name, flag = FLAGS[arg]
            values[name] = flag
            continue
        opt, eq, value = arg.partition("=")
        if not eq:
            if i >= len(args):
                return None  # a missing value: Typer's error
            value = args[i]
            i += 1
        elif not opt.startswith("--"):
            return None  # -n=5 means the value "=5" to click
        spec = VALUE_OPTIONS.get(opt)
        if spec is None or value.startswith("-"):
            return None  # unknown (help, typos, -n5), or a value click may read otherwise
        name, kind = spec
        if kind == "multi":
            multi.setdefault(name, []).append(value)
            continue
        pattern, convert = _CONVERT[kind]
        if pattern is not None and not pattern.match(value):
            return None
        values[name] = convert(value)
    if len(query) != 1:
        return None
    values.update(multi)
    values["query"] = query[0]
    return values


# groundwork.progress.CONTEXT_ENV and CONTEXT_ALIASES (a test keeps them equal): checking the
# variables here spares a plain search importing groundwork.progress, which loads rich.
PROGRESS_CONTEXT_VARS = ("GROUNDWORK_PROGRESS_CONTEXT", "PAIROFCLEATS_PROGRESS_CONTEXT")
# click.echo strips these from text written to a stream that is not a terminal
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def _has_progress_context(env: Mapping[str, str]) -> bool:
    """``groundwork.progress.has_context``, imported only when a context variable is set."""
    if not any(env.get(name, "").strip() for name in PROGRESS_CONTEXT_VARS):
        return False
    from groundwork.progress import has_context

    return has_context(dict(env))


def report(
    err: PairOfCleatsError,
    *,
    json_out: bool,
    verbose: bool = False,
    emit: Callable[[Any], None] | None = None,
) -> int:
    """Report ``err`` once (its JSON object on stdout under ``--json``, else one stderr line)
    and return its exit code. ``emit`` writes past an active stdout guard."""
    if verbose:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    if json_out:
        if emit is not None:
            emit(err.to_json())
        else:
            from groundwork import jsonio

            sys.stdout.write(jsonio.dumps(err.to_json()).decode("utf-8") + "\n")
            sys.stdout.flush()
    else:
        line = f"pairofcleats: {err.one_line()}"
        if not sys.stderr.isatty():
            line = _ANSI.sub("", line)
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    return err.exit_code


class _SearchProgress:
    """``--progress jsonl``: ``job:start``, ``task:start/end`` for the search, ``job:end`` with
    a hit summary, all on stderr (search is too quick for bars, so tty/log print nothing)."""

    def __init__(self, mode: str) -> None:
        if mode not in ("auto", "tty", "log", "jsonl", "off"):
            raise InvalidRequest(
                f"unknown --progress {mode!r}", hint="use auto, tty, log, jsonl or off"
            )
        self.emitter: Any = None
        self.job = f"search-{os.getpid()}"
        if mode == "auto":
            mode = "jsonl" if _has_progress_context(os.environ) else "off"
        if mode == "jsonl":
            from groundwork.progress import Emitter

            self.emitter = Emitter(sys.stderr)
            self.emitter.job_start("search", sys.argv[1:], job_id=self.job)
            self.emitter.task_start("search", stage="search", jobId=self.job)

    def end(self, err: PairOfCleatsError | None, result: dict[str, Any] | None = None) -> None:
        if self.emitter is None:
            return
        if err is None:
            counts = {
                k: len((result or {}).get(k, [])) for k in ("code", "prose", "extractedProse")
            }
            self.emitter.task_end("search", "ok", jobId=self.job)
            self.emitter.job_end("ok", job_id=self.job, exit_code=0, result={"hits": counts})
        else:
            status = "cancelled" if err.exit_code == 130 else "failed"
            self.emitter.task_end("search", status, jobId=self.job)
            self.emitter.job_end(
                status,
                job_id=self.job,
                exit_code=err.exit_code,
                error={"code": err.code, "message": err.message},
            )


def _print_result(
    guard: StdoutGuard,
    result: Mapping[str, Any],
    json_out: bool,
    *,
    explain: bool,
    stats: bool = False,
) -> None:
    """The result as the one JSON document (``--json``) or as text lines."""
    if json_out:
        guard.emit(result)
    else:
        from pairofcleats.search.render import render_text

        guard.write_text(render_text(result, explain=explain, stats=stats))


def run(p: Mapping[str, Any]) -> int:
    """Search the promoted index with the parameters ``p`` (``parse``'s, or Typer's);
    returns the exit code after printing the result or the error."""
    from pairofcleats.search import lite
    from pairofcleats.service.stdout import stdout_guard

    json_out, verbose = bool(p["json_out"]), bool(p["verbose"])
    try:
        events = _SearchProgress(p["progress"])
    except PairOfCleatsError as err:
        return report(err, json_out=False)
    with stdout_guard(json_out) as guard:
        # a plain sqlite query is answered without numpy or pydantic (identical results);
        # everything else, errors included, goes through the full engine below
        result = lite.search(p, os.environ)
        if result is not None:
            events.end(None, result)
            _print_result(
                guard, result, json_out, explain=bool(p["explain"]), stats=bool(p["stats"])
            )
            return 0
        # One OpenBLAS thread (before numpy loads): a search's numpy work is a few small
        # products, and starting the BLAS pool costs a cold search more than it saves.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        from pairofcleats import api

        try:
            filters = api.make_filters(
                {key: p[key] for key in _FILTER_PARAMS},
                filter_string=p["filter_string"],
                modified_since=p["modified_since"],
                case=p["case"],
            )
            result = api.search(
                p["query"],
                repo=p["repo"],
                mode=p["mode"],
                top=p["top"],
                backend=p["backend"],
                ann=p["ann"],
                ann_backend=p["ann_backend"],
                dense_vector_mode=p["dense_vector_mode"],
                match_mode=p["match"],
                bm25_k1=p["bm25_k1"],
                bm25_b=p["bm25_b"],
                fts_profile=p["fts_profile"],
                strict=p["strict"],
                stub_embeddings=p["stub_embeddings"],
                explain=p["explain"],
                stats=p["stats"],
                compact=p["compact"],
                filters=filters,
                env=dict(os.environ),
            )
        except PairOfCleatsError as err:
            events.end(err)
            return report(err, json_out=json_out, verbose=verbose, emit=guard.emit)
        except Exception as exc:  # a bug: one line, traceback only with --verbose
            from pairofcleats.errors import Internal

            internal = Internal(f"{type(exc).__name__}: {exc}", hint="rerun with --verbose")
            internal.__cause__ = exc
            events.end(internal)
            return report(internal, json_out=json_out, verbose=verbose, emit=guard.emit)
        events.end(None, result)
        _print_result(guard, result, json_out, explain=bool(p["explain"]), stats=bool(p["stats"]))
    return 0
