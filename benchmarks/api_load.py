"""Bounded load test of the read API's busiest public route on loopback.

Publishes a synthetic serving store (``--podcasts`` shows over ``--months`` months) into a
temporary lakehouse, starts ``podcast-assets api`` on it in a child process, and drives it
from this process over ``--connections`` concurrent keep-alive HTTP/1.1 connections until
``--requests`` requests are answered or ``--time-limit`` seconds pass. Prints requests/s
and p50/p99 latency; exits 1 when a response was not 200.

    python benchmarks/api_load.py [--requests 20000] [--connections 8] [--route /v1/charts/top]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from podcast_assets.api import serve
from podcast_assets.serving import publish_serving_store, store_path
from podcast_assets.settings import Settings


def synthetic_gold(podcasts: int, months: int) -> dict[str, pl.DataFrame]:
    """Gold-shaped frames: ``podcasts`` shows over ``months`` months, ten episodes each."""
    guids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://feeds.example/{i}")) for i in range(podcasts)]
    starts = [dt.date(2025 + m // 12, m % 12 + 1, 1) for m in range(months)]
    grid = pl.DataFrame({"podcast_guid": guids, "base": [1_000_000 / (i + 1) for i in range(podcasts)]}).join(
        pl.DataFrame({"month": starts, "step": range(months)}), how="cross"
    )
    listens = pl.col("base") * (1 + 0.03 * pl.col("step")) * (1 + (pl.col("podcast_guid").hash() % 100) / 1000)
    estimates = grid.select(
        "month", "podcast_guid",
        (listens / 2).cast(pl.Int64).alias("observed_listens"),
        listens.alias("estimated_listens"),
        (listens * 0.9).alias("estimate_low"),
        (listens * 1.1).alias("estimate_high"),
        pl.lit(5).alias("providers_reporting"),
        pl.when(pl.col("step") == months - 1).then(pl.lit("preliminary")).otherwise(pl.lit("final")).alias("status"),
    )
    trends = estimates.select(
        "month", "podcast_guid", "estimated_listens",
        (pl.col("podcast_guid").hash() % 1000 / 100.0).alias("trend_score"),
    ).with_columns(
        pl.col("trend_score").rank("ordinal", descending=True).over("month").cast(pl.Int64).alias("trend_rank"),
    ).with_columns((pl.col("trend_rank") <= 50).alias("is_rising"))
    creators = pl.DataFrame({"creator_id": [f"creator-{i}" for i in range(podcasts // 2)]}).join(
        pl.DataFrame({"month": starts}), how="cross"
    ).with_columns(
        pl.col("creator_id").str.to_titlecase().alias("creator_name"),
        pl.lit(4).alias("appearances"), pl.lit(1).alias("guest_appearances"),
        pl.lit(50_000.0).alias("estimated_listens"), pl.lit(1.1).alias("lift"),
        pl.col("creator_id").rank("ordinal").over("month").cast(pl.Int64).alias("popularity_rank"),
    )
    episodes = pl.DataFrame({"podcast_guid": guids}).join(pl.DataFrame({"n": range(10)}), how="cross").select(
        "podcast_guid",
        pl.format("ep-{}", "n").alias("episode_guid"),
        (pl.lit(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) + pl.duration(days=pl.col("n") * 20)).alias("published_at"),
        pl.lit(10_000.0).alias("estimated_listens_30d"), pl.lit(8_000.0).alias("estimate_low"),
        pl.lit(12_000.0).alias("estimate_high"), pl.lit(True).alias("window_complete"),
    )
    titles = pl.DataFrame({
        "podcast_guid": guids,
        "feed_url": [f"https://feeds.example/{i}" for i in range(podcasts)],
        "title": [f"Show number {i}" for i in range(podcasts)],
    })
    return {"podcast_monthly_estimates": estimates, "podcast_trends": trends, "creator_popularity": creators,
            "episode_first_30_days": episodes, "podcasts": titles}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_quietly(settings: Settings, port: int) -> None:
    """``serve`` with its output (one access-log line a request) sent to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    serve(settings, port=port)


@contextlib.contextmanager
def api_server(settings: Settings, port: int) -> Iterator[None]:
    """``serve(settings)`` in a child process, until the block ends."""
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_quietly, args=(settings, port), daemon=True
    )
    process.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not process.is_alive():
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.join(10)


@dataclass
class Load:
    total: int
    deadline: float
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def claim(self) -> bool:
        """Whether one more request may be sent."""
        if self.sent >= self.total or time.perf_counter() >= self.deadline:
            return False
        self.sent += 1
        return True


async def _connection(load: Load, port: int, route: str) -> None:
    """One keep-alive connection sending requests back to back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {route} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n".encode()
    try:
        while load.claim():
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            load.latencies.append(time.perf_counter() - started)
            load.statuses[status] = load.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def drive(port: int, route: str, requests: int, connections: int, time_limit: float) -> tuple[Load, float]:
    load = Load(total=requests, deadline=time.perf_counter() + time_limit)
    started = time.perf_counter()
    await asyncio.gather(*(_connection(load, port, route) for _ in range(connections)))
    return load, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests to send (after warm-up)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--time-limit", type=float, default=60.0, help="stop sending after this many seconds")
    parser.add_argument("--route", default="/v1/charts/top?limit=20", help="route to load")
    parser.add_argument("--podcasts", type=int, default=5_000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as root:
        # The limit is per caller and all load comes from one address: lift it.
        settings = Settings(lakehouse_dir=root, api_rate_limit_per_minute=10**9)
        counts = publish_serving_store(synthetic_gold(args.podcasts, args.months), store_path(settings.serving_dir))
        print(f"serving store: {counts['podcast_monthly_estimates']:,} monthly estimates")
        port = _free_port()
        with api_server(settings, port):
            asyncio.run(drive(port, args.route, 200, args.connections, 30))  # warm-up
            load, elapsed = asyncio.run(drive(port, args.route, args.requests, args.connections, args.time_limit))

    latencies = sorted(load.latencies)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"route {args.route}: {len(latencies):,} requests over {args.connections} connections in {elapsed:.2f} s")
    print(f"statuses {dict(sorted(load.statuses.items()))}")
    print(
        f"{len(latencies) / elapsed:,.0f} requests/s   p50 {p50:.2f} ms   p99 {p99:.2f} ms"
        f"   max {latencies[-1] * 1000:.2f} ms"
    )
    return 0 if set(load.statuses) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
