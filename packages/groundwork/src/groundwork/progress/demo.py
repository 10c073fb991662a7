"""A real supervised job on the progress protocol, for ``make demo`` and smoke tests.

``run_demo`` plays supervisor: it starts a child Python process with a
progress context, decodes the child's pipes as they arrive, forwards its
``task:*`` and ``log`` events under one job (fresh ``seq``) and emits the
job's own ``job:*`` events, all through the reporter the user chose. The
child (``--child``) is a tool: it writes protocol events to stderr plus a few
ordinary lines, which come out wrapped as ``log`` events.

Run it with ``python -m groundwork.progress.demo [--progress MODE]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO

from .context import child_env, context_from_env
from .decoder import Decoder, iter_streams
from .emitter import Emitter
from .events import ProgressError
from .render import open_reporter

__all__ = ["child_main", "main", "run_demo"]

_FORWARDED = ("task:start", "task:progress", "task:end", "log")


def child_main(
    stream: IO[str], stdout: IO[str], env: Mapping[str, str], *, steps: int, delay_s: float
) -> int:
    """The child side: two stages of work reported on ``stream``."""
    with Emitter(stream, context_from_env(env)) as em:
        em.log("demo child started")
        stdout.write("a plain stdout line from the child\n")
        stdout.flush()
        for task_id, name, unit in (
            ("scan:files", "Scanning files", "files"),
            ("index:chunks", "Indexing chunks", "chunks"),
        ):
            em.task_start(task_id, name, total=steps, unit=unit)
            for done in range(1, steps + 1):
                time.sleep(delay_s)
                em.task_progress(task_id, done)
            em.task_end(task_id)
        stream.write("a non-protocol stderr line\n")
        stream.flush()
        em.log("demo child finished", meta={"steps": steps})
    return 0


def run_demo(
    mode: str = "auto",
    *,
    env: Mapping[str, str],
    stream: IO[str],
    steps: int = 40,
    delay_s: float = 0.02,
    python: str = sys.executable,
) -> int:
    """Supervise one child job and report it in ``mode``; returns the child's exit code."""
    job_id = "demo-1"
    argv = [python, "-m", "groundwork.progress.demo", "--child"]
    argv += ["--steps", str(steps), "--delay", str(delay_s)]
    with open_reporter(mode, env=env, stream=stream) as reporter:
        reporter.job_start(
            "groundwork.progress.demo", argv[3:], os.getcwd(), job_id=job_id, title="progress demo"
        )
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(env, {"jobId": job_id}),
        )
        assert child.stdout is not None and child.stderr is not None
        reporter.job_spawn(child.pid, job_id=job_id)
        started = time.monotonic()
        sources = {"stdout": child.stdout, "stderr": child.stderr}
        for event in iter_streams(sources, decoder=Decoder(context={"jobId": job_id})):
            if event.event in _FORWARDED:
                reporter.forward(event, jobId=job_id, pid=child.pid)
        code = child.wait()
        child.stdout.close()
        child.stderr.close()
        reporter.job_end(
            "ok" if code == 0 else "failed",
            job_id=job_id,
            exit_code=code,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
    return code


def main(
    argv: Sequence[str] | None, env: Mapping[str, str], stdout: IO[str], stderr: IO[str]
) -> int:
    parser = argparse.ArgumentParser(prog="python -m groundwork.progress.demo")
    parser.add_argument("--progress", default="auto", help="auto|rich|plain|jsonl|none")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(stderr, stdout, env, steps=args.steps, delay_s=args.delay)
    try:
        return run_demo(args.progress, env=env, stream=stderr, steps=args.steps, delay_s=args.delay)
    except ProgressError as exc:
        stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:], os.environ, sys.stdout, sys.stderr))
