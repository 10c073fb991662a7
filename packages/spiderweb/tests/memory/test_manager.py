"""Memory manager (§5.2, §17.6): triggers, per-tick cap, LLM summary via the fake server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from groundwork.llm import MockProvider, Provider, ProviderSpec, Timeouts, make_provider
from groundwork.llm.fake import Action, FakeLLMServer, hang, status
from spiderweb.memory.manager import (
    Summarizer,
    clean_llm_summary,
    event_message,
    pick_victims,
    should_snapshot,
    should_summarize,
    truncate_summary,
)
from spiderweb.memory.ram import Ram, utf8_len
from spiderweb.memory.settings import MemoryConfig


def test_trigger_thresholds() -> None:
    cfg = MemoryConfig()
    assert not should_summarize(48, 100, cfg)
    assert should_summarize(49, 100, cfg)
    assert not should_summarize(2, 12288, cfg)
    assert should_summarize(2, 12289, cfg)


def test_at_49_active_at_most_two_per_tick() -> None:
    ram = Ram()
    for i in range(49):
        ram.update("user", f"m{i}")
    victims = pick_victims(ram, MemoryConfig())
    assert [e.id for e in victims] == [1, 2]
    ram.summarize(1, "s")
    assert [e.id for e in pick_victims(ram, MemoryConfig())] == []  # 48 active: below trigger


def test_never_summarizes_the_last_entry() -> None:
    ram = Ram()
    ram.update("assistant", "x" * 8000)
    ram.update("assistant", "y" * 8000)
    assert [e.id for e in pick_victims(ram, MemoryConfig())] == [1]


def test_truncate_summary_char_boundary() -> None:
    text = truncate_summary(7, "é" * 100)
    assert text.startswith("[summary:7] ")
    assert utf8_len(text) - len("[summary:7] ") == 72
    assert truncate_summary(1, "short") == "[summary:1] short"


def test_snapshot_interval_and_message() -> None:
    assert should_snapshot(None, 5, 30)
    assert not should_snapshot(10, 39.9, 30)
    assert should_snapshot(10, 40, 30)
    assert should_snapshot(10, 10, 0)
    assert event_message(2, True) == "summarized 2 stale RAM entries and persisted snapshot"
    assert event_message(1, False) == "summarized 1 stale RAM entries"


def test_clean_llm_summary_caps() -> None:
    assert clean_llm_summary("  a \n b ") == "a b"
    assert len(clean_llm_summary("w" * 500)) == 200


async def test_auto_uses_truncate_with_mock() -> None:
    mock = MockProvider(reply="never used")
    s = Summarizer(mock)
    assert s.mode == "truncate"
    res = await s(3, "hello there")
    assert (res.entry_id, res.text, res.summarizer) == (3, "[summary:3] hello there", "fallback")
    assert mock.calls == []


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(reply=lambda _req: "User greeted the assistant and asked about cats.") as f:
        yield f


def _provider(fake: FakeLLMServer) -> Provider:
    return make_provider(
        ProviderSpec(
            type="openai-compatible",
            model="m",
            base_url=fake.openai_base_url,
            timeouts=Timeouts(connect_s=2, total_s=5, first_token_s=5, idle_s=5),
        ),
        {},
    )


async def test_llm_summary_via_fake_server(fake: FakeLLMServer) -> None:
    provider = _provider(fake)
    s = Summarizer(provider, "auto")
    assert s.mode == "llm"
    res = await s(5, "hi, tell me about cats")
    assert (res.text, res.summarizer) == ("User greeted the assistant and asked about cats.", "llm")
    await provider.aclose()


@pytest.mark.parametrize("action", [status(500), hang()])
async def test_llm_failure_falls_back_to_truncate(fake: FakeLLMServer, action: Action) -> None:
    fake.script([action])
    provider = _provider(fake)
    s = Summarizer(provider, "llm", timeout_s=0.5)
    res = await s(9, "some content")
    assert (res.text, res.summarizer) == ("[summary:9] some content", "fallback")
    await provider.aclose()
