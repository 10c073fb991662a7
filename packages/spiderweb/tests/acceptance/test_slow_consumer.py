"""Acceptance 19: while one client stops reading, the others keep chatting concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

from spiderweb.client import SpiderwebClient
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

CLOSE_TRY_AGAIN_LATER = 1013


async def test_slow_consumer_closed_1013_while_others_get_every_reply(
    make_server: Any, config_factory: Any
) -> None:
    server = await make_server(config_factory(limits={"outbox_frames": 8, "rate_per_s": 0}))
    async with SpiderwebClient(server.url, session="slow") as setup:
        for i in range(30):  # a history worth flooding with
            await setup.chat(f"{i} " + "x" * 4000, timeout=10)
    others = [SpiderwebClient(server.url, session=f"ok{n}") for n in range(3)]
    for c in others:
        await c.connect()
    stop = asyncio.Event()

    async def chat_on(client: SpiderwebClient) -> int:
        turns = 0
        while not stop.is_set() or turns < 5:
            frames = await client.chat(f"turn {turns}", timeout=20)
            assert frames[-1]["type"] == "session.receive", frames[-1]
            turns += 1
        return turns

    chatting = [asyncio.create_task(chat_on(c)) for c in others]
    url = server.url + "/v1/agents/a/stream?session=slow"
    async with ws_connect(url, max_queue=1, compression=None) as slow:
        await asyncio.wait_for(slow.recv(), 10)  # the ack: attached, link set
        actor = server.registry.get("slow")
        assert actor is not None and actor.link is not None
        link = actor.link
        code = None
        try:
            for _ in range(400):  # never read: the server's outbox for it fills
                if link.outbox.close_code == CLOSE_TRY_AGAIN_LATER:
                    break  # stop writing so the close handshake can reach us
                await slow.send('{"type":"session.history","limit":500}')
                await asyncio.sleep(0)
            for _ in range(3000):  # the server decides; under load it may take a while
                if link.outbox.close_code is not None:
                    break
                await asyncio.sleep(0.01)
            assert link.outbox.close_code == CLOSE_TRY_AGAIN_LATER
            while True:
                await asyncio.wait_for(slow.recv(), 30)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        assert code == CLOSE_TRY_AGAIN_LATER
    stop.set()
    counts = await asyncio.wait_for(asyncio.gather(*chatting), 60)
    assert all(n >= 5 for n in counts)
    for c in others:
        assert c.ws is not None and c.ws.close_code is None  # still open
        await c.close()
