"""Config sections ``memory`` and ``ltm`` (spec §5, §13): every named constant, default as given.

The server's config model composes these; they reject unknown keys so a typo in
``config.json`` fails loudly instead of silently keeping a default.
"""

from __future__ import annotations

from typing import Literal

from groundwork.config import StrictModel
from pydantic import ConfigDict, Field


class _Section(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemoryConfig(_Section):
    """RAM limits (§5.1) and memory-manager behaviour (§5.2)."""

    max_context_messages: int = Field(64, ge=1)
    max_context_bytes: int = Field(16384, ge=1)
    max_entry_bytes: int = Field(8192, ge=64)
    max_tombstones: int = Field(64, ge=0)
    max_summaries: int = Field(64, ge=0)
    manager_interval_s: float = Field(10.0, gt=0)
    summaries_per_tick: int = Field(2, ge=1)
    summarizer: Literal["auto", "llm", "truncate"] = "auto"
    summarizer_timeout_s: float = Field(10.0, gt=0)
    auto_snapshot_min_interval_s: float = Field(30.0, ge=0)


class LtmConfig(_Section):
    """SQLite long-term store (§5.3); 0 disables a prune rule."""

    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    keep_snapshots: int = Field(24, ge=0)
    keep_days: int = Field(30, ge=0)
