"""Per-connection token bucket (spec §3): ``rate_per_s`` refill, ``burst`` capacity, 0 = off."""

from __future__ import annotations

from spiderweb.clock import Clock

#: Consecutive refused frames after which the connection is closed 1008.
MAX_CONSECUTIVE_REFUSED = 200


class TokenBucket:
    """Admit a frame if a token is left; otherwise say how long until one is."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate", "refused_in_row")

    def __init__(self, rate_per_s: float, burst: int, clock: Clock) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()
        self.refused_in_row = 0

    def take(self) -> int | None:
        """``None`` if admitted, else the ms until the next token (``retryAfterMs``)."""
        if self.rate <= 0:
            return None
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.refused_in_row = 0
            return None
        self.refused_in_row += 1
        return max(1, int((1.0 - self._tokens) / self.rate * 1000) + 1)

    @property
    def exhausted(self) -> bool:
        """True once 200 frames in a row were refused: the client ignores ``rate_limited``."""
        return self.refused_in_row >= MAX_CONSECUTIVE_REFUSED
