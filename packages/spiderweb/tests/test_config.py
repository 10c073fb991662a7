"""Config model: every §13 section with spec defaults; unknown keys rejected at any depth."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from spiderweb.config import SpiderwebConfig


def test_spec_defaults() -> None:
    cfg = SpiderwebConfig()
    assert (cfg.server.bind, cfg.server.port, cfg.server.max_connections) == (
        "127.0.0.1",
        18790,
        2000,
    )
    assert cfg.server.auth_token_env == "SPIDERWEB_TOKEN" and not cfg.server.allow_query_token
    assert (cfg.provider.name, cfg.provider.model) == ("openai", "gpt-4o-mini")
    lim = cfg.limits
    assert (lim.max_frame_bytes, lim.max_message_bytes, lim.max_content_bytes) == (
        1_048_576,
        65536,
        4096,
    )
    assert (lim.outbox_frames, lim.rate_per_s, lim.rate_burst, lim.max_pending_turns) == (
        256,
        20,
        40,
        20,
    )
    assert (cfg.heartbeat.sweep_interval_ms, cfg.heartbeat.interval_ms) == (5000, 30000)
    assert (cfg.session.replay_frames, cfg.session.idle_ttl_s, cfg.session.max_loaded) == (
        256,
        600,
        5000,
    )
    llm = cfg.llm
    assert (llm.max_concurrency, llm.max_waiting, llm.retries) == (8, 64, 2)
    assert (llm.connect_timeout_s, llm.first_token_timeout_s, llm.idle_timeout_s) == (10, 30, 30)
    assert llm.total_timeout_s == 120 and cfg.shutdown.grace_s == 10
    assert cfg.memory.max_context_messages == 64 and cfg.ltm.keep_snapshots == 24
    assert cfg.workers.max_tasks_per_dispatch == 4 and cfg.planner.timeout_s == 20
    assert cfg.tools.call_timeout_s == 10


def test_unknown_keys_fail_at_any_depth() -> None:
    with pytest.raises(ValidationError):
        SpiderwebConfig.model_validate({"servr": {}})
    with pytest.raises(ValidationError):
        SpiderwebConfig.model_validate({"server": {"prot": 1}})


def test_m10_shaped_file_loads() -> None:
    cfg = SpiderwebConfig.model_validate(
        {
            "provider": {"name": "openai", "model": "gpt-4o-mini"},
            "server": {"bind": "127.0.0.1", "port": 18790},
            "log": {"level": "info"},
        }
    )
    assert cfg.server.is_loopback
