"""Acceptance of the build side (§16 items 1, 2, 3, 6, 7, 9; §15 B7) through the real CLI.

Each test checks the spec's literal wording (key sets, counts, exit codes) rather than the
implementation's own models, so a drift between code and spec shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import xxhash
from groundwork import jsonio
from pairofcleats.artifacts import IndexReader
from pairofcleats.build.api import build_index
from poc_fixtures.repo import git, make_env, make_fixture_repo

from .conftest import MODES, InProcess, build_root, copy_built, layout_for, run_cli

CURRENT_KEYS = {
    "buildId", "buildRoot", "buildRoots", "promotedAt", "stage", "modes", "configHash",
    "artifactSurfaceVersion", "compatibilityKey", "tool", "repo",
}  # fmt: skip
BUILD_STATE_KEYS = {
    "schemaVersion", "buildId", "buildRoot", "repoRoot", "status", "createdAt", "updatedAt",
    "stage", "modes", "tool", "signatureVersion", "configHash", "compatibilityKey", "repo",
    "phases", "counts", "discovery", "incremental", "validation",
}  # fmt: skip
PHASES = {"discover", "stage1", "stage2", "stage3", "stage4", "validate", "promote"}
INDEX_STATE_KEYS = {
    "generatedAt", "updatedAt", "mode", "artifactSurfaceVersion", "compatibilityKey",
    "compatibilityInputs", "repoId", "buildId", "stage", "embeddings", "features", "sqlite",
    "counts", "extensions",
}  # fmt: skip
EMBEDDINGS_KEYS = {"enabled", "ready", "provider", "model", "dims", "count", "hnsw"}
FEATURES_KEYS = {"fielded", "phrase", "chargram", "minhash", "filterIndex", "relations", "postings"}
POSTINGS_KEYS = {
    "phraseMinN", "phraseMaxN", "chargramMinN", "chargramMaxN", "chargramMaxTokenLength",
}  # fmt: skip
MANIFEST_KEYS = {
    "version", "artifactSurfaceVersion", "compatibilityKey", "generatedAt", "mode", "stage",
    "repoId", "buildId", "pieces", "extensions",
}  # fmt: skip
PIECE_KEYS = {"type", "name", "format", "path", "bytes", "checksum"}


@pytest.fixture(scope="module")
def cli_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Any]:
    """The fixture repo built once by ``pairofcleats index build`` (a real subprocess)."""
    base = tmp_path_factory.mktemp("cli-built")
    repo = make_fixture_repo(base / "repo").resolve()
    env = make_env(base)
    res = run_cli(
        ["index", "build", "--repo", str(repo), "--stub-embeddings", "--json", "--progress", "off"],
        env,
    )
    assert res.returncode == 0, res.stderr
    return repo, env, json.loads(res.stdout)


# -- item 1 -------------------------------------------------------------------------------
def test_item1_cli_build_exits_0_and_promotes_three_modes(cli_built: Any) -> None:
    repo, env, out = cli_built
    assert out["ok"] is True and out["promoted"] is True
    assert out["modes"] == list(MODES)
    cur = jsonio.read_json(layout_for(repo, env).current_json)
    assert cur["buildId"] == out["buildId"]
    assert set(cur["buildRoots"]) == set(MODES)


def test_item1_current_json_has_exactly_the_spec_keys(cli_built: Any) -> None:
    repo, env, _ = cli_built
    cur = jsonio.read_json(layout_for(repo, env).current_json)
    assert set(cur) == CURRENT_KEYS
    assert set(cur["tool"]) == {"version"} and set(cur["repo"]) == {"provider", "head", "dirty"}
    assert cur["repo"]["provider"] == "git" and cur["stage"] == "stage4"
    for root in [cur["buildRoot"], *cur["buildRoots"].values()]:
        assert not Path(root).is_absolute() and ".." not in Path(root).parts


def test_item1_build_state_is_promoted_and_validated(cli_built: Any) -> None:
    repo, env, _ = cli_built
    state = jsonio.read_json(build_root(repo, env) / "build_state.json")
    assert set(state) >= BUILD_STATE_KEYS, BUILD_STATE_KEYS - set(state)
    assert state["schemaVersion"] == 1 and state["signatureVersion"] == 1
    assert state["status"] == "promoted"
    assert state["repoRoot"] == str(repo)
    assert state["validation"]["ok"] is True and state["validation"]["issueCount"] == 0
    assert set(state["phases"]) == PHASES
    for phase in state["phases"].values():
        assert {"status", "startedAt", "finishedAt", "durationMs"} <= set(phase)
    assert set(state["counts"]) == set(MODES)
    assert {"scanned", "indexed", "skipped"} <= set(state["discovery"])
    assert set(state["incremental"]) == {"reused", "processed", "removed"}


def test_item1_index_state_top_level_is_strict(cli_built: Any) -> None:
    repo, env, _ = cli_built
    root = build_root(repo, env)
    key = jsonio.read_json(layout_for(repo, env).current_json)["compatibilityKey"]
    for mode in MODES:
        st = jsonio.read_json(root / f"index-{mode}" / "index_state.json")
        assert set(st) == INDEX_STATE_KEYS, (mode, set(st) ^ INDEX_STATE_KEYS)
        assert st["artifactSurfaceVersion"] == "1.0.0" and st["mode"] == mode
        assert st["compatibilityKey"] == key
        assert set(st["features"]) == FEATURES_KEYS
        assert set(st["features"]["postings"]) == POSTINGS_KEYS
        assert set(st["sqlite"]) == {"ready", "path", "schemaVersion", "bytes"}
        assert set(st["counts"]) == {"files", "chunks", "vocab"}


def test_item1_index_state_embeddings_is_strict(cli_built: Any) -> None:
    repo, env, _ = cli_built
    root = build_root(repo, env)
    for mode in MODES:
        st = jsonio.read_json(root / f"index-{mode}" / "index_state.json")
        assert set(st["embeddings"]) == EMBEDDINGS_KEYS, set(st["embeddings"]) ^ EMBEDDINGS_KEYS


def test_item1_manifests_have_the_spec_shape(cli_built: Any) -> None:
    repo, env, _ = cli_built
    root = build_root(repo, env)
    for sub, mode in [*((f"index-{m}", m) for m in MODES), ("index-sqlite", "sqlite")]:
        man = jsonio.read_json(root / sub / "pieces" / "manifest.json")
        assert set(man) == MANIFEST_KEYS, (sub, set(man) ^ MANIFEST_KEYS)
        assert man["version"] == 2 and man["mode"] == mode
        for piece in man["pieces"]:
            assert PIECE_KEYS <= set(piece) <= PIECE_KEYS | {"count"}, piece
            assert piece["checksum"].startswith("xxh64:") and len(piece["checksum"]) == 22
            assert not Path(piece["path"]).is_absolute() and ".." not in Path(piece["path"]).parts


# -- item 2 -------------------------------------------------------------------------------
def _records(name: str, raw: bytes, dims: int) -> int:
    """The record count of a piece, derived from its content as §5 describes it."""
    if name.endswith("_bin"):
        return len(raw) // dims
    if name == "field_tokens":
        return len(raw.splitlines())
    data = json.loads(raw)
    if isinstance(data, list):
        return len(data)
    if "vocab" in data:
        return len(data["vocab"])
    if "fields" in data:
        return len(data["fields"])
    if "signatures" in data:
        return len(data["signatures"])
    if "fileChunksById" in data:
        return sum(len(ids) for ids in data["fileChunksById"])
    return int(data["count"])


def test_item2_every_piece_matches_bytes_checksum_and_count(cli_built: Any) -> None:
    repo, env, _ = cli_built
    root = build_root(repo, env)
    for mode in MODES:
        idir = root / f"index-{mode}"
        dims = jsonio.read_json(idir / "index_state.json")["embeddings"]["dims"]
        for piece in IndexReader(idir).manifest.pieces:
            raw = (idir / piece.path).read_bytes()
            assert len(raw) == piece.bytes, piece.name
            assert piece.checksum == "xxh64:" + xxhash.xxh64(raw, seed=0).hexdigest(), piece.name
            if piece.count is not None:
                assert _records(piece.name, raw, dims) == piece.count, piece.name
    for piece in IndexReader(root / "index-sqlite").manifest.pieces:
        raw = (root / "index-sqlite" / piece.path).read_bytes()
        assert len(raw) == piece.bytes
        assert piece.checksum == "xxh64:" + xxhash.xxh64(raw).hexdigest()


@pytest.mark.parametrize("sub", [*(f"index-{m}" for m in MODES), "index-sqlite"])
def test_item2_flipped_byte_makes_cli_validate_exit_1_naming_the_piece(
    built_fixture: Any, tmp_path: Path, cli_main: InProcess, sub: str
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    idir = build_root(repo, env) / sub
    pieces = IndexReader(idir).manifest.pieces
    victim = max(pieces, key=lambda p: p.bytes) if sub == "index-sqlite" else pieces[0]
    path = idir / victim.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, out, _err = cli_main(["index", "validate", "--repo", str(repo), "--json"], env)
    assert code == 1, out
    rep = json.loads(out)
    assert rep["ok"] is False
    assert any(i["artifact"] == victim.name for i in rep["issues"]), rep["issues"]
    code, out, err = cli_main(["index", "validate", "--repo", str(repo)], env)
    assert code == 1 and victim.name in err + out


# -- item 3 -------------------------------------------------------------------------------
def test_item3_cli_build_failing_validation_exits_1_and_keeps_current(
    built_fixture: Any, tmp_path: Path
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    current = layout_for(repo, env).current_json
    before = current.read_bytes()
    (repo / "src" / "fresh.py").write_text("def fresh_function():\n    return 1\n")
    res = run_cli(
        ["index", "build", "--repo", str(repo), "--stub-embeddings", "--json", "--progress", "off"],
        {**env, "PAIROFCLEATS_TEST_FAIL_VALIDATION": "1"},
    )
    assert res.returncode == 1, res.stderr
    assert json.loads(res.stdout)["ok"] is False
    assert current.read_bytes() == before
    states = [
        jsonio.read_json(p / "build_state.json")["status"]
        for p in layout_for(repo, env).builds_dir.iterdir()
        if (p / "build_state.json").exists()
    ]
    assert sorted(states) == ["failed", "promoted"]


# -- item 6 -------------------------------------------------------------------------------
def _all_piece_bytes(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for sub in [*(f"index-{m}" for m in MODES), "index-sqlite"]:
        for piece in IndexReader(root / sub).manifest.pieces:
            out[f"{sub}/{piece.name}"] = (root / sub / piece.path).read_bytes()
    return out


@pytest.fixture(scope="module")
def threads_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture built twice through the CLI, with ``--threads 1`` and ``--threads 2``."""
    base = tmp_path_factory.mktemp("threads")
    repo = make_fixture_repo(base / "repo")
    roots = []
    for threads in ("1", "2"):
        env = make_env(base / f"t{threads}")
        res = run_cli(
            ["index", "build", "--repo", str(repo), "--stub-embeddings", "--threads", threads,
             "--json", "--progress", "off"],
            env,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        roots.append(build_root(repo, env))
    return roots[0], roots[1]


def test_item6_threads_1_and_2_give_byte_identical_artifacts(
    threads_builds: tuple[Path, Path],
) -> None:
    a, b = (_all_piece_bytes(root) for root in threads_builds)
    assert a.keys() == b.keys()
    assert len([k for k in a if k.startswith("index-sqlite/")]) == 3
    assert [k for k in a if a[k] != b[k]] == []


# -- item 7 and B7 -------------------------------------------------------------------------
def test_item7_discovery_rules_end_to_end_and_counted_in_build_state(
    fixture_repo: Path, build_env: dict[str, str]
) -> None:
    r = fixture_repo
    files = {
        "ignored/hidden.py": "def hidden_by_gitignore():\n    pass\n",
        "gen/made.py": "def hidden_by_pocignore():\n    pass\n",
        "gen/keep.py": "def kept_by_negation():\n    pass\n",
        "vendor/lib.py": "def hidden_by_config():\n    pass\n",
        "tools/tool.py": "def kept_tools_dir():\n    pass\n",
        "out/emit.py": "def kept_out_dir():\n    pass\n",
        "dist/bundle.py": "def hidden_dist_default():\n    pass\n",
        "lib/app.min.js": "function hiddenMinJs() {}\n",
        "src/huge.py": "def oversize_file():\n    pass\n" + "x = 1\n" * 4000,
    }
    for rel, text in files.items():
        (r / rel).parent.mkdir(parents=True, exist_ok=True)
        (r / rel).write_text(text)
    (r / "src" / "blob.py").write_bytes(b"def binary_file():\n    pass\n\0\0")
    (r / "src" / "link.py").symlink_to(r / "src" / "greet.py")
    (r / ".pairofcleatsignore").write_text("gen/\n")
    ignore = {"patterns": ["vendor/", "!gen/keep.py"]}
    (r / ".pairofcleats.json").write_text(
        json.dumps({"indexing": {"maxFileBytes": 10000, "ignore": ignore}})
    )
    git(r, "add", "-f", "src/blob.py", "src/link.py", "src/huge.py")
    build_index(r, env=build_env, threads=1, embeddings="off")
    root = build_root(r, build_env)
    indexed = {f["file"] for f in IndexReader(root / "index-code").read_json("file_meta")}
    assert {"gen/keep.py", "tools/tool.py", "out/emit.py", "src/greet.py"} <= indexed
    hidden = {"ignored/hidden.py", "gen/made.py", "vendor/lib.py", "dist/bundle.py"}
    hidden |= {"lib/app.min.js", "src/huge.py", "src/blob.py", "src/link.py"}
    assert not hidden & indexed
    state = jsonio.read_json(root / "build_state.json")
    skipped = state["discovery"]["skipped"]
    assert (skipped.get("binary"), skipped.get("oversize"), skipped.get("symlink")) == (1, 1, 1)
    assert state["discovery"]["indexed"] == len(
        indexed | {f["file"] for f in IndexReader(root / "index-prose").read_json("file_meta")}
    )


# -- item 9 -------------------------------------------------------------------------------
def _h(label: str, text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return xxhash.xxh64((label + "\0" + text).encode("utf-8"), seed=0).hexdigest()


def _utf16(text: str, start: int, end: int) -> str:
    return text.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le")


def test_item9_chunk_uids_equal_the_spec_formula(built_fixture: Any) -> None:
    root = build_root(built_fixture.repo, built_fixture.env)
    chunks = IndexReader(root / "index-code").chunk_meta()
    checked = 0
    for c in chunks:
        if c["metaV2"]["segment"] is not None:
            continue
        text = (built_fixture.repo / c["file"]).read_text(encoding="utf-8")
        s, e = c["start"], c["end"]
        units = len(text.encode("utf-16-le")) // 2
        span = _utf16(text, s, e)
        pre = _utf16(text, max(0, s - 128), s)
        post = _utf16(text, e, min(units, e + 128))
        want = f"ck64:v1:repo:{c['file']}:{_h('span', span)}"
        want += f":{_h('pre', pre)}" if pre else ""
        want += f":{_h('post', post)}" if post else ""
        assert c["metaV2"]["chunkUid"] == want, (c["file"], c["name"])
        checked += 1
    assert checked == len(chunks)


GOLDEN_PY = "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n"
UNICODE_PY = '"""Ünïcödé 😀 módulé."""\n\n\ndef gamma_fn():\n    return "é😀"\n'


@pytest.fixture(scope="module")
def small_built(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """code chunks of a two-file repo (one ASCII, one with non-BMP text)."""
    base = tmp_path_factory.mktemp("small")
    repo = make_fixture_repo(base / "repo", {"m.py": GOLDEN_PY, "u.py": UNICODE_PY})
    env = make_env(base)
    build_index(repo, env=env, threads=1, embeddings="off", sqlite=False)
    chunks: list[dict[str, Any]] = IndexReader(build_root(repo, env) / "index-code").chunk_meta()
    return chunks


def test_item9_golden_chunk_id_and_uid_for_a_known_file(small_built: list[dict[str, Any]]) -> None:
    beta = next(c for c in small_built if c["name"] == "beta")
    assert (beta["start"], beta["end"], beta["startLine"], beta["endLine"]) == (28, 52, 5, 6)
    # golden values from §4's formulas for this exact text: span [28, 52), pre [0, 28), post "\n"
    assert beta["metaV2"]["chunkId"] == "chunk_" + _sha1("m.py||28|52")
    want = "ck64:v1:repo:m.py:" + _h("span", GOLDEN_PY[28:52])
    want += ":" + _h("pre", GOLDEN_PY[:28]) + ":" + _h("post", "\n")
    assert beta["metaV2"]["chunkUid"] == want


def _sha1(s: str) -> str:
    import hashlib

    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def test_item9_offsets_are_utf16_units_in_non_ascii_files(
    small_built: list[dict[str, Any]],
) -> None:
    g = next(c for c in small_built if c["name"] == "gamma_fn")
    span = _utf16(UNICODE_PY, g["start"], g["end"])
    assert span.startswith("def gamma_fn():")
    assert span.rstrip().endswith('"é😀"')
    assert g["end"] > len(UNICODE_PY[: UNICODE_PY.index('"é😀"') + 4])  # 😀 counts 2 units


# -- item 22 ------------------------------------------------------------------------------
BAD_CONFIGS = {
    "unknown-key": ('{"indexing": {"postings": {"bogusKey": 1}}}', "indexing.postings.bogusKey"),
    "wrong-type": ('{"search": {"bm25": {"k1": "big"}}}', "search.bm25.k1"),
}
COMMANDS = {
    "search": ["search", "greet"],
    "index-build": ["index", "build", "--progress", "off"],
    "index-validate": ["index", "validate"],
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_item22_config_errors_exit_2_naming_file_and_key(
    tmp_path: Path, cli_main: InProcess, command: str, case: str
) -> None:
    repo = make_fixture_repo(tmp_path / "repo", {"a.py": "def a():\n    pass\n"})
    text, key = BAD_CONFIGS[case]
    (repo / ".pairofcleats.json").write_text(text)
    code, out, err = cli_main([*COMMANDS[command], "--repo", str(repo)], make_env(tmp_path))
    assert code == 2, err
    assert out == ""
    first = err.splitlines()[0]
    assert str(repo / ".pairofcleats.json") in first and key in first, first
    assert "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # bad input does nothing


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_item22_config_error_is_one_line(tmp_path: Path, command: str) -> None:
    repo = make_fixture_repo(tmp_path / "repo", {"a.py": "def a():\n    pass\n"})
    (repo / ".pairofcleats.json").write_text(BAD_CONFIGS["wrong-type"][0])
    res = run_cli([*COMMANDS[command], "--repo", str(repo)], make_env(tmp_path))
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
