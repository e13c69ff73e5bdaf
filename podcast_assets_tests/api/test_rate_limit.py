"""Rate limiting: the token bucket, and 429 with Retry-After from a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from podcast_assets.api.keys import KeyStore
from podcast_assets.api.ratelimit import RateLimiter

from .conftest import lakehouse, publish, running_api


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_over_the_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(6, clock=clock)  # one token every 10 s
    assert [limiter.hit("a") for _ in range(6)] == [None] * 6
    assert limiter.hit("a") == 10.0
    assert limiter.hit("b") is None  # callers are independent
    clock.now += 4
    assert limiter.hit("a") == pytest.approx(6.0)
    clock.now += 6
    assert limiter.hit("a") is None
    assert limiter.hit("a") == 10.0


def test_idle_callers_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    for caller in ("a", "b"):
        limiter.hit(caller)
    clock.now += 61
    limiter.hit("c")
    assert limiter.tracked_callers == 1


def test_429_with_retry_after_per_address_and_per_key(tmp_path: Path) -> None:
    settings = lakehouse(tmp_path, per_minute=3)
    publish(settings)
    keys = KeyStore.in_dir(settings.serving_dir)
    first, second = keys.create("pro")[1], keys.create("pro")[1]
    with running_api(settings) as api:
        assert [api.get("/v1/charts/top").status_code for _ in range(3)] == [200, 200, 200]
        limited = api.get("/v1/charts/rising")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20  # one request every 20 s
        assert limited.json() == {"detail": "Too many requests."}

        # Keys have their own budget, independent of the address and of each other.
        assert [api.get("/v1/pro/creators", key=first).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert api.get("/v1/charts/top", key=second).status_code == 200
        # Invalid keys spend the address's budget (already empty): no free guessing.
        assert api.get("/v1/charts/top", key="pa_0_guess").status_code == 429
        # The address is the connection's: a forwarded-for header claims no fresh budget.
        spoofed = [api.client.get("/v1/charts/top", headers={"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(3)]
        assert [r.status_code for r in spoofed] == [429, 429, 429]
