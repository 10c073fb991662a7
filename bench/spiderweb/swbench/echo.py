"""The baseline: a bare websockets echo server (``async for m in ws: await ws.send(m)``).

Run as ``python -m swbench.echo``; prints ``{"event":"listening","url","port"}``
on stdout when ready and exits 0 on SIGTERM/SIGINT. It uses the same library
settings as spiderweb's gateway (no compression, same frame cap, same ping
interval) so the ratio measures spiderweb's own work, not a configuration gap.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from websockets.asyncio.server import ServerConnection, serve

from swbench.procutil import raise_nofile_limit


async def echo(ws: ServerConnection) -> None:
    async for m in ws:
        await ws.send(m)


async def main() -> int:
    raise_nofile_limit()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        echo,
        "127.0.0.1",
        0,
        max_size=1_048_576,
        ping_interval=20.0,
        ping_timeout=20.0,
        close_timeout=5.0,
        compression=None,
        max_queue=64,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://127.0.0.1:{port}"
        sys.stdout.write(json.dumps({"event": "listening", "url": url, "port": port}) + "\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
