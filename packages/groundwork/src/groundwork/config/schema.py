"""Walk a pydantic model's fields by key path: names, types, descriptions.

Env variables arrive upper-cased and flag values as strings; both need the
field's type at a key path to be coerced, and error messages need a short
human name for that type.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from groundwork.config.locate import KeyPath

__all__ = ["annotation_at", "describe", "fields_by_key", "match_key", "model_of", "primary_keys"]

_NAMES = {str: "str", int: "int", float: "float", bool: "bool", type(None): "null"}


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class of ``Model`` or ``Model | None``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [a for a in get_args(annotation) if a is not type(None)]
        if len(models) == 1:
            return model_of(models[0])
    return None


def fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Fields keyed by the name the input uses: the alias if set, else the name."""
    out: dict[str, FieldInfo] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        out[alias or name] = info
        if alias and model.model_config.get("populate_by_name"):
            out.setdefault(name, info)
    return out


def primary_keys(model: type[BaseModel]) -> list[str]:
    """The key each field is spelled with in files: its alias if set, else its name."""
    out = []
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        out.append(alias or name)
    return out


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def match_key(model: type[BaseModel], segment: str) -> str | None:
    """The input key of ``model`` that ``segment`` names, ignoring case and ``_``."""
    want = _squash(segment)
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        if want in (_squash(name), _squash(alias or name)):
            return alias or name
    return None


_NOT_FOUND: Final = object()


def _step(annotation: Any, part: str | int) -> Any:
    model = model_of(annotation)
    if model is not None:
        info = fields_by_key(model).get(part) if isinstance(part, str) else None
        return _NOT_FOUND if info is None else info.annotation
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (list, tuple, set, frozenset, Sequence) and isinstance(part, int) and args:
        return args[0]
    if origin in (dict, Mapping) and isinstance(part, str) and len(args) == 2:
        return args[1]
    return _NOT_FOUND


def annotation_at(model: type[BaseModel], path: KeyPath) -> tuple[bool, Any]:
    """``(True, type)`` for the type a key path ends on, through models, lists and
    dicts; ``(False, None)`` when the path leaves the schema."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is _NOT_FOUND:
            return False, None
    return True, annotation


def describe(annotation: Any) -> str:
    """``int``, ``list[str]``, ``'a' or 'b'``, ``int or null``, ``object`` for models."""
    for known, name in _NAMES.items():
        if annotation is known:
            return name
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " or ".join(repr(m.value) for m in annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in get_args(annotation))
    if origin is typing.Annotated:
        return describe(get_args(annotation)[0])
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else describe(a) for a in get_args(annotation))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
