"""Config sections ``planner`` and ``workers`` (spec §8, §9, §10, §13), defaults as given."""

from __future__ import annotations

from typing import Literal

from groundwork.config import StrictModel
from pydantic import ConfigDict, Field


class _Section(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannerConfig(_Section):
    """``auto`` = LLM planner unless the provider is ``mock``."""

    mode: Literal["auto", "llm", "deterministic"] = "auto"
    timeout_s: float = Field(20.0, gt=0)


class WorkersConfig(_Section):
    """Admission, parallelism and worker behaviour; ``auto`` = LLM unless provider is ``mock``."""

    mode: Literal["auto", "llm", "deterministic"] = "auto"
    max_tasks_per_dispatch: int = Field(4, ge=1)
    max_parallelism: int = Field(2, ge=1)
    global_max: int = Field(32, ge=1)
    task_timeout_s: float = Field(60.0, gt=0)
    max_steps: int = Field(6, ge=1)
    backpressure_warning_ms: int = Field(30000, ge=0)


def resolve_mode(mode: str, provider_type: str) -> Literal["llm", "deterministic"]:
    """``auto`` means the LLM variant unless the provider is the offline ``mock``."""
    if mode == "auto":
        return "deterministic" if provider_type == "mock" else "llm"
    return "llm" if mode == "llm" else "deterministic"
