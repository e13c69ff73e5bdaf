"""Small builders for the estimators' input frames, so tests read as data."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import polars as pl

from podcast_assets.estimators import ProviderInfo

LISTENS_SCHEMA = {
    "provider": pl.String,
    "podcast_guid": pl.String,
    "episode_guid": pl.String,
    "period_start": pl.Date,
    "period_grain": pl.String,
    "listens": pl.Int64,
}
COVERAGE_SCHEMA = {"provider": pl.String, "period_start": pl.Date, "period_grain": pl.String}

FIVE = [
    ProviderInfo("aurora", "instant", "episode"),
    ProviderInfo("boreal", "daily", "episode"),
    ProviderInfo("cirrus", "daily", "podcast"),
    ProviderInfo("dune", "monthly", "podcast"),
    ProviderInfo("ember", "monthly", "episode"),
]


def days(start: date, end: date) -> list[date]:
    """Every date in ``[start, end]``."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def listens(rows: Iterable[tuple[str, str | None, str | None, date, str, int]]) -> pl.DataFrame:
    """Silver listens from (provider, podcast, episode, period_start, grain, listens)."""
    return pl.DataFrame(list(rows), schema=LISTENS_SCHEMA, orient="row")


def coverage(rows: Iterable[tuple[str, date, str]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=COVERAGE_SCHEMA, orient="row")


def daily_coverage(provider: str, start: date, end: date) -> list[tuple[str, date, str]]:
    return [(provider, d, "day") for d in days(start, end)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def episodes(rows: Iterable[tuple[str, str, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        list(rows),
        schema={"podcast_guid": pl.String, "episode_guid": pl.String, "published_at": pl.Datetime("us", "UTC")},
        orient="row",
    )


def shuffled(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)
