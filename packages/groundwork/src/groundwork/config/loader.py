"""``load_config``: read layers, deep-merge lowest first, validate once.

Strings from env and flags are coerced to the field's type first (``"3"``
to ``3``, ``"true"`` to ``True``, JSON text for lists and tables); then the
merged tree is validated in pydantic's strict JSON mode, so a file value
must already be well typed (``"3"`` in a file is not an int). Every
validation error becomes a :class:`ConfigIssue` naming the layer that set
the value: file and line, or the env variable.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, to_jsonable_python

from groundwork import jsonio
from groundwork.config.issues import ConfigError, ConfigIssue, IssueKind
from groundwork.config.layers import Layer
from groundwork.config.locate import KeyPath
from groundwork.config.merge import LayerData, Origin, merge_layers
from groundwork.config.schema import (
    annotation_at,
    describe,
    fields_by_key,
    model_of,
    primary_keys,
)
from groundwork.errors import JsonError

__all__ = ["StrictModel", "format_key_path", "load_config"]

M = TypeVar("M", bound=BaseModel)

_GOT_MAX: Final = 60
_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_TYPE_SUFFIXES: Final = ("_type", "_parsing")


class StrictModel(BaseModel):
    """Base for config models: an unknown key fails at any depth."""

    model_config = ConfigDict(extra="forbid")


@lru_cache(maxsize=512)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def _coerce(annotation: Any, value: Any) -> Any:
    """``value`` as the JSON form of ``annotation``, or unchanged if it does not fit."""
    try:
        ta = _adapter(annotation)
    except TypeError:  # unhashable annotation: build it uncached
        ta = TypeAdapter(annotation)
    try:
        if isinstance(value, str):
            try:
                typed = ta.validate_strings(value)
            except ValidationError:
                typed = ta.validate_json(value)
        else:
            typed = ta.validate_python(value)
    except ValidationError:
        return value  # the final validation reports it, with its origin
    return ta.dump_python(typed, mode="json", by_alias=True)


def _coerce_tree(
    model: type[BaseModel],
    data: dict[str, Any],
    origins: dict[KeyPath, Origin],
    prefix: KeyPath,
) -> None:
    fields = fields_by_key(model)
    for key, value in data.items():
        info = fields.get(key)
        if info is None:
            continue
        path = (*prefix, key)
        nested = model_of(info.annotation)
        if nested is not None and isinstance(value, dict):
            _coerce_tree(nested, value, origins, path)
            continue
        origin = origins.get(path)
        if origin is not None and origin.coerce:
            data[key] = _coerce(info.annotation, value)


def format_key_path(path: KeyPath) -> str:
    """``("repos", 0, "root")`` as ``repos[0].root``; odd keys quoted: ``byExt[".py"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += "[" + jsonio.dumps(part).decode("utf-8") + "]"
        else:
            out += f".{part}" if out else part
    return out


def _data_path(data: Any, loc: tuple[int | str, ...]) -> KeyPath:
    """The longest prefix of ``loc`` present in ``data`` (drops union member tags)."""
    path: list[int | str] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        node = node[part]
        path.append(part)
    return tuple(path)


def _render(value: Any) -> str:
    """The offending input as JSON (inputs come from the validated JSON payload)."""
    text = jsonio.dumps(value).decode("utf-8")
    return text if len(text) <= _GOT_MAX else text[: _GOT_MAX - 1] + "…"


def _expected_from_msg(msg: str) -> str:
    for lead in ("Input should be ", "Value error, ", "Assertion failed, "):
        if msg.startswith(lead):
            return msg[len(lead) :]
    return msg[:1].lower() + msg[1:]


def _kind(err_type: str) -> IssueKind:
    if err_type == "extra_forbidden":
        return "unknown_key"
    if err_type == "missing":
        return "missing"
    if err_type.endswith(_TYPE_SUFFIXES) or err_type in ("is_instance_of", "model_attributes_type"):
        return "type"
    return "value"


class _Issues:
    """Turn pydantic errors into issues, locating each in its layer."""

    def __init__(
        self,
        model: type[BaseModel],
        data: dict[str, Any],
        origins: dict[KeyPath, Origin],
        fallback: str,
    ) -> None:
        self.model = model
        self.data = data
        self.origins = origins
        self.fallback = fallback

    def where(self, path: KeyPath) -> tuple[str, int | None]:
        for k in range(len(path), 0, -1):
            origin = self.origins.get(path[:k])
            if origin is not None:
                return origin.source, origin.line
        return self.fallback, None

    def issue(self, err: ErrorDetails) -> ConfigIssue:
        kind = _kind(err["type"])
        loc = tuple(err["loc"])
        if kind in ("unknown_key", "missing"):
            path: KeyPath = loc
        else:
            path = _data_path(self.data, loc)
        source, line = self.where(path)
        found, annotation = annotation_at(self.model, path)
        if kind == "unknown_key":
            expected = self._known_keys(path)
            got = f"unknown key {path[-1]!r}" if path else "unknown key"
        elif kind == "missing":
            expected = describe(annotation) if found else "a value"
            got = "nothing (required)"
        else:
            if kind == "type" and found:
                expected = describe(annotation)
            else:
                expected = _expected_from_msg(err["msg"])
            got = _render(err.get("input"))
        return ConfigIssue(source, line, format_key_path(path), expected, got, kind)

    def _known_keys(self, path: KeyPath) -> str:
        found, annotation = annotation_at(self.model, path[:-1])
        owner = model_of(annotation) if found else None
        if owner is None:
            return "a known key"
        known = sorted(primary_keys(owner))
        close = difflib.get_close_matches(str(path[-1]), known, n=1) if path else []
        if close:
            return f"a known key (did you mean {close[0]!r}?)"
        return f"a known key ({', '.join(known)})" if known else "no keys here"


def _collapse(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """One issue per (place, kind): union members' errors join with "or"."""
    out: dict[tuple[str, int | None, str, str], ConfigIssue] = {}
    for issue in issues:
        key = (issue.source, issue.line, issue.key_path, issue.kind)
        prior = out.get(key)
        if prior is None:
            out[key] = issue
        else:
            parts = prior.expected.split(" or ")
            new = [p for p in issue.expected.split(" or ") if p not in parts]
            if new:
                expected = " or ".join([*parts, *new])
                out[key] = dataclasses.replace(prior, expected=expected)
    return list(out.values())


def load_config(model: type[M], layers: Sequence[Layer]) -> M:
    """Validate the deep merge of ``layers`` (lowest first) as ``model``.

    Raises :class:`ConfigError` with every issue: all read problems (parse,
    empty, non-object root, missing file) first, without validating; else all
    validation problems, each naming its file and line or variable.
    """
    read: list[LayerData] = [layer.read(model) for layer in layers]
    problems = [issue for layer in read for issue in layer.issues]
    if problems:
        raise ConfigError(problems)
    data, origins = merge_layers(read)
    _coerce_tree(model, data, origins, ())
    files = [layer.source for layer in read if layer.is_file and layer.source]
    fallback = files[-1] if files else "config"
    try:
        payload = jsonio.dumps(to_jsonable_python(data))
    except (JsonError, ValueError) as exc:
        raise ConfigError(
            [ConfigIssue(fallback, None, "", "JSON values", str(exc), "value")]
        ) from exc
    try:
        return model.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        located = _Issues(model, data, origins, fallback)
        raise ConfigError(_collapse([located.issue(e) for e in exc.errors()])) from exc
