"""CancelToken from threads, callbacks and asyncio."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from groundwork.proc import Cancelled, CancelToken


def test_cancel_once_with_reason() -> None:
    token = CancelToken()
    assert not token.cancelled and token.reason is None
    assert "active" in repr(token)
    token.raise_if_cancelled()
    assert token.cancel("first")
    assert not token.cancel("second")
    assert token.cancelled and token.reason == "first"
    assert "first" in repr(token)
    with pytest.raises(Cancelled, match="first"):
        token.raise_if_cancelled()


def test_callbacks_run_once_and_can_be_removed() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("a"))
    remove = token.add_callback(lambda: calls.append("b"))
    remove()
    token.cancel()
    token.cancel()
    assert calls == ["a"]
    token.add_callback(lambda: calls.append("late"))  # already cancelled: runs now
    assert calls == ["a", "late"]


def test_failing_callback_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    token = CancelToken()
    seen: list[int] = []

    def bad() -> None:
        raise RuntimeError("observer broke")

    token.add_callback(bad)
    token.add_callback(lambda: seen.append(1))
    with caplog.at_level(logging.ERROR):
        assert token.cancel()
    assert seen == [1]
    assert "observer broke" in caplog.text


def test_wait_from_threads() -> None:
    token = CancelToken()
    assert not token.wait(0.01)
    woke = threading.Event()

    def waiter() -> None:
        if token.wait(30):
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    token.cancel()
    thread.join()
    assert woke.is_set()


async def test_await_raises_cancelled_when_fired_from_a_thread() -> None:
    token = CancelToken()
    threading.Timer(0.05, token.cancel, args=("from thread",)).start()
    with pytest.raises(Cancelled, match="from thread"):
        await token


async def test_await_already_cancelled_and_wait_async() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        await token
    await token.wait_async()  # returns at once


async def test_await_composes_with_task_cancellation() -> None:
    token = CancelToken()
    task = asyncio.ensure_future(token.wait_async())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    token.cancel()  # the removed callback is not called on a dead future
    other = CancelToken()
    waiter = asyncio.ensure_future(other.wait_async())
    await asyncio.sleep(0)
    other.cancel()
    await asyncio.wait_for(waiter, 10)
