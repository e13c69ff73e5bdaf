"""Per-caller rate limiting: a token bucket per key (or per client address)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``per_minute`` requests a minute to each caller, in bursts of up to
    ``per_minute``; the bucket refills continuously at ``per_minute / 60`` a second.

    State lives in this process: run the API as one process (it is not CPU-bound) or put
    the limit in front of it when scaling out.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("the rate limit must allow at least one request a minute")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)
        self._lock = threading.Lock()
        self._next_sweep = clock() + 60.0

    def hit(self, caller: str) -> float | None:
        """Count one request by ``caller``: None when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            tokens, at = self._buckets.get(caller, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                return (1.0 - tokens) / self._rate
            self._buckets[caller] = (tokens - 1.0, now)
            return None

    @property
    def tracked_callers(self) -> int:
        """Callers currently remembered (idle ones are forgotten once their bucket is full)."""
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        """Forget callers whose bucket has refilled: they are as if never seen."""
        full_after = self._capacity / self._rate
        self._buckets = {c: b for c, b in self._buckets.items() if now - b[1] < full_after}
        self._next_sweep = now + 60.0
