"""`make bench`: run every benchmark suite under bench/<system>/ and collect results.

Each suite is a module `bench/<name>/suite.py` exposing `run(ctx) -> dict`; it
measures its own baselines in the same run and returns figures plus ratios.
Results go to `bench/results/<name>.json`; a summary table goes to stdout.
Select suites with `python bench/run.py groundwork spiderweb`; `--quick` asks
suites for a CI-sized run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))


def _suites() -> dict[str, Path]:
    return {p.parent.name: p for p in sorted(HERE.glob("*/suite.py"))}


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", help="suite names (default: all)")
    parser.add_argument("--quick", action="store_true", help="CI-sized inputs")
    args = parser.parse_args(argv)
    available = _suites()
    chosen = args.suites or list(available)
    unknown = [s for s in chosen if s not in available]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; have: {', '.join(available)}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    failed = 0
    for name in chosen:
        print(f"== {name}")
        started = time.perf_counter()
        try:
            result = _load(name, available[name]).run({"quick": args.quick, "root": HERE.parent})
        except Exception as exc:  # a broken suite must not hide the others
            failed += 1
            print(f"   FAILED: {type(exc).__name__}: {exc}")
            continue
        result.setdefault("suite", name)
        result["wallSeconds"] = round(time.perf_counter() - started, 3)
        result["machine"] = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        }
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        for row in result.get("figures", []):
            ratio = row.get("ratio")
            ratio_s = f"{ratio:8.3f}x vs {row.get('baseline', '?')}" if ratio is not None else ""
            unit = row.get("unit", "")
            print(f"   {row['name']:<44} {row['value']:>14,.3f} {unit:<10} {ratio_s}")
        print(f"   -> {out.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
