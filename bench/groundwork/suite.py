"""groundwork benchmarks: each figure against a stdlib baseline from the same run.

- canon ``jsonio.dumps`` vs ``json.dumps(sort_keys=True, ...)`` (the bytes it must equal)
- ``jsonio.loads`` vs ``json.loads``
- ``iter_jsonl`` (capped, streamed) vs ``for line in f: json.loads(line)``
- ``hash_file`` blake3 / xxh3_64 vs ``hashlib.sha256`` over the same file
- ``atomic_write`` (fsync + rename + dir fsync) vs plain ``write_bytes``

Ratios are "ours / baseline" for throughputs (higher is better) and stated per row.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundwork import fsio, hashing, jsonio


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _records(n: int, seed: int = 7, *, float_digits: int | None = 4) -> list[dict[str, Any]]:
    """Index-like records; ``float_digits=None`` leaves full-precision random floats
    (some below 1e-4, which canon spells with an exponent: the slow path)."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "épsilon", "zeta", "eta", "theta", "ιota", "kappa"]
    return [
        {
            "id": i,
            "file": f"src/pkg{i % 37}/module_{i % 101}.py",
            "name": f"{rng.choice(words)}_{i}",
            "kind": rng.choice(["function", "class", "method", "section"]),
            "startLine": rng.randint(1, 5000),
            "tokens": [rng.choice(words) for _ in range(rng.randint(5, 40))],
            "meta": {
                "lang": "python",
                "weight": rng.random()
                if float_digits is None
                else round(rng.random(), float_digits),
                "exported": rng.random() > 0.5,
            },
        }
        for i in range(n)
    ]


def _row(name: str, value: float, unit: str, baseline: str, ratio: float) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": baseline,
        "ratio": round(ratio, 3),
    }


def run(ctx: dict[str, Any]) -> dict[str, Any]:
    quick = bool(ctx.get("quick"))
    n = 5_000 if quick else 40_000
    repeat = 3 if quick else 5
    records = _records(n)
    figures: list[dict[str, Any]] = []

    def std_dumps() -> bytes:
        return json.dumps(
            records, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()

    canon = jsonio.dumps(records)
    assert canon == std_dumps(), "canon bytes differ from json.dumps"
    mb = len(canon) / 1e6
    t_ours = _best(lambda: jsonio.dumps(records), repeat)
    t_std = _best(std_dumps, repeat)
    figures.append(_row("jsonio.dumps (canon)", mb / t_ours, "MB/s", "json.dumps", t_std / t_ours))

    raw_floats = _records(n, float_digits=None)
    t_ours = _best(lambda: jsonio.dumps(raw_floats), repeat)
    t_std = _best(
        lambda: json.dumps(
            raw_floats, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode(),
        repeat,
    )
    figures.append(
        _row("jsonio.dumps (canon, tiny floats)", mb / t_ours, "MB/s", "json.dumps", t_std / t_ours)
    )

    t_ours = _best(lambda: jsonio.loads(canon), repeat)
    t_std = _best(lambda: json.loads(canon), repeat)
    figures.append(_row("jsonio.loads", mb / t_ours, "MB/s", "json.loads", t_std / t_ours))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        jl = root / "records.jsonl"
        with jl.open("wb") as fh:
            for _ in range(1 if quick else 4):
                for rec in records:
                    fh.write(jsonio.dumps(rec) + b"\n")
        jl_mb = jl.stat().st_size / 1e6

        def ours_jsonl() -> int:
            with jl.open("rb") as fh:
                return sum(1 for _ in jsonio.iter_jsonl(fh))

        def std_jsonl() -> int:
            with jl.open("rb") as fh:
                return sum(1 for line in fh if json.loads(line) is not None)

        assert ours_jsonl() == std_jsonl()
        t_ours = _best(ours_jsonl, repeat)
        t_std = _best(std_jsonl, repeat)
        figures.append(
            _row(
                "iter_jsonl (1 MiB cap)",
                jl_mb / t_ours,
                "MB/s",
                "json.loads per line",
                t_std / t_ours,
            )
        )

        blob = root / "blob.bin"
        size = (32 if quick else 256) * 1024 * 1024
        with blob.open("wb") as fh:
            chunk = os.urandom(1024 * 1024)
            for _ in range(size // len(chunk)):
                fh.write(chunk)

        def sha256_file() -> str:
            h = hashlib.sha256()
            with blob.open("rb") as fh:
                while block := fh.read(1024 * 1024):
                    h.update(block)
            return h.hexdigest()

        sha256_file()  # warm the page cache so every reader sees the same I/O
        t_sha = _best(sha256_file, repeat)
        for algo in ("blake3", "xxh3_64", "xxh64"):
            t_ours = _best(lambda a=algo: hashing.hash_file(blob, a), repeat)
            figures.append(
                _row(
                    f"hash_file {algo}",
                    size / 1e6 / t_ours,
                    "MB/s",
                    "hashlib.sha256",
                    t_sha / t_ours,
                )
            )

        payload = os.urandom(4096)
        count = 100 if quick else 400
        target = root / "state.json"

        def atomic() -> None:
            for _ in range(count):
                fsio.atomic_write(target, payload)

        def plain() -> None:
            for _ in range(count):
                target.write_bytes(payload)

        t_ours = _best(atomic, 3)
        t_std = _best(plain, 3)
        figures.append(
            _row(
                "atomic_write 4 KiB (durable)",
                count / t_ours,
                "writes/s",
                "write_bytes (not durable)",
                t_std / t_ours,
            )
        )
    return {"records": n, "figures": figures}
