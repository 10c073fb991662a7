"""Schema walking: key matching, types at key paths, type descriptions."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal, Optional, TypeVar

from groundwork.config.schema import annotation_at, describe, match_key, model_of, primary_keys
from pydantic import BaseModel, Field


class Leaf(BaseModel):
    n: int = 0


class Other(BaseModel):
    m: int = 0


class Root(BaseModel):
    keep_builds: int = Field(3, alias="keepBuilds")
    leaf: Leaf | None = None
    leaves: list[Leaf] = Field(default_factory=list)
    by_ext: dict[str, Leaf] = Field(default_factory=dict, alias="byExt")
    seq: Sequence[int] = ()
    mapping: Mapping[str, str] = Field(default_factory=dict)
    either: Leaf | Other | None = None


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


T = TypeVar("T")


def test_model_of() -> None:
    assert model_of(Leaf) is Leaf
    assert model_of(Optional[Leaf]) is Leaf  # noqa: UP045
    assert model_of(Leaf | None) is Leaf
    assert model_of(Leaf | Other) is None
    assert model_of(int) is None


def test_match_key_ignores_case_and_underscores() -> None:
    assert match_key(Root, "KEEPBUILDS") == "keepBuilds"
    assert match_key(Root, "keep_builds") == "keepBuilds"
    assert match_key(Root, "BY_EXT") == "byExt"
    assert match_key(Root, "nope") is None
    assert primary_keys(Root)[:2] == ["keepBuilds", "leaf"]


def test_annotation_at_walks_models_lists_and_dicts() -> None:
    assert annotation_at(Root, ("keepBuilds",)) == (True, int)
    assert annotation_at(Root, ("leaf", "n")) == (True, int)
    assert annotation_at(Root, ("leaves", 3, "n")) == (True, int)
    assert annotation_at(Root, ("byExt", ".py")) == (True, Leaf)
    assert annotation_at(Root, ("seq", 0)) == (True, int)
    assert annotation_at(Root, ("mapping", "k")) == (True, str)
    assert annotation_at(Root, ()) == (True, Root)
    assert annotation_at(Root, ("leaves", "x")) == (False, None)
    assert annotation_at(Root, ("keepBuilds", "x")) == (False, None)
    assert annotation_at(Root, ("either", "n")) == (False, None)
    assert annotation_at(Root, ("missing",)) == (False, None)


def test_describe() -> None:
    assert describe(int) == "int"
    assert describe(type(None)) == "null"
    assert describe(int | None) == "int or null"
    assert describe(Literal["a", 1]) == "'a' or 1"
    assert describe(Color) == "'red' or 'blue'"
    assert describe(Leaf) == "object"
    assert describe(list[Leaf]) == "list[object]"
    assert describe(dict[str, int]) == "dict[str, int]"
    assert describe(tuple[int, ...]) == "tuple[int, ...]"
    assert describe(Annotated[int, "meta"]) == "int"
    assert describe(bytes) == "bytes"
    assert describe(T) == "~T"
