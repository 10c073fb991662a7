"""Deep merge of config layers that remembers where every value came from.

Tables merge key by key; lists and scalars replace. Each key path of the
result maps to the :class:`Origin` of the layer that set it, so an error found
by the final validation can name that file and line, or that variable.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from groundwork.config.issues import ConfigIssue
from groundwork.config.locate import KeyPath, lookup_line

__all__ = ["LayerData", "Origin", "merge_layers", "origins_for"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from; ``coerce`` marks strings from env or flags."""

    source: str
    line: int | None = None
    coerce: bool = False


@dataclass(frozen=True, slots=True)
class LayerData:
    """One layer as read: its tree, each key path's origin, and read-time issues."""

    data: dict[str, Any]
    origins: dict[KeyPath, Origin]
    issues: tuple[ConfigIssue, ...] = ()
    source: str | None = None  # a file layer's path, for issues not tied to a key
    is_file: bool = False


def origins_for(
    data: Mapping[str, Any],
    source: str,
    *,
    lines: Mapping[KeyPath, int] | None = None,
    coerce: bool = False,
) -> dict[KeyPath, Origin]:
    """An origin for every key path in ``data`` (lines from the nearest known key)."""
    known = dict(lines or {})
    out: dict[KeyPath, Origin] = {}
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if path:
            out[path] = Origin(source, lookup_line(known, path), coerce)
        if isinstance(value, Mapping):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
    return out


def _merge(
    dst: dict[str, Any],
    dst_origins: dict[KeyPath, Origin],
    src: Mapping[str, Any],
    src_origins: Mapping[KeyPath, Origin],
    prefix: KeyPath,
) -> None:
    for key, value in src.items():
        path = (*prefix, key)
        old = dst.get(key)
        if isinstance(value, Mapping) and isinstance(old, dict):
            _merge(old, dst_origins, value, src_origins, path)
            if path not in dst_origins and path in src_origins:
                dst_origins[path] = src_origins[path]
            continue
        n = len(path)
        for stale in [p for p in dst_origins if p[:n] == path]:
            del dst_origins[stale]
        dst[key] = copy.deepcopy(value)
        dst_origins.update((p, o) for p, o in src_origins.items() if p[:n] == path)


def merge_layers(layers: list[LayerData]) -> tuple[dict[str, Any], dict[KeyPath, Origin]]:
    """Merge lowest first; returns the tree and the origin of each key path."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for layer in layers:
        _merge(data, origins, layer.data, layer.origins, ())
    return data, origins
