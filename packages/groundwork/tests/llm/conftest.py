"""Shared helpers for the provider tests: a provider of each HTTP kind on the fake server."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from groundwork.llm.base import Provider
from groundwork.llm.factory import ProviderSpec, make_provider
from groundwork.llm.fake import FakeLLMServer
from groundwork.llm.types import Delta, Done, Message, Timeouts

KEY = "sk-test-0123456789abcdefWXYZ"
HTTP_KINDS = ["openai", "openai-compatible", "anthropic", "ollama"]
MSGS = [Message.system("You are terse."), Message.user("Summarise src/app.py in one line")]
FAST = Timeouts(connect_s=2.0, total_s=5.0, first_token_s=5.0, idle_s=5.0)


def base_url_for(kind: str, fake: FakeLLMServer) -> str:
    """openai-compatible gets the bare URL (no /v1) to prove it is added."""
    return {
        "openai": fake.openai_base_url,
        "openai-compatible": fake.url,
        "anthropic": fake.anthropic_base_url,
        "ollama": fake.ollama_base_url,
    }[kind]


def spec_for(
    kind: str, fake: FakeLLMServer, timeouts: Timeouts = FAST, base_url: str | None = None
) -> ProviderSpec:
    return ProviderSpec(
        type=kind,
        model="test-model",
        base_url=base_url or base_url_for(kind, fake),
        api_key=KEY if kind in ("openai", "anthropic") else None,
        timeouts=timeouts,
    )


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drain(p: Provider, msgs: list[Message] = MSGS) -> tuple[list[str], Done]:
    deltas: list[str] = []
    done: Done | None = None
    async for ev in p.stream(msgs):
        if isinstance(ev, Delta):
            assert done is None, "no delta after Done"
            deltas.append(ev.text)
        else:
            assert done is None, "exactly one Done"
            done = ev
    assert done is not None
    return deltas, done


@pytest.fixture(params=HTTP_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def provider(kind: str, fake_llm: FakeLLMServer) -> AsyncIterator[Provider]:
    p = make_provider(spec_for(kind, fake_llm))
    yield p
    await p.aclose()


class SplitStream(httpx.AsyncByteStream):
    """A response body delivered in exactly the given pieces (cuts mid-line, mid-UTF-8)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def split_transport(body: bytes, cuts: list[int], content_type: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": content_type},
            stream=SplitStream(split_at(body, cuts)),
        )

    return httpx.MockTransport(handler)


@pytest.fixture(autouse=True)
def _fake_server_never_crashes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Any test using ``fake_llm`` also proves no handler crashed (bugs, not disconnects)."""
    fake: FakeLLMServer | None = None
    if "fake_llm" in request.fixturenames:
        fake = request.getfixturevalue("fake_llm")  # torn down after this fixture
    yield
    if fake is not None:
        assert fake.errors == []
