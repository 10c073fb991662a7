"""``spiderweb serve`` with a mock provider that takes ``--latency-ms`` per call.

The CLI has no knob for the mock provider's latency (P1 and P8 need 50-100 ms
turns), so this process builds the same ``SpiderwebServer`` the CLI builds,
from the same config file, and injects ``MockProvider(latency_s=...)``. Its
stdout contract matches ``spiderweb serve --json``: one ``listening`` line,
exit 0 after SIGTERM (130 after SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from groundwork.llm import MockProvider
from spiderweb.api import ServeError, SpiderwebServer
from spiderweb.config import load_settings

from swbench.procutil import raise_nofile_limit


async def serve(config: Path, data_dir: Path, latency_ms: float) -> int:
    cfg = load_settings(config)
    provider = MockProvider(latency_s=latency_ms / 1000.0)
    server = SpiderwebServer(cfg, data_dir=data_dir, env={}, provider=provider)
    try:
        port = await server.start()
    except ServeError as exc:
        sys.stderr.write(exc.message + "\n")
        return exc.exit_code
    url = f"ws://{cfg.server.bind}:{port}"
    sys.stdout.write(json.dumps({"event": "listening", "url": url, "port": port}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    interrupted = False
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        nonlocal interrupted
        interrupted = interrupted or sig == signal.SIGINT
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    await stop.wait()
    await server.stop()
    await provider.aclose()
    return 130 if interrupted else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    raise_nofile_limit()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(serve(args.config, args.data_dir, args.latency_ms))


if __name__ == "__main__":
    sys.exit(main())
