"""``python -m groundwork.llm.fake`` as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from groundwork.llm.fake.__main__ import main

pytestmark = pytest.mark.timeout(60)


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "groundwork.llm.fake", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_standalone_prints_url_and_serves() -> None:
    proc = spawn("--port", "0", "--script", "429,ok")
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=5, trust_env=False) as c:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            assert c.post("/v1/chat/completions", json=body).status_code == 429
            assert c.post("/v1/chat/completions", json=body).status_code == 200
            stats = c.get("/_fake/stats").json()
            assert stats["total"] == 2
            assert stats["byKey"] == {"/v1/chat/completions": 2}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_standalone_json_line_and_api_key() -> None:
    proc = spawn("--json", "--api-key", "sk-standalone-0123456789", "--model", "x")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["event"] == "listening" and info["port"] > 0
        assert info["openai_base_url"] == info["url"] + "/v1"
        with httpx.Client(base_url=info["url"], timeout=5, trust_env=False) as c:
            assert c.get("/api/tags").json()["models"][0]["name"] == "x"
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            assert c.post("/v1/chat/completions", json=body).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_bad_script_exits_2() -> None:
    proc = spawn("--script", "explode")
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "--script" in err and "explode" in err


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    old_int, old_term = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        assert main(["--port", "0"]) == 0
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    assert capsys.readouterr().out.startswith("http://127.0.0.1:")
    with pytest.raises(SystemExit) as exc:
        main(["--script", "nope"])
    assert exc.value.code == 2
