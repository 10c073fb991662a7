"""Server configuration (spec §13): every ``section.key`` constant of the spec, default as given.

Unknown keys are errors at any depth, so a typo fails loudly instead of
silently keeping a default. The memory/ltm/planner/workers/tools sections are
defined next to the code that uses them and composed here.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from groundwork import jsonio
from groundwork.config import DictLayer, FileLayer, Layer, StrictModel, load_config, loads_jsonc
from groundwork.fsio import atomic_write
from pydantic import ConfigDict, Field

from spiderweb.brain.settings import PlannerConfig, WorkersConfig
from spiderweb.memory.settings import LtmConfig, MemoryConfig
from spiderweb.tools.settings import ToolsConfig

DEFAULT_PORT = 18790
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class _Section(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """Listening socket and who may connect (§3)."""

    bind: str = Field("127.0.0.1", min_length=1)
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    auth_token_env: str = "SPIDERWEB_TOKEN"
    allow_query_token: bool = False
    allowed_origins: list[str] = Field(default_factory=list)
    max_connections: int = Field(2000, ge=1)

    @property
    def is_loopback(self) -> bool:
        return self.bind in LOOPBACK_HOSTS or self.bind.startswith("127.")


ProviderName = Literal["openai", "openai-compatible", "ollama", "anthropic", "mock"]


class ProviderConfig(_Section):
    """The LLM provider (§11); ``model`` and ``base_url`` are honoured (M10 defect D11)."""

    name: ProviderName = "openai"
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error", "critical"] = "info"


class StorageConfig(_Section):
    """``data_dir`` ``None`` means ``$XDG_DATA_HOME/spiderweb`` (resolved by the CLI)."""

    data_dir: str | None = None


class LimitsConfig(_Section):
    """Per-connection and per-session limits (§3, §4.1, §11)."""

    max_frame_bytes: int = Field(1_048_576, ge=1024)
    max_message_bytes: int = Field(65536, ge=64)
    max_content_bytes: int = Field(4096, ge=1)
    outbox_frames: int = Field(256, ge=8)
    rate_per_s: float = Field(20.0, ge=0)
    rate_burst: int = Field(40, ge=1)
    max_pending_turns: int = Field(20, ge=1)


class HeartbeatConfig(_Section):
    """Heartbeat sweep (§10)."""

    sweep_interval_ms: int = Field(5000, ge=1)
    interval_ms: int = Field(30000, ge=0)


class SessionConfig(_Section):
    """Loaded-session cache and protocol-2 replay ring (§4, §6)."""

    replay_frames: int = Field(256, ge=0)
    idle_ttl_s: float = Field(600.0, ge=0)
    max_loaded: int = Field(5000, ge=1)


class LlmConfig(_Section):
    """Turn concurrency, timeouts and retries (§11)."""

    max_concurrency: int = Field(8, ge=1)
    max_waiting: int = Field(64, ge=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    first_token_timeout_s: float = Field(30.0, gt=0)
    idle_timeout_s: float = Field(30.0, gt=0)
    total_timeout_s: float = Field(120.0, gt=0)
    retries: int = Field(2, ge=0)


class ShutdownConfig(_Section):
    grace_s: float = Field(10.0, ge=0)


class SpiderwebConfig(_Section):
    """The whole file; every section optional with spec defaults."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    ltm: LtmConfig = Field(default_factory=LtmConfig)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    heartbeat: HeartbeatConfig = Field(default_factory=HeartbeatConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    llm: LlmConfig = Field(default_factory=LlmConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)


CONFIG_ENV = "SPIDERWEB_CONFIG"


def config_path(env: Mapping[str, str], explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, else ``$SPIDERWEB_CONFIG``, else ``~/.config/spiderweb/config.json``."""
    if explicit:
        return Path(explicit).expanduser()
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "spiderweb" / "config.json"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/spiderweb`` (``~/.local/share/spiderweb`` without it)."""
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")) / ".local" / "share")
    return Path(base).expanduser() / "spiderweb"


#: The data directory's single-server lock file (``serve`` holds it; offline writers check it).
LOCK_NAME = ".spiderweb.lock"


def data_dir_of(config: SpiderwebConfig, env: Mapping[str, str]) -> Path:
    if config.storage.data_dir:
        return Path(config.storage.data_dir).expanduser()
    return default_data_dir(env)


def load_settings(path: Path | None, overrides: Mapping[str, Any] | None = None) -> SpiderwebConfig:
    """File (optional) then flag overrides (``None`` values skipped); raises ``ConfigError``."""
    layers: list[Layer] = []
    if path is not None:
        layers.append(FileLayer(path, required=False))
    if overrides:
        layers.append(DictLayer(overrides, drop_none=True))
    return load_config(SpiderwebConfig, layers)


def key_warning(path: Path, config: SpiderwebConfig) -> str | None:
    """A warning line when a file holding ``provider.api_key`` is readable by others."""
    if not config.provider.api_key or not path.exists():
        return None
    mode = path.stat().st_mode
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"warning: {path} holds provider.api_key and is readable by others: chmod 600"
    return None


def read_raw(path: Path) -> dict[str, Any]:
    """The file as a plain dict for editing (JSON/JSONC only; a missing file is empty)."""
    if not path.exists():
        return {}
    if path.suffix == ".toml":
        raise ValueError(f"{path} is TOML: edit it by hand (only JSON files are edited)")
    value = loads_jsonc(path.read_text(encoding="utf-8")) if path.read_bytes().strip() else {}
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the top level must be an object")
    return value


def write_raw(path: Path, raw: Mapping[str, Any]) -> SpiderwebConfig:
    """Validate then write atomically with mode 0600; returns the validated config."""
    config = SpiderwebConfig.model_validate(dict(raw))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, jsonio.dumps_pretty(dict(raw)), mode=0o600)
    return config


def edit(path: Path, section: str, values: Mapping[str, Any]) -> SpiderwebConfig:
    """Set ``section.key`` values in the file (atomic, 0600) after validating the result."""
    raw = read_raw(path)
    current = raw.get(section)
    merged = dict(current) if isinstance(current, dict) else {}
    merged.update({k: v for k, v in values.items() if v is not None})
    raw[section] = merged
    return write_raw(path, raw)
