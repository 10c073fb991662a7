"""Memory manager (spec §5.2): when to summarize, what, and the summarizers.

The decision half is pure (``should_summarize``, ``pick_victims``,
``should_snapshot``, ``event_message``) and runs inside the session actor; the
summarizer is the only async part and runs outside it, on copies (entry id and
text). Results are applied with ``Ram.summarize``, which ignores an entry that
is no longer active. Summarizers:

- ``truncate`` (M10): ``[summary:<source_id>] `` + the first 72 bytes, cut back
  to a character boundary;
- ``llm``: a ≤ 200-character summary from the provider within 10 s; any error,
  timeout or empty reply falls back to ``truncate``;
- ``auto`` (default): ``llm`` unless the provider is ``mock``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from groundwork.llm import LLMError, Message, Options, Provider

from spiderweb.memory.ram import Entry, Ram, truncate_utf8
from spiderweb.memory.settings import MemoryConfig

TRUNCATE_BYTES = 72
LLM_SUMMARY_CHARS = 200
SNAPSHOT_REASON = "memory-manager auto snapshot"
SUMMARY_PROMPT = (
    "Summarize the following conversation entry in at most 200 characters. "
    "Keep names, numbers and decisions. Reply with the summary only."
)


@dataclass(frozen=True, slots=True)
class SummaryResult:
    """A summary for RAM entry ``entry_id``; ``summarizer`` is ``fallback`` for truncation."""

    entry_id: int
    text: str
    summarizer: Literal["llm", "fallback"]


def should_summarize(active_count: int, active_bytes: int, cfg: MemoryConfig) -> bool:
    """Trigger at 3/4 of either hard limit (48 entries or 12288 bytes by default)."""
    return (
        active_count > cfg.max_context_messages * 3 // 4
        or active_bytes > cfg.max_context_bytes * 3 // 4
    )


def pick_victims(ram: Ram, cfg: MemoryConfig) -> list[Entry]:
    """Oldest active entries to summarize now: ≤ ``summaries_per_tick``, never the last one."""
    if not should_summarize(ram.active_count, ram.active_bytes, cfg) or ram.active_count <= 1:
        return []
    return ram.oldest_active(min(cfg.summaries_per_tick, ram.active_count - 1))


def should_snapshot(last_snapshot_s: float | None, now_s: float, min_interval_s: float) -> bool:
    """Archive after a summary unless one was made less than ``min_interval_s`` ago (0 = always)."""
    return last_snapshot_s is None or now_s - last_snapshot_s >= min_interval_s


def event_message(count: int, persisted: bool) -> str:
    """The ``memory.event`` message text for a summarize tick."""
    return f"summarized {count} stale RAM entries" + (
        " and persisted snapshot" if persisted else ""
    )


def truncate_summary(source_id: int, content: str) -> str:
    """M10's truncate summarizer, fixed to cut at a character boundary (D24)."""
    return f"[summary:{source_id}] " + truncate_utf8(content, TRUNCATE_BYTES)


def clean_llm_summary(text: str) -> str:
    """Collapse whitespace and cap at 200 characters."""
    flat = " ".join(text.split())
    if len(flat) > LLM_SUMMARY_CHARS:
        flat = flat[: LLM_SUMMARY_CHARS - 1].rstrip() + "…"
    return flat


class Summarizer:
    """``await summarizer(entry_id, content)`` → ``SummaryResult`` (never raises on LLM failure)."""

    def __init__(
        self,
        provider: Provider | None,
        mode: Literal["auto", "llm", "truncate"] = "auto",
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self.provider = provider
        self.timeout_s = timeout_s
        if mode == "auto":
            uses_llm = provider is not None and provider.type != "mock"
        else:
            uses_llm = mode == "llm" and provider is not None
        self.mode: Literal["llm", "truncate"] = "llm" if uses_llm else "truncate"

    @classmethod
    def from_config(cls, provider: Provider | None, cfg: MemoryConfig) -> Summarizer:
        return cls(provider, cfg.summarizer, timeout_s=cfg.summarizer_timeout_s)

    async def __call__(self, entry_id: int, content: str) -> SummaryResult:
        if self.mode == "llm" and self.provider is not None:
            text = await self._llm(content)
            if text:
                return SummaryResult(entry_id, text, "llm")
        return SummaryResult(entry_id, truncate_summary(entry_id, content), "fallback")

    async def _llm(self, content: str) -> str | None:
        assert self.provider is not None
        messages = [Message.system(SUMMARY_PROMPT), Message.user(content)]
        try:
            completion = await asyncio.wait_for(
                self.provider.complete(messages, Options(temperature=0.0, max_tokens=120)),
                self.timeout_s,
            )
        except (LLMError, TimeoutError):
            return None
        return clean_llm_summary(completion.text) or None
