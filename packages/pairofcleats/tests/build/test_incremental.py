"""Incremental builds (§6; §16 item 23; §15 B1)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from groundwork import jsonio
from hypothesis import given
from hypothesis import strategies as st
from pairofcleats import api
from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.build.api import build_index
from pairofcleats.paths import RepoLayout

CLI = [sys.executable, "-c", "from pairofcleats.cli_index import index_app; index_app()"]


def _layout(repo: Path, env: dict[str, str]) -> RepoLayout:
    return RepoLayout.for_repo(repo.resolve(), Path(env["PAIROFCLEATS_CACHE_ROOT"]) / "cache-v1")


def _chunks(repo: Path, env: dict[str, str], mode: str = "code") -> list[dict]:
    layout = _layout(repo, env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return IndexReader(layout.repo_dir / ptr.buildRoots[mode] / f"index-{mode}").chunk_meta()


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_no_change_is_a_noop(fixture_repo: Path, build_env: dict[str, str]) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    again = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert again.pop("durationMs") >= 0
    assert again == {
        "ok": True,
        "unchanged": True,
        "buildId": first["buildId"],
        "repo": first["repo"],
        "repoId": first["repoId"],
        "incremental": {"reused": first["incremental"]["processed"], "processed": 0, "removed": 0},
        "warnings": [],
    }


def test_one_changed_file_is_the_only_one_reprocessed(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    _touch(fixture_repo / "src" / "util.js", "export function sumAll(xs) { return xs.length; }\n")
    second = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert second["incremental"]["processed"] == 1
    assert second["incremental"]["reused"] == first["incremental"]["processed"] - 1
    names = {c["name"] for c in _chunks(fixture_repo, build_env)}
    assert "sumAll" in names and "clamp" not in names


def test_incremental_output_equals_full_rebuild(
    fixture_repo: Path, build_env: dict[str, str], tmp_path: Path
) -> None:
    from poc_fixtures.repo import make_env

    build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False)
    _touch(fixture_repo / "src" / "greet.py", "def greet():\n    return 'yo'\n")
    build_index(fixture_repo, stub_embeddings=True, env=build_env, sqlite=False)
    fresh = make_env(tmp_path / "fresh")
    build_index(fixture_repo, stub_embeddings=True, env=fresh, sqlite=False)
    for mode in ("code", "prose", "extracted-prose"):
        a = _chunks(fixture_repo, build_env, mode)
        b = _chunks(fixture_repo, fresh, mode)
        assert a == b, mode


def test_corrupted_bundle_is_detected_and_rebuilt(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    man = jsonio.read_json(layout.incremental_dir("code") / "manifest.json")
    entry = man["files"]["src/greet.py"]
    bpath = layout.incremental_dir("code") / entry["bundle"]
    bpath.write_bytes(bpath.read_bytes().replace(b"greet", b"GREET", 1))
    _touch(fixture_repo / "README.md", "# Fixture\n\nChanged readme.\n")
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["processed"] == 2  # README (changed) + greet.py (bad bundle)
    refused = [w for w in res["warnings"] if w["code"] == "WARN_INCREMENTAL_REUSE_REFUSED"]
    assert any("src/greet.py" in w["message"] and "checksum" in w["message"] for w in refused)
    names = {c["name"] for c in _chunks(fixture_repo, build_env)}
    assert "greet" in names and "GREET" not in names
    man2 = jsonio.read_json(layout.incremental_dir("code") / "manifest.json")
    assert (
        man2["files"]["src/greet.py"]["bundleChecksum"] != ""
        and (layout.incremental_dir("code") / man2["files"]["src/greet.py"]["bundle"])
        .read_bytes()
        .count(b"GREET")
        == 0
    )


def test_deleted_file_chunks_disappear(fixture_repo: Path, build_env: dict[str, str]) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    (fixture_repo / "src" / "lib.rs").unlink()
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["incremental"]["removed"] >= 1
    assert not any(c["file"] == "src/lib.rs" for c in _chunks(fixture_repo, build_env))
    man = jsonio.read_json(
        _layout(fixture_repo, build_env).incremental_dir("code") / "manifest.json"
    )
    assert "src/lib.rs" not in man["files"]


def test_same_mtime_different_size_reprocesses(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env, stage=2, sqlite=False)
    p = fixture_repo / "src" / "math.c"
    st = p.stat()
    p.write_text(p.read_text() + "\nint extra_fn(void) { return 0; }\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(0.01)
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env, stage=2, sqlite=False)
    assert res["incremental"]["processed"] == 1
    assert "extra_fn" in {c["name"] for c in _chunks(fixture_repo, build_env)}


def test_cache_rebuild_ignores_bundles(fixture_repo: Path, build_env: dict[str, str]) -> None:
    first = build_index(fixture_repo, env=build_env, stage=1)
    res = build_index(fixture_repo, env=build_env, stage=1, cache_rebuild=True)
    assert res["incremental"]["reused"] == 0
    assert res["incremental"]["processed"] == first["incremental"]["processed"]


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_identical_files_keep_their_own_bundles(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """Defect 1: two files with the same bytes must not share (and overwrite) one bundle."""
    body = "def twin_helper(x):\n    return x + 1\n"
    for rel in ("pkg_a/twin.py", "pkg_b/twin.py", "pkg_b/other_name.py"):
        (fixture_repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (fixture_repo / rel).write_text(body)
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    man = jsonio.read_json(
        _layout(fixture_repo, build_env).incremental_dir("code") / "manifest.json"
    )
    names = [
        man["files"][r]["bundle"] for r in ("pkg_a/twin.py", "pkg_b/twin.py", "pkg_b/other_name.py")
    ]
    assert len(set(names)) == 3
    again = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert again["unchanged"] is True and again["buildId"] == first["buildId"]
    assert again["incremental"]["processed"] == 0
    assert not [w for w in again["warnings"] if w["code"] == "WARN_INCREMENTAL_REUSE_REFUSED"]
    files = {c["file"] for c in _chunks(fixture_repo, build_env) if c["name"] == "twin_helper"}
    assert files == {"pkg_a/twin.py", "pkg_b/twin.py", "pkg_b/other_name.py"}


def test_cache_rebuild_repopulates_the_bundle_cache(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """Defect 2: ``--cache-rebuild`` ignores old bundles but writes a fresh, usable cache."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    inc = _layout(fixture_repo, build_env).incremental_dir("code")
    shutil.rmtree(inc.parent)
    rebuilt = build_index(fixture_repo, stub_embeddings=True, env=build_env, cache_rebuild=True)
    assert rebuilt["incremental"]["reused"] == 0
    man = jsonio.read_json(inc / "manifest.json")
    assert "src/greet.py" in man["files"]
    assert (inc / man["files"]["src/greet.py"]["bundle"]).is_file()
    again = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert again["unchanged"] is True and again["buildId"] == rebuilt["buildId"]
    assert again["incremental"]["reused"] == rebuilt["incremental"]["processed"]


