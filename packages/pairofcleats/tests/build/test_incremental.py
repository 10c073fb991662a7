"""Incremental builds (§6; §16 item 23; §15 B1)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from groundwork import jsonio
from pairofcleats.artifacts import IndexReader, read_current
from pairofcleats.build.api import build_index
from pairofcleats.paths import RepoLayout


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
    assert again == {
        "ok": True,
        "unchanged": True,
        "buildId": first["buildId"],
        "repo": first["repo"],
        "repoId": first["repoId"],
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
