"""Repo root, cache root, repoId and buildId (§1; §15 B6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from pairofcleats.paths import (
    BUILD_ID_RE,
    build_id_base,
    build_id_sort_key,
    default_cache_root,
    new_build_id,
    repo_id,
    repo_slug,
    resolve_repo_root,
)


def test_repo_slug_and_id() -> None:
    assert repo_slug(Path("/x/My Repo!!")) == "my-repo"
    assert repo_slug(Path("/x/___")) == "repo"
    assert len(repo_slug(Path("/x/" + "a" * 40))) == 24
    rid = repo_id(Path("/x/My Repo"))
    assert re.fullmatch(r"my-repo-[0-9a-f]{12}", rid)


def test_build_id_format_and_suffix(tmp_path: Path) -> None:
    now = datetime(2026, 1, 24, 0, 0, 0, tzinfo=UTC)
    base = build_id_base(now, "abcdef0123", "1234abcd99")
    assert base == "20260124T000000Z_abcdef0_1234abcd"
    assert build_id_base(now, None, "1234abcd") == "20260124T000000Z_noscm_1234abcd"
    (tmp_path / base).mkdir()
    (tmp_path / f"{base}-2").mkdir()
    nxt = new_build_id(now, "abcdef0123", "1234abcd99", tmp_path)
    assert nxt == f"{base}-3"
    assert BUILD_ID_RE.match(nxt)
    (tmp_path / base).rmdir()
    assert new_build_id(now, "abcdef0123", "1234abcd99", tmp_path) == f"{base}-3"
    ids = [base, f"{base}-10", f"{base}-2"]
    assert sorted(ids, key=build_id_sort_key) == [base, f"{base}-2", f"{base}-10"]


def test_cache_root_precedence(tmp_path: Path) -> None:
    assert default_cache_root("/given", {"PAIROFCLEATS_CACHE_ROOT": "/env"}) == Path("/given")
    assert default_cache_root(None, {"PAIROFCLEATS_CACHE_ROOT": "/env"}) == Path("/env/cache-v1")
    assert default_cache_root(None, {"XDG_CACHE_HOME": "/xdg"}) == Path(
        "/xdg/pairofcleats/cache-v1"
    )
    assert default_cache_root(None, {}, home=tmp_path) == tmp_path / ".cache/pairofcleats/cache-v1"


def test_repo_root_resolution(fixture_repo: Path, tmp_path: Path) -> None:
    sub = fixture_repo / "src"
    assert resolve_repo_root(None, sub, {"PATH": "/usr/bin:/bin"}) == fixture_repo.resolve()
    plain = tmp_path / "plain" / "a" / "b"
    plain.mkdir(parents=True)
    (tmp_path / "plain" / ".pairofcleats.json").write_text("{}")
    assert (
        resolve_repo_root(None, plain, {"PATH": "/usr/bin:/bin"}) == (tmp_path / "plain").resolve()
    )
    assert resolve_repo_root("a", tmp_path / "plain", {}) == (tmp_path / "plain" / "a").resolve()
