"""A small hand-made gold layer, published to a serving store, behind real uvicorn servers."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl
import pytest
import uvicorn

from podcast_assets.api import KeyStore
from podcast_assets.api.app import server_config
from podcast_assets.serving import publish_serving_store, store_path
from podcast_assets.settings import Settings

# Podcasts: A, B, C have titles; D is estimated but has no catalog entry; E is in the
# catalog but has no estimates yet; F has listens in March but no estimate yet (none of the
# providers' data it would be scaled from has landed).
A = "9b024349-ccf0-5f69-a609-6b82873eab3c"
B = "3c1b9a8e-0d7f-5a44-9f7e-2a1b6c5d4e3f"
C = "5e6f7a8b-9c0d-5e1f-8a2b-3c4d5e6f7a8b"
D = "7a8b9c0d-1e2f-5a3b-8c4d-5e6f7a8b9c0d"
E = "0d1e2f3a-4b5c-5d6e-9f7a-8b9c0d1e2f3a"
F = "1f2e3d4c-5b6a-5978-8877-665544332211"
UNKNOWN = "00000000-0000-5000-8000-000000000000"
JAN, FEB, MAR = dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)


def gold_tables(extra_podcast: str | None = None) -> dict[str, pl.DataFrame]:
    """The gold frames (CONTRACT.md section 4) plus silver ``podcasts``. With
    ``extra_podcast``, March gains one more estimated podcast (a second publishable version)."""
    estimates = [
        # month, guid, observed, estimated, low, high, providers, status
        (JAN, A, 6_000, 12_345.0, 10_000.0, 14_500.0, 5, "final"),
        (JAN, B, 50, 995.0, 700.0, 1_300.0, 5, "final"),
        (JAN, C, 70, 149.5, 100.0, 200.0, 5, "final"),
        (FEB, A, 6_800, 13_560.0, 11_000.0, 16_000.0, 5, "final"),
        (FEB, B, 1_500, 3_046.0, 2_500.0, 3_600.0, 5, "final"),
        (MAR, A, 490_000, 987_654.0, 900_000.0, 1_080_000.0, 3, "preliminary"),
        (MAR, B, 6_250, 12_500.0, 10_000.0, 15_000.0, 3, "preliminary"),
        (MAR, C, 0, 0.4, 0.0, 2.0, 3, "preliminary"),
        (MAR, D, 520, 1_049.99, 800.0, 1_300.0, 3, "preliminary"),
        (MAR, F, 3, None, None, None, 0, "preliminary"),
    ]
    if extra_podcast is not None:
        estimates.append((MAR, extra_podcast, 10, 20.0, 10.0, 30.0, 3, "preliminary"))
    estimate_cols = ["month", "podcast_guid", "observed_listens", "estimated_listens", "estimate_low",
                     "estimate_high", "providers_reporting", "status"]
    trends = [
        # month, guid, estimated, score, rank, rising
        (FEB, A, 13_560.0, 0.10, 2, True),
        (FEB, B, 3_046.0, 1.12, 1, True),
        (MAR, B, 12_500.0, 1.41, 1, True),
        (MAR, D, 1_049.99, 0.50, 2, True),
        (MAR, A, 987_654.0, 0.05, 3, False),
        (MAR, C, 0.4, None, 4, False),
        (MAR, F, None, None, None, False),
    ]
    creators = [
        # month, id, name, appearances, guest appearances, estimated, lift, rank
        (FEB, "https://example.com/ann", "Ann Host", 4, 0, 13_560.0, 1.0, 1),
        (MAR, "https://example.com/ann", "Ann Host", 4, 0, 987_654.0, 1.05, 1),
        (MAR, "bob-guest", "Bob Guest", 1, 1, 12_500.0, 1.8, 2),
        (MAR, "cy", "Cy", 1, 1, 0.4, float("nan"), 3),
    ]
    utc = dt.UTC
    episodes = [
        # guid, episode, published, estimated, low, high, complete
        (A, "a-1", dt.datetime(2025, 1, 3, 6, 0, tzinfo=utc), 40_000.0, 35_000.0, 45_000.0, True),
        (A, "a-2", dt.datetime(2025, 2, 7, 6, 0, tzinfo=utc), 42_000.0, 36_000.0, 47_000.0, True),
        (A, "a-3", dt.datetime(2025, 3, 21, 6, 0, tzinfo=utc), 9_000.0, 7_000.0, 14_000.0, False),
        (B, "https://b.example/ep/1?x=1", dt.datetime(2025, 3, 1, 0, 0, tzinfo=utc), 800.0, 600.0, 1_000.0, False),
        (F, "f-1", dt.datetime(2025, 3, 30, 6, 0, tzinfo=utc), None, None, None, False),
    ]
    return {
        "podcast_monthly_estimates": pl.DataFrame(estimates, schema=estimate_cols, orient="row"),
        "podcast_trends": pl.DataFrame(
            trends, schema=["month", "podcast_guid", "estimated_listens", "trend_score", "trend_rank", "is_rising"],
            orient="row",
        ),
        "creator_popularity": pl.DataFrame(
            creators, schema=["month", "creator_id", "creator_name", "appearances", "guest_appearances",
                              "estimated_listens", "lift", "popularity_rank"], orient="row",
        ),
        "episode_first_30_days": pl.DataFrame(
            episodes, schema=["podcast_guid", "episode_guid", "published_at", "estimated_listens_30d",
                              "estimate_low", "estimate_high", "window_complete"], orient="row",
        ),
        "podcasts": pl.DataFrame(
            [(A, "https://podnews.net/rss", "Podnews"), (B, "https://b.example/feed", "Bee Show"),
             (C, "https://c.example/feed", 'Sea, Shells & "Quotes"'), (E, "https://e.example/feed", "Eee")],
            schema=["podcast_guid", "feed_url", "title"], orient="row",
        ),
    }


def publish(settings: Settings, extra_podcast: str | None = None) -> dict[str, int]:
    return publish_serving_store(gold_tables(extra_podcast), store_path(settings.serving_dir))


@dataclass
class RunningApi:
    """A live server: ``get(path, key=...)`` calls it over loopback."""

    url: str
    settings: Settings
    client: httpx.Client
    keys: dict[str, str] = field(default_factory=dict)  # tier -> key

    def get(self, path: str, key: str | None = None, **params: object) -> httpx.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return self.client.get(path, headers=headers, params=params)


@contextmanager
def running_api(settings: Settings) -> Iterator[RunningApi]:
    """The API under uvicorn as ``podcast-assets api`` runs it, on 127.0.0.1, on a free
    port, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API server did not start"
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            yield RunningApi(url, settings, client)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def lakehouse(root: Path, per_minute: int = 100_000) -> Settings:
    return Settings(lakehouse_dir=str(root), api_rate_limit_per_minute=per_minute)


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """The API over the published hand-made store, with one key of each tier."""
    settings = lakehouse(tmp_path_factory.mktemp("lakehouse"))
    publish(settings)
    keys = KeyStore.in_dir(settings.serving_dir)
    with running_api(settings) as running:
        running.keys = {tier: keys.create(tier)[1] for tier in ("public", "pro", "internal")}
        yield running
