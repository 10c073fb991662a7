"""Server configuration (spec §13): every ``section.key`` constant of the spec, default as given.

Unknown keys are errors at any depth, so a typo fails loudly instead of
silently keeping a default. The memory/ltm/planner/workers/tools sections are
defined next to the code that uses them and composed here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spiderweb.brain.settings import PlannerConfig, WorkersConfig
from spiderweb.memory.settings import LtmConfig, MemoryConfig
from spiderweb.tools.settings import ToolsConfig

DEFAULT_PORT = 18790
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """Listening socket and who may connect (§3)."""

    bind: str = "127.0.0.1"
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
