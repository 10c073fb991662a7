"""Config layers: a file, prefixed env variables, mapped env variables, a dict.

Each layer's ``read(model)`` returns a :class:`LayerData`; it never raises
for bad content but reports :class:`ConfigIssue` records, so one load can
show every problem at once. Env and flag values are marked for coercion
(strings become the field's type); file values must already be well typed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel

from groundwork.config.issues import ConfigIssue
from groundwork.config.jsonc import strip_jsonc
from groundwork.config.locate import KeyPath, json_key_lines, toml_key_lines
from groundwork.config.merge import LayerData, Origin, origins_for
from groundwork.config.schema import fields_by_key, match_key, model_of
from groundwork.errors import JsonError
from groundwork.jsonio import loads

__all__ = ["DictLayer", "EnvLayer", "EnvMapLayer", "FileLayer", "Layer"]

_TOML_POS: Final = re.compile(r"at line (\d+), column (\d+)")
_SUFFIX_FORMAT: Final = {".toml": "toml", ".json": "jsonc", ".jsonc": "jsonc"}


class Layer(Protocol):
    """Anything that can contribute one layer of config for ``model``."""

    def read(self, model: type[BaseModel]) -> LayerData: ...


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _jsonable_toml(value: Any) -> Any:
    """TOML dates and times as ISO strings, the form JSON config would hold."""
    if isinstance(value, dict):
        return {k: _jsonable_toml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable_toml(v) for v in value]
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


class FileLayer:
    """A ``.toml`` file (tomllib) or a ``.json``/``.jsonc`` file (JSONC).

    ``required=False`` makes a missing file an empty layer. An empty file is
    an issue for JSONC; for TOML it is an empty table unless
    ``allow_empty=False``. ``format`` overrides the suffix.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        required: bool = True,
        format: Literal["toml", "jsonc"] | None = None,
        allow_empty: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.required = required
        self.format = format
        self.allow_empty = allow_empty

    def _issue(self, kind: Any, expected: str, got: str, line: int | None = None) -> LayerData:
        src = str(self.path)
        issue = ConfigIssue(src, line, "", expected, got, kind)
        return LayerData({}, {}, (issue,), source=src, is_file=True)

    def read(self, model: type[BaseModel]) -> LayerData:
        src = str(self.path)
        fmt = self.format or _SUFFIX_FORMAT.get(self.path.suffix.lower())
        if fmt is None:
            return self._issue(
                "parse", "a .toml, .json or .jsonc file", f"suffix {self.path.suffix!r}"
            )
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            if not self.required:
                return LayerData({}, {}, source=src, is_file=True)
            return self._issue("missing", "a config file", "no such file")
        except OSError as exc:
            return self._issue("parse", "a readable file", exc.strerror or str(exc))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            return self._issue("parse", "UTF-8 text", f"invalid byte {raw[exc.start]:#04x}", line)
        text = text.removeprefix("\ufeff")
        if fmt == "toml":
            return self._read_toml(text)
        return self._read_jsonc(text)

    def _read_toml(self, text: str) -> LayerData:
        src = str(self.path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = _TOML_POS.search(str(exc))
            line = int(m.group(1)) if m else None
            return self._issue(
                "parse", "valid TOML", _TOML_POS.sub("", str(exc)).strip(" ()"), line
            )
        allow_empty = True if self.allow_empty is None else self.allow_empty
        if not data and not allow_empty:
            return self._issue("empty", "a TOML table", "an empty file")
        data = _jsonable_toml(data)
        origins = origins_for(data, src, lines=toml_key_lines(text))
        return LayerData(data, origins, source=src, is_file=True)

    def _read_jsonc(self, text: str) -> LayerData:
        src = str(self.path)
        try:
            stripped = strip_jsonc(text)
        except JsonError as exc:
            return self._issue("parse", "valid JSONC", str(exc), exc.line)
        if not stripped.strip():
            if self.allow_empty:
                return LayerData({}, {}, source=src, is_file=True)
            return self._issue("empty", "a JSON object", "an empty file")
        try:
            data = loads(stripped)
        except JsonError as exc:
            got = str(exc).split(": line ")[0]
            return self._issue("parse", "valid JSONC", got, exc.line)
        lines = json_key_lines(stripped)
        if not isinstance(data, dict):
            return self._issue("root_not_object", "a JSON object", _kind_of(data), lines.get(()))
        return LayerData(data, origins_for(data, src, lines=lines), source=src, is_file=True)


def _resolve_env_path(model: type[BaseModel], segments: list[str]) -> tuple[list[str], bool]:
    """Map env segments onto input keys; the flag says the first one is a known field."""
    out: list[str] = []
    current: type[BaseModel] | None = model
    known_first = False
    for i, seg in enumerate(segments):
        key = match_key(current, seg) if current is not None else None
        if key is None:
            out.append(seg.lower())
            current = None
            continue
        if i == 0:
            known_first = True
        out.append(key)
        info = fields_by_key(current).get(key) if current is not None else None
        current = model_of(info.annotation) if info is not None else None
    return out, known_first


class EnvLayer:
    """``{PREFIX}{SECTION}{sep}{KEY}`` variables, e.g. ``MELD_QUEUE__WORKERS=3``.

    Names match fields ignoring case and ``_`` (``KEEPBUILDS`` is
    ``keepBuilds``). A variable whose first segment names no field is taken
    for someone else's (``MELD_HOME``) and ignored, unless it contains
    ``sep``: then it was meant as config and is reported as an unknown key.
    Empty values count as unset.
    """

    def __init__(self, env: Mapping[str, str], prefix: str, sep: str = "__") -> None:
        self.env = env
        self.prefix = prefix if prefix.endswith("_") else prefix + "_"
        self.sep = sep

    def read(self, model: type[BaseModel]) -> LayerData:
        data: dict[str, Any] = {}
        origins: dict[KeyPath, Origin] = {}
        for name in sorted(self.env):
            value = self.env[name]
            if not name.startswith(self.prefix) or value == "":
                continue
            rest = name[len(self.prefix) :]
            if not rest:
                continue
            segments = rest.split(self.sep)
            path, known = _resolve_env_path(model, segments)
            if not known and len(segments) == 1:
                continue
            _set_path(data, path, value)
            origins[tuple(path)] = Origin(name, None, coerce=True)
        return LayerData(data, _fill(data, origins))


def _fill(data: dict[str, Any], origins: dict[KeyPath, Origin]) -> dict[KeyPath, Origin]:
    """Give each intermediate table the origin of its first-set leaf."""
    out = dict(origins)
    for path, origin in origins.items():
        for k in range(1, len(path)):
            out.setdefault(path[:k], origin)
    return out


class EnvMapLayer:
    """Named variables mapped to dotted key paths: ``{"X_CACHE_ROOT": "cache.root"}``."""

    def __init__(self, env: Mapping[str, str], mapping: Mapping[str, str]) -> None:
        self.env = env
        self.mapping = mapping

    def read(self, model: type[BaseModel]) -> LayerData:
        data: dict[str, Any] = {}
        origins: dict[KeyPath, Origin] = {}
        for name, dotted in self.mapping.items():
            value = self.env.get(name)
            if value is None or value == "":
                continue
            path = dotted.split(".")
            _set_path(data, path, value)
            origins[tuple(path)] = Origin(name, None, coerce=True)
        return LayerData(data, _fill(data, origins))


class DictLayer:
    """A nested dict, typically CLI flags; string values are coerced like env.

    ``drop_none`` skips keys whose value is None (flags left unset).
    """

    def __init__(
        self, data: Mapping[str, Any], name: str = "flags", *, drop_none: bool = False
    ) -> None:
        self.data = data
        self.name = name
        self.drop_none = drop_none

    def read(self, model: type[BaseModel]) -> LayerData:
        data = _without_none(self.data) if self.drop_none else _plain(self.data)
        return LayerData(data, origins_for(data, self.name, coerce=True))


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in value.items()}


def _without_none(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _without_none(v) if isinstance(v, Mapping) else v
        for k, v in value.items()
        if v is not None
    }
