"""§15 upstream defects, each shown fixed on a real build (C2, C6, P1, P2, P5, S1, S4, S5, R2,
B1, B5, K1, K4) where the per-module tests do not already show it (see COVERAGE.md)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
from groundwork import jsonio
from pairofcleats import api
from pairofcleats.artifacts import IndexReader
from pairofcleats.artifacts.reader import index_signature
from pairofcleats.build.api import build_index, validate_index
from pairofcleats.config import PairOfCleatsConfig, config_hash
from pairofcleats.search.searcher import Searcher, SearchRequest
from poc_fixtures.repo import make_env, make_fixture_repo

from .conftest import (
    CLI,
    MODES,
    InProcess,
    build_root,
    copy_built,
    layout_for,
    rewrite_piece,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "pairofcleats"


# -- C2: every flag and value named in `search --help` is accepted ---------------------------
SEARCH_SAMPLES: dict[str, list[list[str]]] = {
    "--repo": [],  # always given
    "--mode": [["--mode", m] for m in ("code", "prose", "extracted-prose", "both", "all")],
    "-n": [["-n", "3"]],
    "--top": [["--top", "3"]],
    "--backend": [["--backend", b] for b in ("auto", "memory", "sqlite", "sqlite-fts", "fts")],
    "--ann": [["--ann"]],
    "--no-ann": [["--no-ann"]],
    "--ann-backend": [["--ann-backend", b] for b in ("auto", "exact", "hnsw", "js")],
    "--dense-vector-mode": [["--dense-vector-mode", v] for v in ("merged", "code", "doc", "auto")],
    "--match": [["--match", v] for v in ("all", "any", "auto")],
    "--bm25-k1": [["--bm25-k1", "1.5"]],
    "--bm25-b": [["--bm25-b", "0.5"]],
    "--fts-profile": [["--fts-profile", p] for p in ("balanced", "headline", "name")],
    "--stub-embeddings": [["--stub-embeddings"]],
    "--strict": [["--strict"]],
    "--path": [["--path", "src/"]],
    "--file": [["--file", "greet"]],
    "--lang": [["--lang", "python"]],
    "--ext": [["--ext", ".py"]],
    "--type": [["--type", "function"]],
    "--kind": [["--kind", "function"]],
    "--name": [["--name", "greet"]],
    "--signature": [["--signature", "name"]],
    "--param": [["--param", "name"]],
    "--returns": [["--returns", "str"]],
    "--calls": [["--calls", "format_message"]],
    "--uses": [["--uses", "name"]],
    "--import": [["--import", "os"]],
    "--author": [["--author", "t"]],
    "--modified-since": [["--modified-since", "3650"], ["--modified-since", "2000-01-01"]],
    "--filter": [["--filter", "lang:python type:function"]],
    "--case": [["--case"]],
    "--json": [["--json"]],
    "--compact": [["--compact"]],
    "--explain": [["--explain"]],
    "--why": [["--why"]],
    "--stats": [["--stats"]],
    "--progress": [["--progress", p] for p in ("auto", "tty", "log", "jsonl", "off")],
    "--verbose": [["--verbose"]],
    "--help": [],  # item 20 / C1
}


def test_c2_every_search_flag_in_help_is_accepted(built_fixture: Any, cli_main: InProcess) -> None:
    env = {**built_fixture.env, "COLUMNS": "200"}
    code, help_text, _ = cli_main(["search", "--help"], env)
    assert code == 0
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-n)\b", help_text))
    assert flags, help_text
    assert flags - set(SEARCH_SAMPLES) == set(), "a flag in help has no sample in this test"
    for backend in ("memory", "sqlite", "sqlite-fts"):
        assert backend in help_text
    repo = ["--repo", str(built_fixture.repo)]
    for flag in sorted(flags):
        for sample in SEARCH_SAMPLES[flag]:
            code, _out, err = cli_main(["search", "greet", *repo, *sample], env)
            assert code == 0, (sample, err)


# -- C6: every known config key has an effect --------------------------------------------------
def _observe(res: dict[str, Any]) -> list[Any]:
    out: list[Any] = [res["backend"], sorted({w["code"] for w in res["warnings"]})]
    for key in ("code", "prose", "extractedProse"):
        out.append(
            [
                (h["id"], round(h["score"], 12), h["scoreType"], h["annSource"], h["annScore"])
                for h in res[key]
            ]
        )
    return out


# (key path, base search config, changed search config, query, api.search kwargs)
SEARCH_PROBES: list[tuple[str, dict[str, Any], dict[str, Any], str, dict[str, Any]]] = [
    ("backend", {}, {"backend": "sqlite-fts"}, "greet", {"ann": False}),
    ("top", {}, {"top": 2}, "greet", {}),
    ("matchMode", {}, {"matchMode": "any"}, "greet hello", {"top": 1, "mode": "code"}),
    ("rrf.enabled", {}, {"rrf": {"enabled": False}}, "greet", {"ann": True}),
    ("rrf.k", {}, {"rrf": {"k": 1}}, "greet", {"ann": True}),
    ("scoreBlend.enabled", {}, {"scoreBlend": {"enabled": True}}, "greet", {"ann": True}),
    ("scoreBlend.sparseWeight", {"scoreBlend": {"enabled": True}},
     {"scoreBlend": {"enabled": True, "sparseWeight": 5}}, "greet", {"ann": True}),
    ("scoreBlend.annWeight", {"scoreBlend": {"enabled": True}},
     {"scoreBlend": {"enabled": True, "annWeight": 5}}, "greet", {"ann": True}),
    ("bm25.k1", {}, {"bm25": {"k1": 2.5}}, "greet", {"ann": False}),
    ("bm25.b", {}, {"bm25": {"b": 0.1}}, "greet", {"ann": False}),
    ("fieldWeights", {}, {"fieldWeights": False}, "greet", {"ann": False}),
    *(
        (f"fieldWeights.{f}", {}, {"fieldWeights": {f: 9.0}}, q,
         {"ann": False, "mode": "code", "top": 10})
        for f, q in (("name", "greet"), ("signature", "str"), ("doc", "friendly"),
                     ("comment", "message"), ("body", "name"), ("keyword", "return"),
                     ("operator", "->"))
    ),
    ("ftsProfile", {}, {"ftsProfile": "name"}, "greet",
     {"backend": "sqlite-fts", "top": 10, "ann": False}),
    *(
        (f"ftsWeights.{f}", {}, {"ftsWeights": {f: 9.0}}, q,
         {"backend": "sqlite-fts", "mode": "code", "top": 10, "ann": False})
        for f, q in (("file", "greet"), ("name", "greet"), ("signature", "greet"),
                     ("kind", "module"), ("headline", "greeting"), ("doc", "friendly"),
                     ("tokens", "greet"))
    ),
    ("symbolBoost.enabled", {}, {"symbolBoost": {"enabled": False}}, "greet", {"ann": False}),
    ("symbolBoost.definitionWeight", {}, {"symbolBoost": {"definitionWeight": 3.0}}, "greet",
     {"ann": False}),
    ("symbolBoost.exportWeight", {}, {"symbolBoost": {"exportWeight": 3.0}}, "greet",
     {"ann": False}),
    ("ann.enabled", {}, {"ann": {"enabled": False}}, "greet", {}),
    ("ann.backend", {}, {"ann": {"backend": "hnsw"}}, "greet", {}),
    ("sqliteAutoChunkThreshold", {}, {"sqliteAutoChunkThreshold": 0}, "greet", {}),
    ("sqliteAutoArtifactBytes", {}, {"sqliteAutoArtifactBytes": 0}, "greet", {}),
]  # fmt: skip
# keys whose effect needs an index built another way (probed below on such builds)
SEARCH_PROBED_ELSEWHERE = {
    "ann.hnswMinVectors", "ann.efSearch", "ann.minhashFallback", "maxCandidates",
}  # fmt: skip


def _leaves(model: Any, prefix: str = "") -> list[str]:
    from pydantic import BaseModel

    out = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_leaves(ann, f"{prefix}{key}."))
        else:
            out.append(prefix + key)
    return out


def test_c6_every_search_key_changes_results(built_fixture: Any, tmp_path: Path) -> None:
    from pairofcleats.config import SearchConfig

    leaves = set(_leaves(SearchConfig))
    probed = {p[0] for p in SEARCH_PROBES} | SEARCH_PROBED_ELSEWHERE
    # "fieldWeights" is a model or false; its leaves are the seven field names
    assert leaves - probed == set(), "a search key has no probe"
    repo, env = copy_built(built_fixture, tmp_path)
    cfg = repo / ".pairofcleats.json"
    same = []
    for key, base, changed, query, kw in SEARCH_PROBES:
        results = []
        for search_cfg in (base, changed):
            cfg.write_text(json.dumps({"search": search_cfg}))
            results.append(_observe(api.search(query, repo=repo, env=env, **kw)))
        if results[0] == results[1]:
            same.append(key)
    assert same == []


def test_c6_hnsw_and_minhash_keys_change_results(tmp_path: Path) -> None:
    hnsw_repo = make_fixture_repo(tmp_path / "hnsw" / "repo")
    hnsw_env = make_env(tmp_path / "hnsw")
    cfg = hnsw_repo / ".pairofcleats.json"
    cfg.write_text(json.dumps({"search": {"ann": {"hnswMinVectors": 1, "efSearch": 33}}}))
    build_index(hnsw_repo, stub_embeddings=True, env=hnsw_env, threads=1, sqlite=False)
    meta = IndexReader(build_root(hnsw_repo, hnsw_env) / "index-code").read_json(
        "dense_vectors_hnsw_meta"
    )
    assert meta["efSearch"] == 33  # recorded in the HNSW meta at build time

    def sources(search_cfg: dict[str, Any]) -> set[str]:
        cfg.write_text(json.dumps({"search": search_cfg}))
        res = api.search("zzqv nothing", repo=hnsw_repo, env=hnsw_env, mode="code", ann=True)
        return {h["annSource"] for h in res["code"]}

    assert sources({"ann": {"hnswMinVectors": 1}}) == {"hnsw"}
    assert sources({"ann": {"hnswMinVectors": 100000}}) == {"dense"}

    plain = make_fixture_repo(tmp_path / "plain" / "repo")
    plain_env = make_env(tmp_path / "plain")
    build_index(plain, env=plain_env, threads=1, sqlite=False, embeddings="off")
    pcfg = plain / ".pairofcleats.json"

    def minhash_hits(search_cfg: dict[str, Any]) -> list[Any]:
        pcfg.write_text(json.dumps({"search": search_cfg}))
        # the default ann (an explicit ann=True without vectors or MinHash is CAPABILITY_MISSING)
        res = api.search("add_numbers(a, b)", repo=plain, env=plain_env, mode="code")
        return [(h["id"], h["annSource"]) for h in res["code"]]

    off = minhash_hits({"ann": {"minhashFallback": False}})
    on = minhash_hits({"ann": {"minhashFallback": True}})
    assert not any(src == "minhash" for _i, src in off)
    assert any(src == "minhash" for _i, src in on)
    capped = minhash_hits({"ann": {"minhashFallback": True}, "maxCandidates": 1})
    assert capped != on  # candidates restrict MinHash ranking (§9.4 step 1)


def test_c6_ef_search_is_applied_at_query_time(tmp_path: Path) -> None:
    repo = make_fixture_repo(tmp_path / "repo")
    env = make_env(tmp_path)
    cfg = repo / ".pairofcleats.json"
    cfg.write_text(json.dumps({"search": {"ann": {"hnswMinVectors": 1, "efSearch": 33}}}))
    build_index(repo, stub_embeddings=True, env=env, threads=1, sqlite=False)
    cfg.write_text(json.dumps({"search": {"ann": {"hnswMinVectors": 1, "efSearch": 77}}}))
    searcher = Searcher(repo, env=env)
    res = searcher.search(SearchRequest("zzqv nothing", mode="code", ann=True))
    assert {h["annSource"] for h in res["code"]} == {"hnsw"}
    idx = searcher.mode_index("code")
    assert idx is not None
    assert idx.hnsw().expansion_search == 77


def test_c6_service_keys_come_from_the_config_file(built_fixture: Any, tmp_path: Path) -> None:
    import httpx

    repo, env = copy_built(built_fixture, tmp_path)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    api_cfg = {"port": 0, "maxBodyBytes": 300, "allowedRepoRoots": [str(allowed)],
               "token": "from-config"}  # fmt: skip
    (repo / ".pairofcleats.json").write_text(json.dumps({"service": {"api": api_cfg}}))
    full_env = {**os.environ, **env}
    full_env.pop("PAIROFCLEATS_API_TOKEN", None)
    proc = subprocess.Popen(
        [*CLI, "service", "api", "--repo", str(repo), "--json"],
        env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        info = json.loads(line)
        assert info["port"] > 0  # port 0 from the file: an ephemeral port
        auth = {"Authorization": "Bearer from-config"}
        with httpx.Client(base_url=info["baseUrl"], timeout=30) as c:
            assert c.post("/search", json={"query": "greet"}).status_code == 401
            assert c.post("/search", json={"query": "greet"}, headers=auth).status_code == 200
            big = {"query": "greet", "mode": "code " + " " * 400}
            assert c.post("/search", json=big, headers=auth).status_code == 413
            outside = {"query": "greet", "repoPath": str(tmp_path)}
            assert c.post("/search", json=outside, headers=auth).status_code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_c6_cache_keys_root_and_keep_builds(tmp_path: Path) -> None:
    repo = make_fixture_repo(tmp_path / "repo", {"a.py": "def alpha():\n    return 1\n"})
    root = tmp_path / "my-cache"
    (repo / ".pairofcleats.json").write_text(
        json.dumps({"cache": {"root": str(root), "keepBuilds": 1}})
    )
    env = make_env(tmp_path)  # PAIROFCLEATS_CACHE_ROOT is set, but the file's root wins
    ids = [
        build_index(repo, env=env, stage=1, incremental=False, embeddings="off")["buildId"]
        for _ in range(3)
    ]
    builds = next(root.glob("repos/*/builds"))  # used as given: no cache-v1 suffix
    kept = {p.name for p in builds.iterdir() if p.is_dir() and p.name != "attempts"}
    assert ids[-1] in kept and ids[0] not in kept
    assert not (tmp_path / "cache").exists()


def test_c6_quality_fast_drops_embeddings_and_chargrams(tmp_path: Path) -> None:
    repo = make_fixture_repo(tmp_path / "repo", {"a.py": "def alpha():\n    return 1\n"})
    env = make_env(tmp_path)
    (repo / ".pairofcleats.json").write_text(json.dumps({"quality": "fast"}))
    build_index(repo, env=env, threads=1, sqlite=False)
    state = jsonio.read_json(build_root(repo, env) / "index-code" / "index_state.json")
    assert state["embeddings"]["enabled"] is False
    assert state["features"]["chargram"] is False


INDEXING_PROBES: dict[str, Any] = {
    "modes": ["code"], "maxFileBytes": 1000, "maxFileLines": 10,
    "fileCaps.byExt": {".py": {"maxLines": 3}}, "fileCaps.byLanguage": {"python": {"maxBytes": 9}},
    "fileCaps.byMode": {"code": {"maxLines": 5}}, "ignore.defaults": False,
    "ignore.files": [".extraignore"], "ignore.patterns": ["src/"], "scm.provider": "none",
    "scm.annotate": False, "scm.maxCommits": 1, "chunking.maxLines": 10,
    "chunking.maxBytes": 100, "chunking.windowLines": 10, "sqlite": False, "incremental": False,
    "postings.fielded": False, "postings.enablePhraseNgrams": False, "postings.phraseMinN": 3,
    "postings.phraseMaxN": 3, "postings.enableChargrams": False, "postings.chargramMinN": 2,
    "postings.chargramMaxN": 4, "postings.chargramMaxTokenLength": 20,
    "embeddings.provider": "stub", "embeddings.dims": 8, "embeddings.batchSize": 4,
    "embeddings.maxTokens": 64, "embeddings.variants": ["merged", "doc"],
}  # fmt: skip


def _nest(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def test_c6_every_indexing_key_enters_the_config_hash() -> None:
    from pairofcleats.config import IndexingConfig

    leaves = set(_leaves(IndexingConfig))
    assert leaves == set(INDEXING_PROBES), leaves ^ set(INDEXING_PROBES)
    base = config_hash(PairOfCleatsConfig())
    for key, value in INDEXING_PROBES.items():
        cfg = PairOfCleatsConfig.model_validate({"indexing": _nest(key, value)})
        assert config_hash(cfg) != base, key
    for quality in ("fast", "balanced", "max"):
        assert config_hash(PairOfCleatsConfig.model_validate({"quality": quality})) != base


BUILD_FILES = {
    "src/a.py": "def long_function(value):\n"
    + '    """Compute the long running total of every small step here."""\n'
    + "".join(f"    step_{i} = value + {i}\n" for i in range(30))
    + "    return step_29\n",
    "docs/readme.md": "# Readme\n\nThe quick brown fox jumps over the lazy dog again.\n",
    "notes.txt": "".join(f"line {i} of some plain notes\n" for i in range(40)),
    "node_modules/dep.js": "function depFunction() { return 1; }\n",
    "skip/me.py": "def skipped_by_file():\n    return 0\n",
    ".extraignore": "skip/\n",
    ".pairofcleatsignore": ".pairofcleats.json\n",  # each probe rewrites it; keep it out
}
# output-neutral by design: batching only changes speed; the stub embedder ignores the token
# limit, so maxTokens shows as a changed embeddings/compatibility key only
PERF_ONLY = {"embeddings.batchSize"}
BUILD_VALUES = {"embeddings.provider": "off", "postings.chargramMaxTokenLength": 4}
KEY_ONLY = {"embeddings.maxTokens"}


def _build_fingerprint(repo: Path, env: dict[str, str]) -> tuple[Any, str]:
    """(artifact content, compatibilityKey) of the promoted build, free of ids and times."""
    root = build_root(repo, env)
    content: dict[str, Any] = {}
    key = ""
    for sub in sorted(p.name for p in root.iterdir() if p.is_dir()):
        pieces = IndexReader(root / sub).manifest.pieces
        if sub == "index-sqlite":  # dbs carry the compatibility key: presence only
            content[sub] = sorted(p.name for p in pieces)
            continue
        content[sub] = sorted((p.name, p.checksum) for p in pieces)
        key = jsonio.read_json(root / sub / "index_state.json")["compatibilityKey"]
    state = jsonio.read_json(root / "build_state.json")
    content["discovery"] = state["discovery"]
    content["repo"] = state["repo"]
    inc = layout_for(repo, env).repo_dir / "incremental"
    content["bundles"] = len(list(inc.rglob("bundles/*/*.json"))) if inc.exists() else 0
    return content, key


def _deep(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _deep(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.mark.slow
def test_c6_every_indexing_key_changes_the_built_index(tmp_path: Path) -> None:
    from pairofcleats.config import IndexingConfig

    assert set(_leaves(IndexingConfig)) == set(INDEXING_PROBES)
    rest = dict(BUILD_FILES)
    repo = make_fixture_repo(tmp_path / "repo", {"src/a.py": rest.pop("src/a.py")})
    for rel, text in rest.items():  # a second commit by another author (scm.maxCommits)
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    subprocess.run(["git", "-c", "user.name=u2", "-c", "user.email=u2@example.invalid", "add",
                    "-A", "-f"], cwd=repo, check=True)  # fmt: skip
    subprocess.run(["git", "-c", "user.name=u2", "-c", "user.email=u2@example.invalid",
                    "commit", "-q", "-m", "second"], cwd=repo, check=True)  # fmt: skip
    base = {"indexing": {"embeddings": {"provider": "stub"}}}
    cfg = repo / ".pairofcleats.json"

    def build(n: str, config: dict[str, Any]) -> tuple[Any, str]:
        cfg.write_text(json.dumps(config))
        env = make_env(tmp_path / n)
        build_index(repo, env=env, threads=1)
        return _build_fingerprint(repo, env)

    want = build("base", base)
    assert build("base-again", base) == want  # the fingerprint is stable
    unchanged = []
    for i, (key, value) in enumerate(sorted(INDEXING_PROBES.items())):
        if key in PERF_ONLY:
            continue
        value = BUILD_VALUES.get(key, value)  # the base uses the stub; fixture tokens are short
        got = build(f"p{i}", _deep(base, {"indexing": _nest(key, value)}))
        same = got[1] == want[1] if key in KEY_ONLY else got[0] == want[0]
        if same:
            unchanged.append(key)
    assert unchanged == []


# -- P1, P5: postings and MinHash are validated, never clamped --------------------------------
@pytest.fixture
def private(built_fixture: Any, tmp_path: Path) -> tuple[Path, dict[str, str], Path]:
    repo, env = copy_built(built_fixture, tmp_path)
    return repo, env, build_root(repo, env) / "index-code"


def _issue_codes(repo: Path, env: dict[str, str]) -> set[str]:
    rep = validate_index(repo, env=env)
    assert rep["ok"] is False
    return {i["code"] for i in rep["issues"]}


def test_p1_decreasing_doc_id_is_a_validation_error(private: Any) -> None:
    repo, env, idir = private
    tp = IndexReader(idir).read_json("token_postings")
    tid = next(i for i, p in enumerate(tp["postings"]) if len(p) >= 2)
    tp["postings"][tid] = list(reversed(tp["postings"][tid]))
    rewrite_piece(idir, "token_postings", jsonio.dumps(tp))
    assert "POSTINGS_ORDER" in _issue_codes(repo, env)


def test_p1_large_doc_ids_are_range_errors_not_wrapped(private: Any) -> None:
    repo, env, idir = private
    tp = IndexReader(idir).read_json("token_postings")
    n = tp["totalDocs"]
    tid = next(i for i, p in enumerate(tp["postings"]) if p[-1][0] < n - 1)
    tp["postings"][tid].append([2**32 + 1, 1])  # would wrap to 1 in 32-bit arithmetic
    rewrite_piece(idir, "token_postings", jsonio.dumps(tp))
    assert "POSTINGS_RANGE" in _issue_codes(repo, env)


def test_p1_field_postings_are_checked_too(private: Any) -> None:
    repo, env, idir = private
    fp = IndexReader(idir).read_json("field_postings")
    field = next(iter(fp["fields"]))
    plist = next(p for p in fp["fields"][field]["postings"] if len(p) >= 2)
    plist[0], plist[1] = plist[1], plist[0]
    rewrite_piece(idir, "field_postings", jsonio.dumps(fp))
    assert "POSTINGS_ORDER" in _issue_codes(repo, env)


def test_p5_short_minhash_signature_is_a_validation_error(private: Any) -> None:
    repo, env, idir = private
    mh = IndexReader(idir).read_json("minhash_signatures")
    mh["signatures"][3] = mh["signatures"][3][:127]
    rewrite_piece(idir, "minhash_signatures", jsonio.dumps(mh))
    assert "MINHASH_INVALID" in _issue_codes(repo, env)


def test_p5_missing_minhash_row_is_a_validation_error(private: Any) -> None:
    repo, env, idir = private
    mh = IndexReader(idir).read_json("minhash_signatures")
    mh["signatures"].pop()
    rewrite_piece(idir, "minhash_signatures", jsonio.dumps(mh))
    assert _issue_codes(repo, env) & {"COUNT_MISMATCH", "PIECE_COUNT"}


def test_p5_minhash_piece_is_checksummed(built_fixture: Any) -> None:
    idir = build_root(built_fixture.repo, built_fixture.env) / "index-code"
    entry = IndexReader(idir).entry("minhash_signatures")
    raw = (idir / entry.path).read_bytes()
    assert entry.checksum == "xxh64:" + xxhash.xxh64(raw).hexdigest()
    assert entry.count == len(IndexReader(idir).chunk_meta())


# -- P2: token ids are vocabulary positions ----------------------------------------------------
def test_p2_token_ids_are_vocab_positions_in_artifacts_and_sqlite(built_fixture: Any) -> None:
    root = build_root(built_fixture.repo, built_fixture.env)
    for mode in MODES:
        vocab = IndexReader(root / f"index-{mode}").read_json("token_postings")["vocab"]
        assert vocab == sorted(set(vocab))
        con = sqlite3.connect(f"file:{root}/index-sqlite/index-{mode}.db?mode=ro", uri=True)
        rows = con.execute("SELECT token_id, token FROM token_vocab ORDER BY token_id").fetchall()
        con.close()
        assert rows == list(enumerate(vocab)), mode


# -- S1, S3: one bm25 weight per FTS column, chunk weight before LIMIT -------------------------
@pytest.mark.parametrize(
    ("profile", "weights"),
    [
        ("balanced", (0.2, 1.5, 1.2, 0.6, 1.5, 1.8, 1.0)),
        ("headline", (0.1, 1.2, 1.0, 0.4, 3.0, 2.2, 1.0)),
        ("name", (0.2, 2.5, 1.6, 0.8, 1.2, 1.4, 1.0)),
    ],
)
def test_s1_fts_scores_equal_bm25_with_seven_weights_times_chunk_weight(
    built_fixture: Any, profile: str, weights: tuple[float, ...]
) -> None:
    res = api.search(
        "greet", repo=built_fixture.repo, env=built_fixture.env, backend="sqlite-fts",
        mode="code", top=50, ann=False, fts_profile=profile,
    )  # fmt: skip
    hits = res["code"]
    assert hits
    db = build_root(built_fixture.repo, built_fixture.env) / "index-sqlite" / "index-code.db"
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    args = ", ".join(str(w) for w in weights)
    want = dict(
        con.execute(
            f"SELECT c.id, -bm25(chunks_fts, {args}) * c.weight FROM chunks_fts"
            " JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH '\"greet\"'"
        ).fetchall()
    )
    con.close()
    for hit in hits:
        assert hit["scoreType"] == "fts"
        assert hit["sparseScore"] == pytest.approx(want[hit["id"]], rel=1e-9), hit["name"]
    assert {h["id"] for h in hits} <= set(want)
    assert [h["id"] for h in hits] == [
        h["id"] for h in sorted(hits, key=lambda h: (-h["score"], h["id"]))
    ]


# -- S4: blobs decode little-endian whatever their alignment ----------------------------------
def test_s4_unaligned_blobs_decode(built_fixture: Any) -> None:
    from pairofcleats.search.sqlite_source import _u4

    root = build_root(built_fixture.repo, built_fixture.env)
    con = sqlite3.connect(f"file:{root}/index-sqlite/index-code.db?mode=ro", uri=True)
    blob = con.execute("SELECT sig FROM minhash_signatures WHERE doc_id = 5").fetchone()[0]
    con.close()
    want = IndexReader(root / "index-code").read_json("minhash_signatures")["signatures"][5]
    shifted = memoryview(bytearray(b"\x00" + blob))[1:]  # a buffer that starts off 4-alignment
    assert _u4(shifted, "minhash").tolist() == want  # type: ignore[arg-type]
    assert _u4(blob, "minhash").dtype == np.uint32
    idx = Searcher(built_fixture.repo, env=built_fixture.env).mode_index("code")
    assert idx is not None
    from pairofcleats.search.sqlite_source import SqliteSource

    src = SqliteSource(idx, root / "index-sqlite" / "index-code.db")
    sigs = src.minhash()
    assert sigs is not None and sigs[5].tolist() == want


# -- S5: missing tables give a controlled result ----------------------------------------------
@pytest.mark.parametrize("table", ["token_postings", "chunks_fts"])
def test_s5_missing_table_falls_back_with_a_warning(
    built_fixture: Any, tmp_path: Path, table: str
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    db = build_root(repo, env) / "index-sqlite" / "index-code.db"
    db.chmod(0o644)
    con = sqlite3.connect(db)
    con.execute(f"DROP TABLE {table}")
    con.commit()
    con.close()
    for backend in ("sqlite", "sqlite-fts"):
        res = api.search("greet", repo=repo, env=env, backend=backend, mode="code", ann=False)
        assert "SQLITE_UNAVAILABLE" in {w["code"] for w in res["warnings"]}, backend
        assert "greet" in [h["name"] for h in res["code"]]


def test_s5_missing_db_and_artifacts_is_index_invalid(
    built_fixture: Any, tmp_path: Path, cli_main: InProcess
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    root = build_root(repo, env)
    (root / "index-sqlite" / "index-code.db").unlink()
    (root / "index-code" / "pieces" / "manifest.json").unlink()
    code, out, err = cli_main(
        ["search", "greet", "--repo", str(repo), "--backend", "sqlite", "--mode", "code",
         "--json"],
        env,
    )  # fmt: skip
    assert code == 1, out + err
    assert json.loads(out)["code"] == "INDEX_INVALID"
    assert "Traceback" not in err


# -- R2: the index signature covers every manifest piece --------------------------------------
def test_r2_signature_changes_when_any_piece_changes(built_fixture: Any, tmp_path: Path) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    root = build_root(repo, env)
    for sub in [*(f"index-{m}" for m in MODES), "index-sqlite"]:
        idir = root / sub
        rels = ["pieces/manifest.json", *(p.path for p in IndexReader(idir).manifest.pieces)]
        if (idir / "index_state.json").exists():
            rels.append("index_state.json")
        for rel in rels:
            before = index_signature(idir)
            st = os.stat(idir / rel)
            os.utime(idir / rel, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            assert index_signature(idir) != before, f"{sub}/{rel}"


def test_r2_warm_result_cache_is_dropped_when_a_piece_changes(
    built_fixture: Any, tmp_path: Path
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    searcher = Searcher(repo, env=env)
    req = SearchRequest("greet", ann=False, stats=True)
    searcher.search(req)
    assert searcher.search(req)["stats"]["cache"]["hit"] is True
    idir = build_root(repo, env) / "index-prose"
    piece = idir / IndexReader(idir).entry("field_tokens").path
    st = os.stat(piece)
    os.utime(piece, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert searcher.search(req)["stats"]["cache"]["hit"] is False


# -- B1: incremental reuse verifies the manifest too ------------------------------------------
@pytest.mark.parametrize("damage", ["garbage", "wrong-key", "bundle-gone"])
def test_b1_damaged_incremental_state_is_never_trusted(
    built_fixture: Any, tmp_path: Path, damage: str
) -> None:
    repo, env = copy_built(built_fixture, tmp_path)
    layout = layout_for(repo, env)
    man_path = layout.incremental_dir("code") / "manifest.json"
    if damage == "garbage":
        man_path.write_text("{not json")
    elif damage == "wrong-key":
        man = jsonio.read_json(man_path)
        man["compatibilityKey"] = "0" * 40
        man_path.write_bytes(jsonio.dumps(man))
    else:
        man = jsonio.read_json(man_path)
        (layout.incremental_dir("code") / man["files"]["src/greet.py"]["bundle"]).unlink()
    (repo / "README.md").write_text("# Fixture\n\nTouched so the build is not a no-op.\n")
    res = build_index(repo, stub_embeddings=True, env=env)
    assert res["promoted"] is True
    if damage == "bundle-gone":
        assert res["incremental"]["processed"] == 2  # README + the file whose bundle vanished
    else:
        assert res["incremental"]["processed"] >= 14  # every code file reprocessed
    names = {c["name"] for c in IndexReader(build_root(repo, env) / "index-code").chunk_meta()}
    assert {"greet", "add_numbers", "rust_greet"} <= names
    fresh = make_env(tmp_path / "fresh")
    build_index(repo, stub_embeddings=True, env=fresh)
    want = IndexReader(build_root(repo, fresh) / "index-code").chunk_meta()
    assert IndexReader(build_root(repo, env) / "index-code").chunk_meta() == want


# -- B5: one buffer per file, stable-stat check -----------------------------------------------
def test_b5_file_meta_hash_is_of_the_bytes_that_were_indexed(built_fixture: Any) -> None:
    root = build_root(built_fixture.repo, built_fixture.env)
    for mode in MODES:
        for meta in IndexReader(root / f"index-{mode}").read_json("file_meta"):
            raw = (built_fixture.repo / meta["file"]).read_bytes()
            assert meta["hash"] == "xxh64:" + xxhash.xxh64(raw).hexdigest(), meta["file"]
            assert meta["size"] == len(raw)
            assert not meta.get("unstable")


def test_b5_a_file_changing_while_read_is_flagged_unstable(tmp_path: Path) -> None:
    from pairofcleats.config import PairOfCleatsConfig
    from pairofcleats.discover import Candidate, SourceFile, read_source

    path = tmp_path / "moving.py"
    path.write_bytes(b"x = 1\n" * 3_000_000)  # 18 MB: many read() calls per pass
    stop = tmp_path / "stop"
    # another process keeps moving the mtime while this one reads (no GIL in between)
    toucher = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, time\n"
         "p, stop = sys.argv[1], sys.argv[2]\n"
         "ns = time.time_ns()\n"
         "while not os.path.exists(stop):\n"
         "    ns += 1000\n"
         "    os.utime(p, ns=(ns, ns))\n",
         str(path), str(stop)],
    )  # fmt: skip
    try:
        time.sleep(0.2)
        cfg = PairOfCleatsConfig.model_validate({"indexing": {"maxFileBytes": 10**9}}).indexing
        # each call reads up to three times; on a busy machine the toucher may miss a pass,
        # so ask until one call saw the file move on every pass (bounded)
        for _ in range(60):
            got = read_source(tmp_path, Candidate("moving.py", "python", "code"), cfg)
            if isinstance(got, SourceFile) and got.unstable:
                break
    finally:
        stop.write_text("")
        toucher.wait(timeout=30)
    assert isinstance(got, SourceFile)
    assert got.unstable is True
    assert got.size == len(got.data) and got.text.startswith("x = 1\n")
    steady = read_source(tmp_path, Candidate("moving.py", "python", "code"), cfg)
    assert isinstance(steady, SourceFile) and steady.unstable is False


# -- K1: one kill-tree for workers and git ----------------------------------------------------
def test_k1_no_process_spawning_outside_groundwork_supervision() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pat in (r"os\.kill\(", r"os\.killpg\(", r"\.terminate\(\)", r"subprocess\.run\(",
                    r"os\.system\(", r"subprocess\.Popen\(", r"\.kill\(\)"):  # fmt: skip
            if re.search(pat, text) and not (
                pat == r"subprocess\.Popen\(" and path.name == "scm.py" and "kill_tree" in text
            ):
                offenders.append(f"{path.relative_to(SRC)}: {pat}")
    assert offenders == []


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            out.update(int(x) for x in text.split())
    except OSError:
        pass
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


WORKER_REPO = {
    f"pkg/m{i:03d}.py": "".join(
        f'def f_{i}_{j}(v: int) -> int:\n    """Step {j}."""\n    return v * {j}\n\n\n'
        for j in range(40)
    )
    for i in range(250)
}


@pytest.fixture(scope="module")
def worker_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """250 files: stage 1 with ``--threads 2`` keeps its worker pool busy for seconds."""
    return make_fixture_repo(tmp_path_factory.mktemp("workers") / "repo", WORKER_REPO)


def _start_pool_build(repo: Path, base: Path) -> tuple[subprocess.Popen[str], set[int]]:
    """Start a ``--threads 2`` CLI build; return it once two worker processes exist."""
    env = {**make_env(base), "PATH": os.environ.get("PATH", os.defpath)}
    proc = subprocess.Popen(
        [*CLI, "index", "build", "--repo", str(repo), "--threads", "2", "--stub-embeddings",
         "--json", "--progress", "jsonl"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        kids = {k for k in _children(proc.pid) if "python" in _cmd(k)}
        if len(kids) >= 2:
            return proc, kids
        time.sleep(0.005)
    proc.kill()
    proc.communicate()
    pytest.skip("the build finished before its workers could be observed")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_k1_sigint_kills_the_worker_pool(worker_repo: Path, tmp_path: Path) -> None:
    proc, workers = _start_pool_build(worker_repo, tmp_path)
    time.sleep(0.7)  # let the pool settle into its work (the start is the slow test below)
    workers |= {k for k in _children(proc.pid) if "python" in _cmd(k)}
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert json.loads(out)["code"] == "CANCELLED"
    assert [p for p in workers if _alive(p)] == []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_item4_sigint_while_the_pool_starts_is_never_lost(
    worker_repo: Path, tmp_path: Path
) -> None:
    for trial in range(6):
        proc, _workers = _start_pool_build(worker_repo, tmp_path / f"t{trial}")
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        lost = False
        for line in proc.stderr:  # a stage after stage 1 starting means the signal was lost
            if '"task:start"' in line and any(f'"stage{n}' in line for n in (2, 3, 4)):
                lost = True
                break
        if lost:
            proc.kill()
        proc.communicate(timeout=60)
        assert not lost and proc.returncode == 130, f"trial {trial}: rc {proc.returncode}"


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


# -- K2: escalation timers die with the process they guard -----------------------------------
def test_k2_git_timeout_timer_is_cancelled_when_git_exits(fixture_repo: Path) -> None:
    import threading

    from pairofcleats.scm import git_stream

    def new_timers(before: set[threading.Thread]) -> list[threading.Thread]:
        return [
            t for t in threading.enumerate() if t not in before and isinstance(t, threading.Timer)
        ]

    for args, finish in ((["ls-files"], "exhaust"), (["log", "--format=%H"], "close")):
        before = set(threading.enumerate())
        stream = git_stream(args, fixture_repo, timeout_s=600)
        assert next(stream)
        live = new_timers(before)
        assert len(live) == 1 and live[0].is_alive()  # the escalation timer guarding git
        if finish == "exhaust":
            list(stream)  # git exits on its own
        else:
            stream.close()  # type: ignore[attr-defined]  # stopped early: git is killed
        live[0].join(5)  # a cancelled timer ends at once; a forgotten one would wait 600 s
        assert not live[0].is_alive(), args


# -- K3: service output streams ------------------------------------------------------------
def _chunk_frames(body: bytes) -> list[bytes]:
    """The frames of an HTTP/1.1 chunked body, in order."""
    frames = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        frames.append(rest[:size])
        body = rest[size + 2 :]
    return frames


def test_k3_search_stream_sends_each_event_as_its_own_chunk(built_fixture: Any) -> None:
    import socket

    proc = subprocess.Popen(
        [*CLI, "service", "api", "--repo", str(built_fixture.repo), "--port", "0", "--json"],
        env={**os.environ, **built_fixture.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        payload = json.dumps({"query": "greet", "ann": False}).encode()
        request = (
            b"POST /search/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        with socket.create_connection(("127.0.0.1", info["port"]), timeout=30) as sock:
            sock.sendall(request)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = head.decode("latin-1").lower()
    assert "transfer-encoding: chunked" in headers and "content-length" not in headers
    frames = _chunk_frames(body)
    kinds = [re.findall(rb"^event: (\w+)", f, re.M) for f in frames]
    assert next(k for k in kinds if k) == [b"start"]  # start went out before any result
    events = [e for k in kinds for e in k]
    assert events[0] == b"start" and events[-1] == b"done" and b"result" in events
    assert all(len(k) <= 1 for k in kinds), kinds  # one event per write, none held back


# -- K4: state files and artifacts are written atomically -------------------------------------
def test_k4_no_direct_file_writes_in_the_build_path() -> None:
    allowed = {
        ("build/pipeline.py", ".hold-"),  # the test-only hold marker
        ("embeddings/minilm.py", "tmp"),  # extraction into a temp dir, then one rename
    }
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.write_(text|bytes)\(|open\([^)]*['\"][wa]b?['\"]", line):
                if rel == "service/stdout.py" or "def write_" in line or "self.write_" in line:
                    continue
                if rel == "cli_search.py" and "guard.write_text" in line:  # stdout, not a file
                    continue
                if rel == "build/incremental.py" and "tmp.write_bytes" in line:  # temp + rename
                    continue
                if "writer.write_bytes" in line or "w.write_" in line:
                    continue  # PieceWriter, which writes each piece atomically
                if any(rel == a and key in line for a, key in allowed):
                    continue
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_k4_no_temp_files_left_after_a_build(built_fixture: Any) -> None:
    repo_dir = layout_for(built_fixture.repo, built_fixture.env).repo_dir
    leftovers = [
        p.relative_to(repo_dir).as_posix()
        for p in repo_dir.rglob("*")
        if p.name.endswith((".tmp", ".partial")) or p.name.startswith((".tmp", "tmp"))
    ]
    assert leftovers == []
