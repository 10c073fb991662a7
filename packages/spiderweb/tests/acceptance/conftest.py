"""Acceptance fixtures: ``spiderweb serve --port 0 --json`` as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

SPIDERWEB = [sys.executable, "-c", "from spiderweb.cli import main; main()"]

Serving = Callable[..., AbstractAsyncContextManager[Any]]
#: How long ``serve`` may take to print ``listening`` (imports dominate under load).
STARTUP_S = 90
#: How long a signalled server may take to exit (10 s shutdown grace + persisting, under load).
EXIT_S = 90
#: Upper bound for one mock turn on a loaded box; a bound, not a sleep (turns take ms).
REPLY_S = 60


def cli_env(home: Path) -> dict[str, str]:
    """The test's environment without any SPIDERWEB_* variable, HOME in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDERWEB")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "cfg")})
    env.pop("XDG_DATA_HOME", None)
    return env


@pytest.fixture
def serving(tmp_path: Path) -> Serving:
    """``async with serving(data, *args) as proc``: a server subprocess; ``proc.url`` is set.

    Killed on exit if the test left it running (a test that signals it waits itself).
    """

    runs = iter(range(1_000))

    @asynccontextmanager
    async def start(
        data: Path, *extra: str, env: dict[str, str] | None = None, json_mode: bool = True
    ) -> AsyncIterator[Any]:
        # stderr goes to a file: an unread pipe would fill and stall a chatty server.
        log_path = tmp_path / f"serve-{next(runs)}.log"
        log = log_path.open("wb")
        proc = await asyncio.create_subprocess_exec(
            *SPIDERWEB,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data),
            *(["--json"] if json_mode else []),
            *extra,
            env=cli_env(tmp_path) | (env or {}),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            stdin=asyncio.subprocess.DEVNULL,
        )
        log.close()
        assert proc.stdout is not None
        try:  # a loaded 2-core box can take a while to import and start
            line = await asyncio.wait_for(proc.stdout.readline(), STARTUP_S)
        except BaseException:
            proc.kill()  # never leak a server that was slow to start
            await proc.wait()
            raise
        if not line:
            code = await proc.wait()
            raise AssertionError(f"serve exited {code}: {log_path.read_text()}")
        if json_mode:
            event = json.loads(line)
            assert event["event"] == "listening" and event["port"] > 0
            proc.url = event["url"]  # type: ignore[attr-defined]
        else:
            text = line.decode().strip()
            assert text.startswith("listening ws://"), text
            proc.url = text.removeprefix("listening ")  # type: ignore[attr-defined]
        proc.log_path = log_path  # type: ignore[attr-defined]
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    return start
