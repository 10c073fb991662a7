"""Outbox: FIFO delivery by one writer, droppable frames go first, overflow closes 1013."""

from __future__ import annotations

import asyncio

from spiderweb.transport.outbox import CLOSE_TRY_AGAIN_LATER, Outbox


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: str) -> None:
        await self.gate.wait()
        self.sent.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


async def test_frames_are_sent_in_order() -> None:
    sock = RecordingSocket()
    box = Outbox(8)
    task = box.start(sock)
    for i in range(5):
        assert box.put(str(i))
    for _ in range(100):
        if len(sock.sent) == 5:
            break
        await asyncio.sleep(0)
    assert sock.sent == ["0", "1", "2", "3", "4"]
    await box.aclose()
    assert task.done()


async def test_overflow_drops_heartbeats_first_then_closes_1013() -> None:
    sock = RecordingSocket()
    sock.gate.clear()  # a client that stopped reading
    box = Outbox(3)
    task = box.start(sock)
    assert box.put("hb1", droppable=True)
    await asyncio.sleep(0)  # writer takes hb1 and blocks in send
    assert box.put("a") and box.put("hb2", droppable=True) and box.put("b")
    assert box.put("c")  # hb2 is dropped to make room
    assert box.dropped == 1
    assert not box.put("hb3", droppable=True)  # nothing droppable queued: the new one goes
    assert not box.put("d")  # overflow of real frames: close
    assert box.close_code == CLOSE_TRY_AGAIN_LATER
    await box.wait_closed(5)  # the stuck send is abandoned, the close still happens
    assert task.done()
    assert sock.closed is not None and sock.closed[0] == CLOSE_TRY_AGAIN_LATER
    assert not box.put("late")
