"""groundwork on a real job: fingerprint this repository under a supervisor.

The parent (supervisor) spawns a child with ``groundwork.proc.spawn`` and a
progress context; the child walks the repository, hashes every file with BLAKE3
and xxh3 (``groundwork.hashing``), writes a JSONL manifest atomically
(``groundwork.jsonio`` + ``groundwork.fsio``) and reports ``poc.progress@2``
events on stderr. The parent decodes them (``groundwork.progress.Decoder``),
re-stamps them under its job and draws them with the reporter the user picked
(rich bars on a terminal, plain lines otherwise, or ``--progress jsonl``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from groundwork import fsio, hashing, jsonio, proc
from groundwork.progress import Decoder, Emitter, child_env, context_from_env, open_reporter

SKIP_DIRS = {".git", ".venv", ".bootstrap", "__pycache__", ".mypy_cache", ".ruff_cache",
             ".pytest_cache", ".hypothesis", "node_modules"}  # fmt: skip


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath) / name for name in sorted(filenames))
    return [p for p in out if p.is_file() and not p.is_symlink()]


def child(root: Path, manifest: Path) -> int:
    """The tool: scan, hash, write the manifest; progress on stderr."""
    with Emitter(sys.stderr, context_from_env(os.environ)) as em:
        em.task_start("scan:files", "Scanning the repository", total=None, unit="files")
        files = _files(root)
        em.task_end("scan:files", meta={"files": len(files)})
        total = sum(p.stat().st_size for p in files)
        em.task_start("hash:bytes", "Hashing (blake3 + xxh3)", total=total, unit="bytes")
        done = 0
        started = time.perf_counter()
        with fsio.atomic_writer(manifest) as out:
            writer = jsonio.JsonlWriter(out, flush_bytes=None)
            for path in files:
                data = path.read_bytes()
                writer.write(
                    {
                        "path": path.relative_to(root).as_posix(),
                        "size": len(data),
                        "blake3": hashing.hash_bytes(data, "blake3").hex,
                        "xxh3_64": hashing.hash_bytes(data, "xxh3_64").hex,
                    }
                )
                done += len(data)
                em.task_progress("hash:bytes", done)
            writer.flush()
        seconds = time.perf_counter() - started
        em.task_end("hash:bytes")
        root_digest = hashing.hash_file(manifest, "blake3").tagged
        em.log(
            f"{len(files)} files, {total / 1e6:.1f} MB hashed in {seconds:.2f} s; "
            f"manifest {root_digest}",
            meta={"files": len(files), "bytes": total, "manifest": root_digest},
        )
    return 0


def supervise(root: Path, mode: str) -> int:
    job_id = "groundwork-demo"
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.jsonl"
        argv = [sys.executable, __file__, "--child", str(root), str(manifest)]
        with open_reporter(mode, env=os.environ, stream=sys.stderr) as reporter:
            reporter.job_start("groundwork-demo", argv[2:], str(root), job_id=job_id,
                               title="fingerprint the repository")  # fmt: skip
            started = time.monotonic()
            child_proc = proc.spawn(argv, env=child_env(os.environ, {"jobId": job_id}))
            reporter.job_spawn(child_proc.pid, job_id=job_id)
            decoder = Decoder(context={"jobId": job_id})
            for line in child_proc.output():
                for event in decoder.feed((line.text + "\n").encode(), stream=line.stream):
                    reporter.forward(event, jobId=job_id, pid=child_proc.pid)
            for event in decoder.close():
                reporter.forward(event, jobId=job_id, pid=child_proc.pid)
            code = child_proc.wait()
            reporter.job_end("ok" if code == 0 else "failed", job_id=job_id, exit_code=code,
                             duration_ms=round((time.monotonic() - started) * 1000))  # fmt: skip
        lines = sum(1 for _ in jsonio.iter_jsonl(manifest)) if manifest.exists() else 0
        print(f"groundwork demo: manifest of {lines} files verified (exit {code})")
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--progress", default="auto", help="auto|rich|plain|jsonl|none")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "MANIFEST"), help=argparse.SUPPRESS)
    parser.add_argument("root", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    if args.child:
        return child(Path(args.child[0]), Path(args.child[1]))
    return supervise(Path(args.root).resolve(), args.progress)


if __name__ == "__main__":
    sys.exit(main())
