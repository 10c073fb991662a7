"""`make demo`: run each system's demo on embedded defaults, one after another.

Each demo is a script in demo/ that exits 0 on success; this runner stops at
the first failure and exits with its code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMOS = [
    ("groundwork", "groundwork_demo.py", "progress renderer on a real supervised job"),
    ("spiderweb", "spiderweb_demo.py", "gateway: chat, a goal, restart, restore"),
    ("pairofcleats", "pairofcleats_demo.py", "index this repository, answer three queries"),
]


def main() -> int:
    for name, script, what in DEMOS:
        path = HERE / script
        if not path.exists():
            continue
        print(f"\n=== {name}: {what}", flush=True)
        code = subprocess.call([sys.executable, str(path)])
        if code != 0:
            print(f"=== {name} demo failed with exit {code}", flush=True)
            return code
    print("\n=== all demos passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
