"""Shared fixtures: a real server on 127.0.0.1 port 0 with the mock provider, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from groundwork.llm.fake.pytest_plugin import fake_llm
from spiderweb.api import SpiderwebServer
from spiderweb.client import SpiderwebClient
from spiderweb.config import SpiderwebConfig

__all__ = ["fake_llm"]

ServerFactory = Callable[..., Awaitable[SpiderwebServer]]
ClientFactory = Callable[..., Awaitable[SpiderwebClient]]


def make_config(**sections: dict[str, Any]) -> SpiderwebConfig:
    """Test config: mock provider, ephemeral port, plus per-section overrides."""
    raw: dict[str, Any] = {"provider": {"name": "mock"}, "server": {"port": 0}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return SpiderwebConfig.model_validate(raw)


@pytest.fixture
def config_factory() -> Callable[..., SpiderwebConfig]:
    """``make_config`` for tests in sub-directories (they cannot import this module)."""
    return make_config


@pytest.fixture
async def make_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    started: list[SpiderwebServer] = []

    async def factory(
        config: SpiderwebConfig | None = None, data_dir: Path | None = None, **kw: Any
    ) -> SpiderwebServer:
        server = SpiderwebServer(config or make_config(), data_dir=data_dir or tmp_path, **kw)
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        if server.gateway is not None or server.registry is not None:
            await server.stop(grace_s=0)


@pytest.fixture
async def server(make_server: ServerFactory) -> SpiderwebServer:
    return await make_server()


@pytest.fixture
async def connect(server: SpiderwebServer) -> AsyncIterator[ClientFactory]:
    clients: list[SpiderwebClient] = []

    async def factory(target: SpiderwebServer | None = None, **kw: Any) -> SpiderwebClient:
        srv = target or server
        client = SpiderwebClient(srv.url, **kw)
        await client.connect()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
