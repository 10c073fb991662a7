"""pytest plugin: ``pytest_plugins = ["groundwork.llm.fake.pytest_plugin"]`` in a conftest.

Provides ``fake_llm``, a started ``FakeLLMServer`` per test, stopped (hangs
released, threads joined) when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from groundwork.llm.fake.server import FakeLLMServer


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fake OpenAI/Anthropic/Ollama server on 127.0.0.1:<ephemeral>, no key required."""
    server = FakeLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
