"""Token bucket on a fake clock."""

from __future__ import annotations

from spiderweb.clock import FakeClock
from spiderweb.transport.ratelimit import TokenBucket


def test_burst_then_refill() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20, 40, clock)
    assert all(bucket.take() is None for _ in range(40))
    retry = bucket.take()
    assert retry is not None and 0 < retry <= 51
    clock.advance(0.05)
    assert bucket.take() is None
    assert bucket.refused_in_row == 0


def test_exhausted_after_200_refusals_and_zero_rate_is_off() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1, 1, clock)
    bucket.take()
    for _ in range(200):
        assert bucket.take() is not None
    assert bucket.exhausted
    off = TokenBucket(0, 1, clock)
    assert all(off.take() is None for _ in range(1000))
