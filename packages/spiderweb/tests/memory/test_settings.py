"""Config section defaults match the spec and unknown keys fail."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from spiderweb.brain.settings import PlannerConfig, WorkersConfig
from spiderweb.memory.settings import LtmConfig, MemoryConfig
from spiderweb.tools.settings import ToolsConfig


def test_defaults_match_spec() -> None:
    m = MemoryConfig()
    assert (m.max_context_messages, m.max_context_bytes, m.max_entry_bytes) == (64, 16384, 8192)
    assert (m.max_tombstones, m.max_summaries, m.summaries_per_tick) == (64, 64, 2)
    assert (m.manager_interval_s, m.summarizer, m.auto_snapshot_min_interval_s) == (10, "auto", 30)
    lt = LtmConfig()
    assert (lt.synchronous, lt.keep_snapshots, lt.keep_days) == ("NORMAL", 24, 30)
    p = PlannerConfig()
    assert (p.mode, p.timeout_s) == ("auto", 20)
    w = WorkersConfig()
    assert (w.max_tasks_per_dispatch, w.max_parallelism, w.global_max) == (4, 2, 32)
    assert (w.task_timeout_s, w.max_steps, w.backpressure_warning_ms, w.mode) == (
        60,
        6,
        30000,
        "auto",
    )
    t = ToolsConfig()
    assert (t.workspace, t.allow_write, t.call_timeout_s) == (None, False, 10)


_MODELS = [MemoryConfig, LtmConfig, PlannerConfig, WorkersConfig, ToolsConfig]


@pytest.mark.parametrize("model", _MODELS)
def test_unknown_key_rejected(model: type) -> None:
    with pytest.raises(ValidationError):
        model(no_such_key=1)


def test_bad_choice_rejected() -> None:
    with pytest.raises(ValidationError):
        MemoryConfig(summarizer="magic")
