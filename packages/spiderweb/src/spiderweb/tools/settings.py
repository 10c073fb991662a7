"""Config section ``tools`` (spec §9, §13)."""

from __future__ import annotations

from groundwork.config import StrictModel
from pydantic import ConfigDict, Field


class ToolsConfig(StrictModel):
    """``workspace`` roots every file tool; without it they answer ``no_workspace``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace: str | None = None
    allow_write: bool = False
    call_timeout_s: float = Field(10.0, gt=0)
