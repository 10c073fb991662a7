"""The HTTP API on a real uvicorn subprocess on 127.0.0.1:0, driven by httpx (acceptance 25)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

TOKEN = "t0ken-for-tests"
CLI = [sys.executable, "-m", "pairofcleats.cli"]


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str
    repo: Path

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [*CLI, "service", "api", "--port", "0", "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        err = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=10)
        raise AssertionError(f"server did not start: rc={proc.returncode} {err}")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def server(built_fixture: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    other = tmp_path_factory.mktemp("other-root")
    env = {**os.environ, **built_fixture.env}
    proc, info = start(
        env,
        "--repo",
        str(built_fixture.repo),
        "--auth-token",
        TOKEN,
        "--allowed-repo-roots",
        str(other),
    )
    assert info["host"] == "127.0.0.1" and info["port"] > 0
    assert info["baseUrl"] == f"http://127.0.0.1:{info['port']}"
    yield Server(proc, info["baseUrl"], built_fixture.repo)
    assert stop(proc) == 0


def test_health_is_open(server: Server) -> None:
    with server.client(token=None) as c:
        r = c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["uptimeMs"] >= 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/status"), ("GET", "/metrics"), ("POST", "/search"), ("GET", "/status/stream")],
)
def test_other_routes_need_the_token(server: Server, method: str, path: str) -> None:
    for token in (None, "wrong"):
        with server.client(token=token) as c:
            r = c.request(method, path, json={"query": "greet"})
        assert r.status_code == 401
        assert r.json()["code"] == "UNAUTHORIZED"


def test_unknown_routes_and_methods_answer_json_errors(server: Server) -> None:
    with server.client() as c:
        r = c.get("/")
        assert r.status_code == 404
        body = r.json()
        assert body["ok"] is False and body["code"] == "NOT_FOUND"
        assert "GET /" in body["message"] and "POST /search" in body["hint"]
        r = c.get("/search")
        assert r.status_code == 405
        assert r.json()["code"] == "METHOD_NOT_ALLOWED"
        assert "POST" in r.headers["allow"]


def test_search_returns_ok_repo_result(server: Server) -> None:
    with server.client() as c:
        r = c.post("/search", json={"query": "greet", "mode": "code", "top": 3, "ann": False})
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True
    assert body["repo"] == str(server.repo)
    names = [h["name"] for h in body["result"]["code"]]
    assert "greet" in names
    assert body["result"]["query"] == "greet"


def test_search_compact_and_filters(server: Server) -> None:
    with server.client() as c:
        r = c.post(
            "/search",
            json={"query": "greet", "output": "compact", "lang": ["python"], "mode": "code"},
        )
    hits = r.json()["result"]["code"]
    assert hits and all(h["ext"] == ".py" for h in hits)
    assert "metaV2" not in hits[0]


def test_bad_requests_are_400(server: Server) -> None:
    with server.client() as c:
        assert c.post("/search", json={"query": "greet", "bogus": 1}).status_code == 400
        assert c.post("/search", content=b"{nope").status_code == 400
        r = c.post("/search", json={"query": 'greet "open'})
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
        assert c.post("/search", json={"query": "greet", "top": 0}).status_code == 400
        # strict JSON types: a string is no number, nor a number a boolean
        assert c.post("/search", json={"query": "greet", "top": "5"}).status_code == 400
        assert c.post("/search", json={"query": "greet", "explain": 1}).status_code == 400


def test_unknown_keys_hint_the_key_meant(server: Server) -> None:
    # an agent that speaks the MCP tool's dialect (compact, nested filters) is told the fix
    with server.client() as c:
        r = c.post("/search", json={"query": "greet", "compact": True})
        assert r.status_code == 400
        assert r.json()["hint"] == 'for \'compact\' use "output": "compact"'
        r = c.post("/search", json={"query": "greet", "filters": {"lang": "python"}})
        assert r.status_code == 400 and "top-level filter keys" in r.json()["hint"]
        r = c.post("/search", json={"q": "greet", "limit": 3})
        hint = r.json()["hint"]
        assert "for 'q' use \"query\"" in hint and "for 'limit' use \"top\"" in hint
        r = c.post("/search", json={"query": "greet", "zzz": 1})
        assert r.json()["hint"].startswith("accepted: ann, ")
        # a wrong type is no unknown key: no hint
        assert "hint" not in c.post("/search", json={"query": "greet", "top": "5"}).json()


def test_body_too_large_is_413(server: Server) -> None:
    with server.client() as c:
        r = c.post("/search", json={"query": "x" * 1_100_000})
    assert r.status_code == 413


def test_disallowed_repo_is_403_and_unindexed_allowed_is_409(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    with server.client() as c:
        r = c.post("/search", json={"query": "greet", "repoPath": str(outside)})
        assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
        allowed_root = Path(
            next(a for a in server.proc.args if "other-root" in str(a))  # type: ignore[union-attr]
        )
        repo = allowed_root / "repo"
        repo.mkdir()
        r = c.post("/search", json={"query": "greet", "repoPath": str(repo)})
    assert r.status_code == 409
    assert r.json()["code"] == "NO_INDEX"


def test_status(server: Server) -> None:
    with server.client() as c:
        r = c.get("/status")
    body = r.json()
    assert r.status_code == 200 and body["ok"] is True
    assert body["repo"] == str(server.repo)
    assert body["status"]["indexed"] is True
    assert set(body["status"]["modes"]) == {"code", "prose", "extracted-prose"}


def _events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_search_stream_events(server: Server) -> None:
    with server.client() as c, c.stream("POST", "/search/stream", json={"query": "greet"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = _events(text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert "progress" in kinds
    result = next(d for e, d in events if e == "result")
    assert result["ok"] is True and result["result"]["code"]


def test_search_stream_reports_errors(server: Server) -> None:
    with server.client() as c:
        r = c.post("/search/stream", json={"query": 'bad "quote'})
    events = _events(r.text)
    assert [e for e, _ in events] == ["start", "progress", "error", "done"]
    assert events[2][1]["code"] == "INVALID_REQUEST"


def test_status_stream(server: Server) -> None:
    with server.client() as c:
        r = c.get("/status/stream")
    kinds = [e for e, _ in _events(r.text)]
    assert kinds == ["start", "result", "done"]


def test_metrics_parse(server: Server) -> None:
    with server.client() as c:
        c.post("/search", json={"query": "greet", "ann": False})
        c.post("/search", json={"query": "greet", "ann": False})
        text = c.get("/metrics").text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line.startswith(("# HELP", "# TYPE")) or not line
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    assert samples['pairofcleats_api_requests_total{route="/search",status="200"}'] >= 2
    assert samples["pairofcleats_search_seconds_count"] >= 2
    assert samples["pairofcleats_index_cache_hits_total"] >= 1


def test_non_loopback_without_token_refuses(built_fixture: Any) -> None:
    env = {**os.environ, **built_fixture.env}
    env.pop("PAIROFCLEATS_API_TOKEN", None)
    proc = subprocess.run(
        [*CLI, "service", "api", "--repo", str(built_fixture.repo), "--host", "0.0.0.0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--auth-token" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["api", "mcp"])
def test_missing_repo_fails_at_start_up(tmp_path: Path, command: str) -> None:
    # 'service api --repo /missing' used to start listening and fail every request instead
    missing = tmp_path / "missing"
    proc = subprocess.run(
        [*CLI, "service", command, "--repo", str(missing), *(["--port", "0"] * (command == "api"))],
        env={**os.environ, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"pairofcleats: INVALID_REQUEST: repo {missing} is not a directory"
        " (pass --repo PATH to a directory)"
    ]


def test_sigint_exits_130(built_fixture: Any) -> None:
    env = {**os.environ, **built_fixture.env}
    proc, info = start(env, "--repo", str(built_fixture.repo))
    with httpx.Client(base_url=info["baseUrl"]) as c:
        assert c.get("/health").status_code == 200
        # no token configured: other routes are open
        assert c.get("/status").status_code == 200
    assert stop(proc, signal.SIGINT) == 130


def test_concurrent_searches(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = ["greet", "sum", "clamp", "Greeter", "add_numbers", "cppMultiply", "rust_greet"]

    def one(q: str) -> int:
        with server.client() as c:
            return c.post("/search", json={"query": q, "mode": "code", "ann": False}).status_code

    with ThreadPoolExecutor(max_workers=7) as pool:
        assert list(pool.map(one, queries * 3)) == [200] * 21


def test_server_follows_new_builds(built_fixture: Any, tmp_path: Path) -> None:
    import shutil

    from pairofcleats.build.api import build_index

    repo = tmp_path / "repo"
    shutil.copytree(built_fixture.repo, repo, symlinks=True)
    env = {**built_fixture.env, "PAIROFCLEATS_CACHE_ROOT": str(tmp_path / "cache")}
    build_index(repo, stub_embeddings=True, env=env)
    proc, info = start({**os.environ, **env}, "--repo", str(repo))
    try:
        with httpx.Client(base_url=info["baseUrl"], timeout=30) as c:
            body = {"query": "zebra_unique", "mode": "code", "ann": False, "strict": True}
            assert c.post("/search", json=body).json()["result"]["code"] == []
            (repo / "src" / "zebra.py").write_text(
                'def zebra_unique():\n    """Only in the second build."""\n', encoding="utf-8"
            )
            build_index(repo, stub_embeddings=True, env=env)
            hits = c.post("/search", json=body).json()["result"]["code"]
            assert [h["name"] for h in hits] == ["zebra_unique"]
    finally:
        assert stop(proc) == 0
