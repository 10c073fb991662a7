"""§16 item 11 at run time: a build and a search (stub, and slow: the real MiniLM) open no
non-loopback socket and never import the model package's module (its ``__init__`` prints).

The CLI runs in a subprocess with a ``sys.addaudithook`` hook that records every socket
connect, bind, sendto and name lookup, so nothing is mocked: the hook only watches.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pairofcleats.embeddings import minilm_available
from poc_fixtures.repo import make_env, make_fixture_repo

from .conftest import build_root

HOOKED_RUN = r"""
import ipaddress, json, socket, sys

events = []

def _loopback(addr):
    if isinstance(addr, (str, bytes)):  # AF_UNIX path
        return True
    host = addr[0] if isinstance(addr, tuple) and addr else addr
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

def hook(event, args):
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        events.append([event, repr(args[1]), _loopback(args[1])])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        events.append([event, repr(args[0]), _loopback((args[0],))])

sys.addaudithook(hook)
out_path, argv = sys.argv[1], sys.argv[2:]
from pairofcleats.cli import main
code = 0
try:
    main(argv)
except SystemExit as exc:
    code = exc.code or 0
finally:
    mods = sorted(m for m in sys.modules if m.startswith("all_minilm"))
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump({"events": events, "modelModules": mods, "code": code}, fh)
"""


def _hooked(args: list[str], env: dict[str, str], report: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", HOOKED_RUN, str(report), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(report.read_text(encoding="utf-8"))
    out["stdout"] = proc.stdout
    return out


MINILM = pytest.param(
    "minilm",
    marks=[
        pytest.mark.slow,
        pytest.mark.skipif(not minilm_available(), reason="MiniLM weights not installed"),
    ],
)


@pytest.mark.parametrize("provider", ["stub", MINILM])
def test_item11_build_and_search_stay_offline(tmp_path: Path, provider: str) -> None:
    files = {
        "calc.py": 'def add_numbers(a, b):\n    """Add two numbers and return the total."""\n'
        "    return a + b\n",
        "notes.md": "# Notes\n\nHow the calculator adds numbers.\n",
    }
    repo = make_fixture_repo(tmp_path / "repo", files)
    env = make_env(tmp_path)
    build = _hooked(
        ["index", "build", "--repo", str(repo), "--embeddings", provider, "--json",
         "--progress", "off"],
        env,
        tmp_path / "build.json",
    )  # fmt: skip
    summary = json.loads(str(build["stdout"]))
    assert summary["promoted"] is True
    code_state = json.loads((build_root(repo, env) / "index-code" / "index_state.json").read_text())
    assert code_state["embeddings"]["provider"] == provider and code_state["embeddings"]["ready"]
    search = _hooked(
        [
            "search",
            "sum two values",
            "--repo",
            str(repo),
            "--ann",
            "--json",
            "--mode",
            "code",
            *(["--stub-embeddings"] if provider == "stub" else []),
        ],
        env,
        tmp_path / "search.json",
    )
    hits = json.loads(str(search["stdout"]))["code"]
    assert any(h["annSource"] == "dense" for h in hits)
    for run in (build, search):
        events = run["events"]
        assert isinstance(events, list)
        assert [e for e in events if not e[2]] == [], events
        assert run["modelModules"] == []
    if provider == "minilm":  # extracted once into the cache, from the installed wheel
        models = list((tmp_path / "cache" / "cache-v1" / "models" / "all-MiniLM-L6-v2").iterdir())
        assert len(models) == 1 and (models[0] / "model.safetensors").is_file()