def test_cli_no_change_build_processes_no_file(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """A real CLI no-change rebuild: exit 0, says so in --json and human output, reads no file
    for processing (the build's own counts), and leaves current.json byte-identical."""
    (fixture_repo / "assets").mkdir()
    (fixture_repo / "assets" / "blob.py").write_bytes(b"\x00\x01binary\x00" * 64)
    first = _cli(["build", "--repo", str(fixture_repo), "--stub-embeddings", "--json",
                  "--progress", "off"], build_env)  # fmt: skip
    assert first.returncode == 0, first.stderr
    built = json.loads(first.stdout)
    assert built["discovery"]["skipped"].get("binary") == 1
    layout = _layout(fixture_repo, build_env)
    before = layout.current_json.read_bytes()
    res = _cli(["build", "--repo", str(fixture_repo), "--stub-embeddings", "--json",
                "--progress", "off"], build_env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["unchanged"] is True and out["buildId"] == built["buildId"]
    assert out["incremental"] == {
        "reused": built["incremental"]["processed"] + 1,  # + the remembered binary skip
        "processed": 0,
        "removed": 0,
    }
    assert layout.current_json.read_bytes() == before
    human = _cli(["build", "--repo", str(fixture_repo), "--stub-embeddings",
                  "--progress", "off"], build_env)  # fmt: skip
    assert human.returncode == 0, human.stderr
    assert f"index unchanged (build {built['buildId']})" in human.stdout


def test_one_changed_file_among_many_processes_exactly_one(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    _touch(fixture_repo / "src" / "greet.py", "def greet():\n    return 'changed'\n")
    second = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert second["promoted"] and second["buildId"] != first["buildId"]
    assert second["incremental"] == {
        "reused": first["incremental"]["processed"] - 1,
        "processed": 1,
        "removed": 0,
    }
    third = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert third["unchanged"] is True and third["buildId"] == second["buildId"]


def test_kill_9_during_incremental_keeps_the_previous_index_searchable(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    before = layout.current_json.read_bytes()
    _touch(fixture_repo / "src" / "greet.py", "def salutation_changed():\n    return 'x'\n")
    proc = subprocess.Popen(
        [*CLI, "build", "--repo", str(fixture_repo), "--stub-embeddings", "--json",
         "--progress", "off"],
        env={**build_env, "PAIROFCLEATS_TEST_HOLD_STAGE": "stage2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    held = None
    while held is None and time.monotonic() < deadline:
        held = next(iter(layout.builds_dir.glob("*/.hold-stage2")), None)
        assert proc.poll() is None
        time.sleep(0.05)
    assert held is not None, "the incremental build never reached stage2"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert layout.current_json.read_bytes() == before
    hits = api.search("format_message", repo=fixture_repo, env=build_env, backend="memory")
    assert hits["ok"] and any(  # the old content, from the still-current first build
        h["file"] == "src/greet.py" and h["name"] == "format_message" for h in hits["code"]
    )
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert res["promoted"] and res["incremental"]["processed"] == 1
    names = {c["name"] for c in _chunks(fixture_repo, build_env)}
    assert "salutation_changed" in names and "format_message" not in names


def test_bundle_parse_is_exact_for_long_integers_and_hex_rows(tmp_path: Path) -> None:
    from pairofcleats.build.incremental import IncrementalStore

    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    st = (root / "a.py").stat()
    mtime_ms = st.st_mtime_ns // 1_000_000
    bundle = {
        "file": "a.py",
        "hash": "xxh64:00112233445566778899",
        "size": st.st_size,
        "mtimeMs": mtime_ms,
        "big": [2**70, -(2**65)],
        "row": "ab" + "1234567890" * 4 + "ff",  # a 40-digit run inside a string
        "modes": {},
    }
    store = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    store.put(bundle)
    store.save()
    again = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    v = again.verify(root, "a.py", st.st_size, mtime_ms)
    assert v is not None and v.skipped is None
    assert again.parse(v, mtime_ms) == bundle
    assert again.lookup(root, "a.py", st.st_size + 1, mtime_ms) is None  # size moved
    # the scan's answer is recorded beside the checksum; an entry without it (an older
    # manifest) is scanned again, and either way the parse is exact
    assert again.old["a.py"]["longInts"] is True
    del again.old["a.py"]["longInts"]
    v = again.verify(root, "a.py", st.st_size, mtime_ms)
    assert v is not None and "longInts" not in again.new["a.py"]
    assert again.parse(v, mtime_ms) == bundle
    plain = dict(bundle, big=[1, 2], file="b.py", hash="xxh64:ab", row="ab")
    (root / "b.py").write_text("x = 1\n")
    again.put(plain)
    assert again.new["b.py"]["longInts"] is False


def test_long_integer_check_flags_only_what_orjson_cannot_hold() -> None:
    """orjson is exact for -2**63..2**64-1: a 19-digit ``mtimeNs`` needs no slow parse."""
    from pairofcleats.build.incremental import _JSON_LONG_INT

    assert _JSON_LONG_INT.search(b'{"mtimeNs":1796190355783239765}') is None
    assert _JSON_LONG_INT.search(b'{"a":[18446744073709551616]}') is not None  # 2**64
    assert _JSON_LONG_INT.search(b'{"a": -9223372036854775809}') is not None  # -2**63 - 1


def _current_root(repo: Path, env: dict[str, str]) -> Path:
    layout = _layout(repo, env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    return layout.repo_dir / ptr.buildRoot


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))


def test_no_change_with_a_corrupted_piece_rebuilds(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """The no-op re-verifies every piece's checksum: a flipped byte in the current build
    (same size) makes the next build a real one, which validates and promotes."""
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    _flip_last_byte(_current_root(fixture_repo, build_env) / "index-code" / "token_postings.json")
    again = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert "unchanged" not in again and again["promoted"]
    assert again["buildId"] != first["buildId"] and again["validation"]["ok"]
    assert again["incremental"]["processed"] == 0  # the bundles were still good


def test_no_change_with_a_corrupted_sqlite_db_rebuilds(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    db = _current_root(fixture_repo, build_env) / "index-sqlite" / "index-code.db"
    data = bytearray(db.read_bytes())
    data[len(data) // 2] ^= 0xFF
    db.write_bytes(bytes(data))
    again = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert "unchanged" not in again and again["buildId"] != first["buildId"]


def test_no_change_needs_the_current_build_to_hold_the_cached_files(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """A bundle store newer than the current build (a crash between saving the store and
    promoting) must not make an older build 'unchanged': file_meta is compared with it."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    old_pointer = layout.current_json.read_bytes()
    _touch(fixture_repo / "src" / "greet.py", "def greet_newer():\n    return 'n'\n")
    second = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout.current_json.write_bytes(old_pointer)  # as if the promote never happened
    third = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert "unchanged" not in third and third["buildId"] != second["buildId"]
    assert "greet_newer" in {c["name"] for c in _chunks(fixture_repo, build_env)}


@given(st.binary(max_size=48) | st.text(alphabet='0123456789-:[, \n\tax".e', max_size=48))
def test_long_int_fast_check_agrees_with_the_pattern(data: bytes | str) -> None:
    from pairofcleats.build.incremental import _JSON_LONG_INT, may_hold_long_int

    raw = data.encode() if isinstance(data, str) else data
    assert may_hold_long_int(raw) == (_JSON_LONG_INT.search(raw) is not None)


def _stored(tmp_path: Path, modes: dict) -> tuple[Any, Any, int]:
    from pairofcleats.build.incremental import IncrementalStore

    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "a.py").write_text("x = 1\n")
    st = (root / "a.py").stat()
    mtime_ms = st.st_mtime_ns // 1_000_000
    bundle = {"file": "a.py", "hash": "xxh64:0011223344556677", "size": st.st_size,
              "mtimeMs": mtime_ms, "modes": modes}  # fmt: skip
    store = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    store.put(bundle)
    store.save()
    again = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    v = again.verify(root, "a.py", st.st_size, mtime_ms)
    assert v is not None
    return again, v, mtime_ms


def test_parsed_bundle_tokens_share_one_str_per_token(tmp_path: Path) -> None:
    """Reused bundles hold one object per distinct token, like the workers' output."""
    modes = {"code": {"tokens": [["alpha", "beta"], ["alpha"]],
                      "fieldTokens": [{"name": ["alpha"]}, {"doc": ["beta"]}]}}  # fmt: skip
    store, v, mtime_ms = _stored(tmp_path, modes)
    got = store.parse(v, mtime_ms)
    assert got is not None and got["modes"] == modes
    m = got["modes"]["code"]
    assert m["tokens"][0][0] is m["tokens"][1][0] is m["fieldTokens"][0]["name"][0]
    assert m["tokens"][0][1] is m["fieldTokens"][1]["doc"][0]


def test_bundle_with_a_non_string_token_is_refused(tmp_path: Path) -> None:
    store, v, mtime_ms = _stored(tmp_path, {"code": {"tokens": [["ok", 7]]}})
    assert store.parse(v, mtime_ms) is None
    assert any("a.py: bundle mismatched" in r for r in store.refused)
    assert "a.py" not in store.new


def test_corrupted_bundle_with_unchanged_stats_is_reported_once_and_rebuilt(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """Stats all match (the lean, bytes-dropping verification runs first), but a bundle is
    bad: the build falls back to a real one, reusing the good bundles, refusing this once."""
    first = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    layout = _layout(fixture_repo, build_env)
    man = jsonio.read_json(layout.incremental_dir("code") / "manifest.json")
    bpath = layout.incremental_dir("code") / man["files"]["src/greet.py"]["bundle"]
    bpath.write_bytes(bpath.read_bytes().replace(b"greet", b"GREET", 1))
    res = build_index(fixture_repo, stub_embeddings=True, env=build_env)
    assert "unchanged" not in res and res["promoted"]
    assert res["incremental"]["processed"] == 1
    assert res["incremental"]["reused"] == first["incremental"]["processed"] - 1
    refused = [w for w in res["warnings"] if w["code"] == "WARN_INCREMENTAL_REUSE_REFUSED"]
    assert len(refused) == 1 and "src/greet.py" in refused[0]["message"]
    names = {c["name"] for c in _chunks(fixture_repo, build_env)}
    assert "greet" in names and "GREET" not in names


def _float_paths(value: Any, path: str, out: set[str]) -> None:
    if isinstance(value, float):
        out.add(path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _float_paths(v, f"{path}.{k}", out)
    elif isinstance(value, list):
        for v in value:
            _float_paths(v, f"{path}[]", out)


def test_stored_bundles_hold_no_float_but_the_chunk_weights(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """``put`` writes bundles with ``dumps_known_floats``, told only the weights: a float
    anywhere else in a bundle would skip the canon check (NaN written as null)."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    inc = _layout(fixture_repo, build_env).repo_dir / "incremental"
    found = list(inc.rglob("bundles/*/*.json"))
    assert len(found) > 10
    paths: set[str] = set()
    for f in found:
        _float_paths(jsonio.loads(f.read_bytes()), "", paths)
    assert paths and all(p.endswith(".chunks[].weight") for p in paths), sorted(paths)


def test_parsed_bundles_share_their_repeated_strings(tmp_path: Path) -> None:
    """Two bundles parsed by the store hold one str object per distinct identifier in
    their chunks' relations and small fields (memory of an incremental build), and the
    parse still equals what was stored."""
    from pairofcleats.build.incremental import IncrementalStore

    root = tmp_path / "repo"
    root.mkdir()
    store = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    stored = {}
    for rel in ("a.py", "b.py"):
        (root / rel).write_text(f"# {rel}\n")
        st_ = (root / rel).stat()
        chunk = {
            "file": rel,
            "kind": "FunctionDeclaration",
            "lang": "python",
            "metaV2": {
                "kind": "FunctionDeclaration",
                "container": {"ext": ".py", "languageId": "python"},
                "codeRelations": {
                    "usages": ["self_config_value", "other_name"],
                    "calls": ["os.path.join"],
                    "imports": [],
                },
            },
        }
        bundle = {
            "file": rel,
            "hash": f"xxh64:{rel.encode().hex()}",
            "size": st_.st_size,
            "mtimeMs": st_.st_mtime_ns // 1_000_000,
            "modes": {"code": {"chunks": [chunk], "tokens": [["self_config_value"]]}},
        }
        store.put(bundle)
        stored[rel] = bundle
    store.save()
    again = IncrementalStore(tmp_path / "inc", "c" * 40, "k", reuse=True)
    parsed = {}
    for rel, bundle in stored.items():
        got = again.lookup(root, rel, bundle["size"], bundle["mtimeMs"])
        assert got == bundle
        parsed[rel] = got["modes"]["code"]["chunks"][0]
    a, b = parsed["a.py"], parsed["b.py"]
    ra, rb = a["metaV2"]["codeRelations"], b["metaV2"]["codeRelations"]
    assert ra["usages"][0] is rb["usages"][0] and ra["calls"][0] is rb["calls"][0]
    assert a["kind"] is b["kind"] is a["metaV2"]["kind"]
    assert a["metaV2"]["container"]["languageId"] is b["lang"]


_MANY = "".join(
    f'def step_{i}(value):\n    """Step {i} of the pipeline."""\n    return value + {i}\n\n\n'
    for i in range(6)
)


def _embedded(events: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    """Texts embedded per stage-3 task (the ``total`` of its progress reports)."""
    out: dict[str, int] = {}
    for kind, payload in events:
        task = str(payload.get("taskId", ""))
        if kind == "task:progress" and task.startswith("stage3:"):
            out[task] = max(out.get(task, 0), int(payload["total"]))
    return out


def _vectors(repo: Path, env: dict[str, str], mode: str = "code") -> dict[tuple[str, str], bytes]:
    layout = _layout(repo, env)
    ptr = read_current(layout.current_json).pointer
    assert ptr is not None
    root = layout.repo_dir / ptr.buildRoots[mode] / f"index-{mode}"
    mat = (root / "dense_vectors_uint8.bin").read_bytes()
    chunks = IndexReader(root).chunk_meta()
    dims = len(mat) // len(chunks)
    return {(c["file"], c["name"]): mat[c["id"] * dims : (c["id"] + 1) * dims] for c in chunks}


def test_an_edited_file_embeds_only_its_changed_chunks(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """§6 bundles key vector rows by the xxh64 of their embedding input: an edit to one
    function of a six-function file embeds that function again, not the whole file."""
    many = fixture_repo / "src" / "many.py"
    many.write_text(_MANY)
    first: list[tuple[str, dict[str, Any]]] = []
    build_index(
        fixture_repo, stub_embeddings=True, env=build_env, report=lambda k, p: first.append((k, p))
    )
    assert _embedded(first)["stage3:code"] > 6
    _touch(many, _MANY.replace("return value + 3", "return value * 3"))
    again: list[tuple[str, dict[str, Any]]] = []
    build_index(
        fixture_repo, stub_embeddings=True, env=build_env, report=lambda k, p: again.append((k, p))
    )
    embedded = _embedded(again)
    assert embedded.get("stage3:code") == 1  # step_3 only; the other five keep their rows
    assert "stage3:extracted-prose" not in embedded  # the docstrings did not change
    incremental = _vectors(fixture_repo, build_env)
    build_index(fixture_repo, stub_embeddings=True, env=build_env, cache_rebuild=True)
    assert _vectors(fixture_repo, build_env) == incremental  # the same rows as a full build


def test_changed_keys_reprocess_every_file_but_reuse_its_vectors(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    """A config (or tool) change that refuses every bundle still keeps the vector rows of
    unchanged embedding inputs when the embeddings key is the same."""
    build_index(fixture_repo, stub_embeddings=True, env=build_env)
    before = _vectors(fixture_repo, build_env)
    (fixture_repo / ".pairofcleats.json").write_text(
        json.dumps({"indexing": {"postings": {"chargramMaxN": 4}}})
    )
    events: list[tuple[str, dict[str, Any]]] = []
    res = build_index(
        fixture_repo, stub_embeddings=True, env=build_env, report=lambda k, p: events.append((k, p))
    )
    assert res["incremental"]["reused"] == 0  # every bundle refused: keys changed
    # ...and only the new file, .pairofcleats.json itself (one chunk), is embedded
    assert _embedded(events) == {"stage3:code": 1}
    after = _vectors(fixture_repo, build_env)
    assert {k: after[k] for k in before} == before
    (fixture_repo / ".pairofcleats.json").write_text(
        json.dumps({"indexing": {"postings": {"chargramMaxN": 4}, "embeddings": {"dims": 8}}})
    )
    events.clear()
    build_index(
        fixture_repo, env=build_env, embeddings="stub", report=lambda k, p: events.append((k, p))
    )
    assert _embedded(events).get("stage3:code", 0) > 0  # another embeddings key: all new
