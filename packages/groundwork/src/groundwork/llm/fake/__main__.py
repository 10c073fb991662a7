"""``python -m groundwork.llm.fake [--port 0] [--api-key K] [--script S] [--json]``.

Prints the base URL on one line (or ``{"event": "listening", ...}`` with
``--json``) once it is serving, then serves until SIGINT/SIGTERM. Other
processes script it over ``POST /_fake/script`` and read ``GET /_fake/stats``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from groundwork.llm.fake.server import FakeLLMServer
from groundwork.llm.faults import parse_script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m groundwork.llm.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="require this key (Bearer / x-api-key)")
    parser.add_argument("--model", action="append", default=None, help="model to list (repeat)")
    parser.add_argument("--script", default="", help='global fault script, e.g. "429x2,ok"')
    parser.add_argument("--json", action="store_true", help="print the listening line as JSON")
    args = parser.parse_args(argv)
    try:
        script = parse_script(args.script)
    except ValueError as exc:
        parser.exit(2, f"error: --script: {exc}\n")
    server = FakeLLMServer(
        api_key=args.api_key, host=args.host, port=args.port, models=args.model or ("fake-model",)
    )
    try:
        server.start()
    except OSError as exc:
        parser.exit(1, f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
    server.script(script)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if args.json:
        line = json.dumps(
            {
                "event": "listening",
                "url": server.url,
                "port": server.port,
                "openai_base_url": server.openai_base_url,
                "anthropic_base_url": server.anthropic_base_url,
                "ollama_base_url": server.ollama_base_url,
            }
        )
    else:
        line = server.url
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    while not done.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
