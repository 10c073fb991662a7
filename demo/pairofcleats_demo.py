"""pairofcleats on a real repository: build the index, validate it, answer three queries.

Every step is a real subprocess of the installed ``pairofcleats`` console script (the one
beside this interpreter), so the demo exercises exactly what a user runs. The cache lives in
a temporary directory (``PAIROFCLEATS_CACHE_ROOT``), removed afterwards unless ``--keep``, so
the demo never touches the user's cache.

Embeddings: the deterministic stub by default, because real MiniLM vectors for this whole
repository (about 6,000 chunks) take many minutes on two cores, too slow for ``make demo``.
Stub vectors are random, so fusing them would only add noise to the ranking: in stub mode the
queries rank sparse-only (``--no-ann``). ``--embeddings default`` lets the CLI pick as it does
for a user (MiniLM when ``pairofcleats[minilm]`` is installed) and fuses BM25 with the dense
ranking. Any failing step exits with that step's exit code (or 1).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "pairofcleats"
DEFAULT_QUERIES = (
    "atomic write",
    "kill the process tree",
    "how does a build get promoted after validation",
)
HIT_LISTS = (("code", "code"), ("prose", "prose"), ("extractedProse", "extracted-prose"))
STEP_TIMEOUT_S = 1800


class StepFailed(Exception):
    """A demo step did not do what it must; ``code`` is the exit status to return."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code if code != 0 else 1


def _run(args: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``pairofcleats ARGS --json`` and return its one JSON object (stderr passes through
    to the terminal, so progress and warnings stay visible)."""
    cmd = [str(CLI), *args, "--json"]
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, env=env, text=True, timeout=STEP_TIMEOUT_S, check=False
    )
    try:
        out: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise StepFailed(
            f"`pairofcleats {' '.join(args)}` printed no JSON object (exit {proc.returncode})",
            proc.returncode,
        ) from exc
    if proc.returncode != 0 or not out.get("ok", False):
        raise StepFailed(
            f"`pairofcleats {' '.join(args)}` failed (exit {proc.returncode}):"
            f" {out.get('code')}: {out.get('message')}",
            proc.returncode,
        )
    return out


def _short(text: Any, width: int) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _ms(value: Any) -> str:
    return f"{value:.0f} ms" if isinstance(value, int | float) else "? ms"


def build(repo: Path, env: dict[str, str], stub: bool) -> dict[str, Any]:
    """``index build`` then ``index validate``; returns the build summary."""
    args = ["index", "build", "--repo", str(repo), "--progress", "log"]
    if stub:
        args.append("--stub-embeddings")
    started = time.monotonic()
    res = _run(args, env)
    took = time.monotonic() - started
    print(f"built {res['buildId']} in {took:.1f}s", flush=True)
    disc = res.get("discovery", {})
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(disc.get("skipped", {}).items())) or "none"
    print(f"  files: {disc.get('indexed')} indexed of {disc.get('scanned')} (skipped: {skipped})")
    for mode, c in res.get("counts", {}).items():
        print(f"  {mode:<16} {c['chunks']:>6} chunks from {c['files']} files")
    for w in res.get("warnings", []):
        print(f"  warning {w.get('code')}: {w.get('message')}")
    rep = _run(["index", "validate", "--repo", str(repo)], env)
    print(f"validated {rep['buildId']}: {rep['issueCount']} issues, {rep['warningCount']} warnings")
    if stub:
        print("embeddings: stub (random vectors; the queries below rank with BM25 only)")
        return res
    status = _run(["index", "status", "--repo", str(repo)], env)
    emb = {m: info.get("embeddings", {}) for m, info in status.get("modes", {}).items()}
    code_emb: dict[str, Any] = emb.get("code") or next(iter(emb.values()), {})
    if code_emb.get("ready"):
        print(f"embeddings: {code_emb.get('provider')} ({code_emb.get('model')})")
    else:
        print("embeddings: off (sparse BM25 only)")
    return res


def ask(repo: Path, env: dict[str, str], query: str, top: int, stub: bool) -> int:
    """Search ``query`` and print its top hits per mode; returns how many hits came back."""
    args = ["search", query, "--repo", str(repo), "--compact", "-n", str(top), "--stats"]
    if stub:
        args.append("--no-ann")
    res = _run(args, env)
    stats = res.get("stats") or {}
    print(
        f'\n> pairofcleats search "{query}"   '
        f"(backend {res.get('backend')}, {_ms(stats.get('elapsedMs'))})"
    )
    total = 0
    for key, mode in HIT_LISTS:
        hits = res.get(key) or []
        total += len(hits)
        for h in hits:
            where = f"{h['file']}:{h['startLine']}-{h['endLine']}"
            line = f"  {mode:<15} {h['score']:8.3f}  {where}  {_short(h.get('name'), 40)}"
            if h.get("headline") and h.get("headline") != h.get("name"):
                line += f" — {_short(h['headline'], 50)}"
            print(line)
    seen: set[tuple[Any, Any]] = set()
    for w in res.get("warnings", []):
        warning = (w.get("code"), w.get("message"))
        if warning not in seen:
            seen.add(warning)
            print(f"  warning {warning[0]}: {warning[1]}")
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repo", type=Path, default=ROOT, help="repository to index")
    parser.add_argument(
        "--query", action="append", help="a query to answer (repeatable; default: three)"
    )
    parser.add_argument("--top", type=int, default=3, help="hits per mode")
    parser.add_argument(
        "--embeddings",
        choices=("stub", "default"),
        default="stub",
        help="stub vectors (fast), or whatever the CLI picks by default (MiniLM if installed)",
    )
    parser.add_argument("--cache-root", type=Path, help="cache root (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary cache")
    opts = parser.parse_args(argv)
    repo = opts.repo.resolve()
    if not repo.is_dir():
        print(f"pairofcleats demo: --repo {repo} is not a directory", file=sys.stderr)
        return 2
    if not CLI.exists():
        print(f"pairofcleats demo: {CLI} not found (run `make sync`)", file=sys.stderr)
        return 1
    cache = opts.cache_root or Path(tempfile.mkdtemp(prefix="pairofcleats-demo-"))
    env = {**os.environ, "PAIROFCLEATS_CACHE_ROOT": str(cache)}
    env.pop("PAIROFCLEATS_EMBEDDINGS", None)  # the CLI default decides, not the caller's shell
    print(f"indexing {repo} (cache {cache})", flush=True)
    try:
        stub = opts.embeddings == "stub"
        build(repo, env, stub)
        for query in opts.query or DEFAULT_QUERIES:
            if ask(repo, env, query, opts.top, stub) == 0:
                raise StepFailed(f"query {query!r} returned no hits")
    except StepFailed as exc:
        print(f"pairofcleats demo: {exc}", file=sys.stderr)
        return exc.code
    except subprocess.TimeoutExpired as exc:
        print(f"pairofcleats demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if opts.cache_root is None and not opts.keep:
            shutil.rmtree(cache, ignore_errors=True)
    print("\npairofcleats demo: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
