"""``artifacts.trusted``: the unvalidated builds of ``current.json`` and pieces manifests
must equal pydantic's (values, types, fields set) and refuse anything not plainly valid."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from groundwork import jsonio
from pairofcleats.artifacts import trusted
from pairofcleats.artifacts.schema import CurrentPointer, PiecesManifest
from pydantic import BaseModel, ValidationError


def _same(a: object, b: object, where: str) -> None:
    assert type(a) is type(b), where
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        assert a.model_fields_set == b.model_fields_set, where
        for name in type(a).model_fields:
            _same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _documents(built: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    repo_dir = next(p for p in (built.cache_root / "repos").iterdir() if p.is_dir())
    current = jsonio.loads((repo_dir / "builds" / "current.json").read_bytes())
    manifests = [jsonio.loads(p.read_bytes()) for p in repo_dir.rglob("pieces/manifest.json")]
    assert manifests
    return current, manifests


def _mutations(doc: Any) -> Iterator[Any]:
    """Copies of ``doc`` with one value swapped, one key dropped or one key added, at every
    depth (lists: their first item)."""
    swaps: list[Any] = [None, 1, -1, 2.0, True, "x", "", [], {}, "xxh64:" + "0" * 16, "2"]
    if isinstance(doc, dict):
        for key in list(doc):
            for value in swaps:
                yield {**doc, key: value}
            yield {k: v for k, v in doc.items() if k != key}
            for inner in _mutations(doc[key]):
                yield {**doc, key: inner}
        yield {**doc, "extra": 1}
    elif isinstance(doc, list) and doc:
        for inner in _mutations(doc[0]):
            yield [inner, *copy.deepcopy(doc[1:])]


def _check(
    doc: Any, fast: Callable[[Any], BaseModel | None], model: type[BaseModel]
) -> tuple[int, int]:
    accepted = refused = 0
    for variant in [doc, *_mutations(doc)]:
        built = fast(copy.deepcopy(variant))
        try:
            validated: BaseModel | None = model.model_validate(copy.deepcopy(variant))
        except ValidationError:
            validated = None
        if built is None:
            refused += 1
            continue
        accepted += 1
        assert validated is not None, variant  # never accepts what pydantic refuses
        _same(built, validated, model.__name__)
    return accepted, refused


def test_real_documents_build_as_validated(built_fixture: Any) -> None:
    current, manifests = _documents(built_fixture)
    built = trusted.current_pointer(current)
    assert built is not None
    _same(built, CurrentPointer.model_validate(current), "current")
    for raw in manifests:
        manifest = trusted.pieces_manifest(raw)
        assert manifest is not None
        _same(manifest, PiecesManifest.model_validate(raw), "manifest")


@pytest.mark.parametrize("which", ["current", "manifest"])
def test_mutated_documents_are_refused_or_built_as_validated(
    built_fixture: Any, which: str
) -> None:
    current, manifests = _documents(built_fixture)
    if which == "current":
        accepted, refused = _check(current, trusted.current_pointer, CurrentPointer)
    else:
        manifest = manifests[0]
        if "extensions" not in manifest:
            manifest = {**manifest, "extensions": {"k": 1}}
        accepted, refused = _check(manifest, trusted.pieces_manifest, PiecesManifest)
        _check({k: v for k, v in manifest.items() if k != "extensions"},
               trusted.pieces_manifest, PiecesManifest)  # fmt: skip
    assert accepted > 5 and refused > 20
