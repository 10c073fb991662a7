"""safe_join / resolve_within / normalize_relpath: containment and stored form."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest
from groundwork.errors import PathEscape
from groundwork.fsio import normalize_relpath, resolve_within, safe_join
from hypothesis import given
from hypothesis import strategies as st

# segments that are ordinary names on POSIX (incl. backslash, drive-like, dots)
_names = st.text(
    alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))
_special = st.sampled_from(["", ".", "..", "C:", "a\\b", "...", " x ", "café"])
_segments = st.lists(st.one_of(_names, _special), max_size=6)


@given(_segments)
def test_safe_join_contains_or_refuses(segs: list[str]) -> None:
    root = "/nonexistent-root-gw/r"
    rel = "/".join(segs)
    if rel.startswith("/") or ".." in segs:
        with pytest.raises(PathEscape) as info:
            safe_join(root, rel)
        assert info.value.reason == ("absolute" if rel.startswith("/") else "dotdot")
        return
    joined = safe_join(root, rel)
    kept = [s for s in segs if s not in ("", ".")]
    assert joined == Path(root, *kept)
    assert str(joined) == root or str(joined).startswith(root + "/")


@given(_segments, st.sampled_from(["/", "//", "/etc/"]))
def test_safe_join_refuses_absolute(segs: list[str], lead: str) -> None:
    with pytest.raises(PathEscape) as info:
        safe_join("/r", lead + "/".join(segs))
    assert info.value.reason == "absolute"


@given(_segments, st.integers(0, 6))
def test_safe_join_refuses_nul(segs: list[str], at: int) -> None:
    rel = "/".join(segs)
    at = min(at, len(rel))
    with pytest.raises(PathEscape) as info:
        safe_join("/r", rel[:at] + "\x00" + rel[at:])
    assert info.value.reason == "nul"


def test_safe_join_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "out").symlink_to(outside)
    (root / "inner").symlink_to(root / "sub")
    (root / "sub" / "up").symlink_to("..")
    with pytest.raises(PathEscape) as info:
        safe_join(root, "out/secret.txt")
    assert info.value.reason == "symlink"
    assert info.value.root == str(root)
    assert info.value.rel == "out/secret.txt"
    # symlinks that stay inside the root are fine
    assert safe_join(root, "inner/x") == root / "inner" / "x"
    assert safe_join(root, "sub/up/sub") == root / "sub" / "up" / "sub"
    with pytest.raises(PathEscape):
        safe_join(root, "sub/up/../x")


def test_safe_join_ordinary_names(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "C:foo") == tmp_path / "C:foo"
    assert safe_join(tmp_path, "a\\..\\b") == tmp_path / "a\\..\\b"
    assert safe_join(tmp_path, "./a//b/.") == tmp_path / "a" / "b"
    assert safe_join(tmp_path, "") == tmp_path
    # a root that is itself a symlink: containment is checked on real paths
    link = tmp_path.parent / (tmp_path.name + "-link")
    link.symlink_to(tmp_path)
    try:
        assert safe_join(link, "a") == link / "a"
    finally:
        link.unlink()


def test_resolve_within(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "dir").mkdir(parents=True)
    nfd = unicodedata.normalize("NFD", "café.md")
    (root / "dir" / nfd).write_text("x")
    real, rel = resolve_within(root, "dir/" + nfd, cwd=root)
    assert real == (root / "dir" / nfd).resolve()
    assert rel == "dir/café.md"
    assert unicodedata.is_normalized("NFC", rel)
    assert resolve_within(root, root) == (root.resolve(), ".")
    assert resolve_within(root, "../ws/dir", cwd=root)[1] == "dir"
    assert resolve_within(root, str(root / "dir"))[1] == "dir"
    for bad in ("..", "/etc", str(tmp_path)):
        with pytest.raises(PathEscape) as info:
            resolve_within(root, bad, cwd=root)
        assert info.value.reason == "outside"
    with pytest.raises(PathEscape) as info:
        resolve_within(root, "a\x00b")
    assert info.value.reason == "nul"


def test_resolve_within_default_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d").mkdir()
    monkeypatch.chdir(tmp_path / "d")
    assert resolve_within(tmp_path, ".")[1] == "d"
    (tmp_path / "esc").symlink_to(tmp_path.parent)
    with pytest.raises(PathEscape):
        resolve_within(tmp_path, "../esc", cwd=os.fspath(tmp_path / "d"))


@given(_segments)
def test_normalize_relpath_properties(segs: list[str]) -> None:
    rel = "/".join(segs)
    if rel.startswith("/") or ".." in segs:
        with pytest.raises(PathEscape):
            normalize_relpath(rel)
        return
    out = normalize_relpath(rel)
    assert unicodedata.is_normalized("NFC", out)
    if out == ".":
        assert all(s in ("", ".") for s in segs)
        return
    parts = out.split("/")
    assert all(p not in ("", ".", "..") for p in parts)
    assert normalize_relpath(out) == out  # idempotent


def test_normalize_relpath_examples() -> None:
    assert normalize_relpath("./a//b/") == "a/b"
    assert normalize_relpath(Path("x/y")) == "x/y"
    assert normalize_relpath(unicodedata.normalize("NFD", "é/ü")) == "é/ü"
    assert normalize_relpath("") == "."
    assert normalize_relpath("C:\\x") == "C:\\x"
    for bad, reason in (("/a", "absolute"), ("a/../b", "dotdot"), ("a\x00", "nul")):
        with pytest.raises(PathEscape) as info:
            normalize_relpath(bad)
        assert info.value.reason == reason


@pytest.fixture(scope="module")
def linked_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/{a/, a/up -> .., a/in -> ../b, b/, out -> <outside>, deep/x -> /}."""
    base = tmp_path_factory.mktemp("linked")
    root = base / "root"
    for d in ("a", "b", "deep"):
        (root / d).mkdir(parents=True)
    (base / "outside").mkdir()
    (root / "a" / "up").symlink_to("..")
    (root / "a" / "in").symlink_to("../b")
    (root / "out").symlink_to(base / "outside")
    (root / "deep" / "x").symlink_to("/")
    return root


_LINKS: dict[tuple[tuple[str, ...], str], tuple[str, ...] | None] = {
    (("a",), "up"): (),
    (("a",), "in"): ("b",),
    ((), "out"): None,  # None: outside the root
    (("deep",), "x"): None,
}
_WORDS = ["a", "b", "up", "in", "out", "deep", "x", "new", "."]


def _model_inside(segs: list[str]) -> bool:
    """An oracle for linked_root that follows the known symlinks by hand."""
    at: tuple[str, ...] | None = ()
    for seg in segs:
        if at is None:
            return False
        if seg == ".":
            continue
        at = _LINKS.get((at, seg), (*at, seg))
    return at is not None


@given(st.lists(st.sampled_from(_WORDS), max_size=6))
def test_safe_join_symlink_property(linked_root: Path, segs: list[str]) -> None:
    """Any path spelled from the segments is returned iff it really stays inside."""
    rel = "/".join(segs)
    if _model_inside(segs):
        assert safe_join(linked_root, rel) == Path(linked_root, *[s for s in segs if s != "."])
    else:
        with pytest.raises(PathEscape) as info:
            safe_join(linked_root, rel)
        assert info.value.reason == "symlink"
