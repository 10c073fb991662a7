"""Spawning and watching the processes of one scenario: server, echo baseline, generators.

Servers run as real subprocesses on 127.0.0.1 port 0: ``spiderweb serve
--port 0 --json --provider mock`` (the CLI), or ``swbench.mockserve`` when a
scenario needs mock latency. The orchestrator reads their ``listening`` line,
samples RSS with psutil, and stops them with SIGTERM or SIGKILL. Every wait
is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent.parent  # bench/spiderweb
LINE_LIMIT = 1 << 27  # generator results carry every latency sample on one line
LISTEN_TIMEOUT_S = 60.0


def child_env(home: Path) -> dict[str, str]:
    """The environment for every child: a private HOME, no SPIDERWEB_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIDERWEB")}
    env.pop("XDG_DATA_HOME", None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "cfg"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def spiderweb_command() -> list[str]:
    """The installed ``spiderweb`` console script next to this interpreter."""
    script = Path(sys.executable).with_name("spiderweb")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from spiderweb.cli import main; main()"]


def bench_config(**sections: dict[str, Any]) -> dict[str, Any]:
    """Mock provider, loopback, rate limit off (§16), plus per-scenario overrides.

    ``llm.max_concurrency`` is raised to 256 so that 200 closed-loop clients
    measure the gateway rather than the global LLM gate (8 slots + 64 waiters
    would answer most of them ``busy``); P8 sets it back to 2 to test the gate.
    """
    raw: dict[str, Any] = {
        "server": {"bind": "127.0.0.1", "port": 0, "max_connections": 5000},
        "provider": {"name": "mock"},
        "limits": {"rate_per_s": 0},
        "llm": {"max_concurrency": 256},
        "log": {"level": "warning"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return raw


@dataclass
class Server:
    """A running server process and what it printed when it became ready."""

    proc: asyncio.subprocess.Process
    url: str
    ready_s: float
    log: Path
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        """Resident set size in bytes (0 once the process is gone)."""
        try:
            return int(psutil.Process(self.pid).memory_info().rss)
        except psutil.Error:
            return 0

    def counts(self) -> dict[str, int]:
        """Threads and open file descriptors (a leak shows here before RSS)."""
        try:
            p = psutil.Process(self.pid)
            return {"threads": p.num_threads(), "fds": p.num_fds()}
        except psutil.Error:
            return {"threads": 0, "fds": 0}

    async def terminate(self, timeout: float = 60.0) -> tuple[int | None, float]:
        """SIGTERM; returns the exit code and seconds until exit (``None`` if it hung)."""
        t0 = time.perf_counter()
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.kill()
            return None, time.perf_counter() - t0
        return code, time.perf_counter() - t0

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await asyncio.wait_for(self.proc.wait(), 30)
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(BaseException):
                await self._drain

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def _spawn(cmd: list[str], home: Path, log: Path, cwd: Path | None = None) -> Server:
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            env=child_env(home),
            cwd=str(cwd or home),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            limit=LINE_LIMIT,
        )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), LISTEN_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(
            f"{cmd[0]} printed no listening line in {LISTEN_TIMEOUT_S:g} s"
        ) from None
    ready_s = time.perf_counter() - t0
    if not line:
        await proc.wait()
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"server exited {proc.returncode} before listening: {' | '.join(tail)}")
    event = json.loads(line)
    if event.get("event") != "listening":
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"unexpected first line from server: {line[:200]!r}")
    server = Server(proc, str(event["url"]), ready_s, log)
    server._drain = asyncio.create_task(_drain(proc.stdout))
    return server


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def start_echo(work: Path) -> Server:
    """The bare websockets echo baseline as its own process."""
    return await _spawn(
        [sys.executable, "-m", "swbench.echo"], work / "home-echo", work / "echo.log"
    )


async def start_spiderweb(
    work: Path,
    data_dir: Path,
    config: dict[str, Any],
    *,
    latency_ms: float = 0.0,
    name: str = "spiderweb",
) -> Server:
    """``spiderweb serve`` (CLI) on port 0; ``swbench.mockserve`` if ``latency_ms`` > 0."""
    cfg_path = work / f"{name}-config.json"
    cfg_path.write_text(json.dumps(config, indent=2))
    data_dir.mkdir(parents=True, exist_ok=True)
    if latency_ms > 0:
        cmd = [
            sys.executable,
            "-m",
            "swbench.mockserve",
            "--config",
            str(cfg_path),
            "--data-dir",
            str(data_dir),
            "--latency-ms",
            str(latency_ms),
        ]
    else:
        cmd = [
            *spiderweb_command(),
            "serve",
            "--port",
            "0",
            "--json",
            "--provider",
            "mock",
            "--data-dir",
            str(data_dir),
            "--config",
            str(cfg_path),
        ]
    return await _spawn(cmd, work / f"home-{name}", work / f"{name}.log")


@dataclass
class LoadRun:
    """1-2 generator processes running one spec each; events are read as they come."""

    procs: list[asyncio.subprocess.Process]
    connected: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _all_connected: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def start(cls, work: Path, specs: list[dict[str, Any]]) -> LoadRun:
        procs = []
        home = work / "home-loadgen"
        home.mkdir(parents=True, exist_ok=True)
        for i, spec in enumerate(specs):
            with (work / f"loadgen-{i}.log").open("ab") as err:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "swbench.loadgen",
                    env=child_env(home),
                    cwd=str(home),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                    limit=LINE_LIMIT,
                )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(spec).encode())
            await proc.stdin.drain()
            proc.stdin.close()
            procs.append(proc)
        run = cls(procs)
        run._tasks = [asyncio.create_task(run._read(p)) for p in procs]
        return run

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            event = json.loads(line)
            kind = event.pop("event", None)
            if kind == "connected":
                self.connected.append(event)
                if len(self.connected) == len(self.procs):
                    self._all_connected.set()
            elif kind == "result":
                self.results.append(event)

    async def wait_connected(self, timeout: float) -> bool:
        """True once every generator reported ``connected`` (False if one died first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._all_connected.is_set() and loop.time() < deadline:
            if all(t.done() for t in self._tasks):
                break
            await asyncio.sleep(0.05)
        return self._all_connected.is_set()

    async def finish(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for every generator to exit; raises if one failed or hung."""
        try:
            await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
            codes = [await asyncio.wait_for(p.wait(), 30) for p in self.procs]
        except TimeoutError:
            for p in self.procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
            raise RuntimeError(f"load generator did not finish within {timeout:g} s") from None
        if any(codes) or len(self.results) != len(self.procs):
            raise RuntimeError(f"load generator failed (exit codes {codes}); see loadgen-*.log")
        return self.results


async def run_load(work: Path, specs: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Start generators for ``specs`` and return their results."""
    run = await LoadRun.start(work, specs)
    return await run.finish(timeout)


def shards(items: list[str], n: int) -> list[list[str]]:
    """Split ``items`` round-robin into ``n`` non-empty-if-possible lists."""
    n = max(1, min(n, len(items))) if items else 1
    return [items[i::n] for i in range(n)]
