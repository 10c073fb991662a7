"""Git as a subprocess: streamed output, bounded time, whole-tree kill (§3, §15 K1/K3).

Output is streamed line by line (``git ls-files`` of a large repo exceeds any
fixed capture cap); on timeout or early stop the process group is killed through
``groundwork.proc.kill_tree``.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 120.0


def _kill_tree(pid: int) -> None:
    # imported here: groundwork.proc loads asyncio and psutil (~70 ms), and git is only
    # killed on timeout or early stop, never on a plain search's rev-parse.
    from groundwork.proc import kill_tree

    kill_tree(pid, grace_s=1.0)


class GitError(Exception):
    """git failed, timed out or is not installed."""


def _git_env(env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(env) if env is not None else {}
    base.setdefault("PATH", os.defpath)
    base["GIT_TERMINAL_PROMPT"] = "0"
    base["LC_ALL"] = "C"
    return base


def git_stream(
    args: list[str],
    cwd: Path,
    *,
    sep: bytes = b"\n",
    env: Mapping[str, str] | None = None,
    timeout_s: float = GIT_TIMEOUT_S,
) -> Iterator[bytes]:
    """Yield ``sep``-separated records of ``git <args>``; stopping early kills git."""
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_git_env(env),
            start_new_session=True,
        )
    except OSError as exc:
        raise GitError(f"git not runnable: {exc}") from exc
    timed_out = threading.Event()

    def _expire() -> None:
        timed_out.set()
        _kill_tree(proc.pid)

    timer = threading.Timer(timeout_s, _expire)
    timer.daemon = True
    timer.start()
    finished = False
    try:
        assert proc.stdout is not None
        buf = b""
        while True:
            block = proc.stdout.read1(65536)  # type: ignore[attr-defined]
            if not block:
                break
            buf += block
            *records, buf = buf.split(sep)
            yield from records
        if buf:
            yield buf
        finished = True
    finally:
        timer.cancel()
        if not finished and proc.poll() is None:
            _kill_tree(proc.pid)
        if proc.stdout is not None:
            proc.stdout.close()
        rc = proc.wait()
    if timed_out.is_set():
        raise GitError(f"git {' '.join(args)} timed out after {timeout_s:.0f}s")
    if finished and rc != 0:
        raise GitError(f"git {' '.join(args)} exited {rc}")


def git_text(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str | None:
    """Stdout of a short git command, stripped; None when git fails."""
    try:
        out = b"\n".join(git_stream(args, cwd, env=env, timeout_s=30.0))
    except GitError:
        return None
    return out.decode("utf-8", "replace").strip()


@dataclass(frozen=True, slots=True)
class RepoProvenance:
    """``repo{provider, head{commit, branch}|null, dirty}`` of build_state/current.json."""

    provider: str
    commit: str | None
    branch: str | None
    dirty: bool | None

    def to_json(self) -> dict[str, object]:
        head = None
        if self.commit is not None:
            head = {"commit": self.commit, "branch": self.branch}
        return {"provider": self.provider, "head": head, "dirty": self.dirty}


def is_git_repo(root: Path, env: Mapping[str, str] | None = None) -> bool:
    """True when ``root`` is inside a git work tree and git runs."""
    return git_text(["rev-parse", "--is-inside-work-tree"], root, env) == "true"


def provenance(root: Path, provider: str, env: Mapping[str, str] | None = None) -> RepoProvenance:
    """Head commit, branch and dirtiness (provider ``auto`` picks git when available)."""
    if provider == "none" or (provider == "auto" and not is_git_repo(root, env)):
        return RepoProvenance("none", None, None, None)
    commit = git_text(["rev-parse", "HEAD"], root, env) or None
    branch = git_text(["rev-parse", "--abbrev-ref", "HEAD"], root, env) or None
    status = git_text(["status", "--porcelain", "--untracked-files=no"], root, env)
    return RepoProvenance("git", commit, branch, bool(status) if status is not None else None)
