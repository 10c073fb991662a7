"""`make demo`: run each system's demo on embedded defaults."""

from __future__ import annotations

import sys


def main() -> int:
    print("demos are being assembled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
