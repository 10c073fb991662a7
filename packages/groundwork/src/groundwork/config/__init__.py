"""Layered config: TOML/JSONC files, env variables and flags into a pydantic model.

``load_config(Model, [FileLayer(...), EnvLayer(env, "MELD_"), DictLayer(flags)])``
merges lowest first and validates once; a :class:`ConfigError` lists every
issue as ``FILE:LINE: key.path: expected T, got V``.

- ``issues``: ``ConfigIssue``, ``ConfigError``.
- ``layers``: ``FileLayer``, ``EnvLayer``, ``EnvMapLayer``, ``DictLayer``.
- ``loader``: ``load_config``, ``StrictModel``.
- ``jsonc``: ``strip_jsonc``, ``loads_jsonc`` (position-preserving).
- ``merge``, ``locate``, ``schema``: the pure pieces behind them.
"""

from __future__ import annotations

from groundwork.config.issues import ConfigError, ConfigIssue, IssueKind
from groundwork.config.jsonc import loads_jsonc, strip_jsonc
from groundwork.config.layers import DictLayer, EnvLayer, EnvMapLayer, FileLayer, Layer
from groundwork.config.loader import StrictModel, format_key_path, load_config
from groundwork.config.merge import LayerData, Origin

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "DictLayer",
    "EnvLayer",
    "EnvMapLayer",
    "FileLayer",
    "IssueKind",
    "Layer",
    "LayerData",
    "Origin",
    "StrictModel",
    "format_key_path",
    "load_config",
    "loads_jsonc",
    "strip_jsonc",
]
