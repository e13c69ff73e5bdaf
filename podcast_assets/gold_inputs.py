"""What the gold estimators read (silver listens for a span of months, what has landed,
the providers' market shares, the catalog), and the per-month computations that the gold
assets and the settling check (``settling.py``) share."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from podcast_assets.estimators import (
    CREATOR_SCHEMA,
    FIRST30_MONTHS,
    FIRST30_SCHEMA,
    MONTHLY_SCHEMA,
    TREND_SCHEMA,
    estimate_first_30_days,
    estimate_monthly,
)
from podcast_assets.estimators.common import ProviderInfo, add_months
from podcast_assets.identity import resolve_feed_urls
from podcast_assets.identity_sync import read_feed_map
from podcast_assets.providers.specs import PROVIDERS
from podcast_assets.schemas import empty_frame, silver_listens_schema
from podcast_assets.settings import Settings
from podcast_assets.storage import delta, ledger

COVERAGE_SCHEMA = {"provider": pl.String, "period_start": pl.Date, "period_grain": pl.String}
GOLD_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "podcast_monthly_estimates": MONTHLY_SCHEMA,
    "episode_first_30_days": {**FIRST30_SCHEMA, "month": pl.Date()},  # (the month of publication)
    "podcast_trends": TREND_SCHEMA,
    "creator_popularity": CREATOR_SCHEMA,
}
"""Each gold table's columns and types: what a table not written yet reads as."""


def provider_infos(settings: Settings) -> list[ProviderInfo]:
    return [ProviderInfo(s.name, s.cadence, s.grain, settings.market_shares[s.name]) for s in PROVIDERS]


def coverage(settings: Settings, as_of: date) -> pl.DataFrame:
    """One row per provider and period whose data has landed. Files: a period with an
    ingested delivery. Instant feeds: every day that ended ``late_event_grace_days``
    before ``as_of`` (late events may still come until then; a quiet day is still a day)."""
    entries = ledger.read(settings)
    files = (
        entries.filter((pl.col("status") == "ingested") & pl.col("period_start").is_not_null()
                       & pl.col("provider").is_in([s.name for s in PROVIDERS if s.cadence != "instant"]))
        .select("provider", "period_start", "period_grain")
        .unique()
    )
    last_day = as_of - timedelta(days=settings.late_event_grace_days + 1)
    days = pl.date_range(settings.data_start, last_day, "1d", eager=True) if last_day >= settings.data_start else pl.Series([], dtype=pl.Date)
    instant = [
        pl.DataFrame({"provider": s.name, "period_start": days, "period_grain": "day"}, schema=COVERAGE_SCHEMA)
        for s in PROVIDERS if s.cadence == "instant"
    ]
    return pl.concat([files.cast(COVERAGE_SCHEMA), *instant]).sort("provider", "period_start")


def silver_listens(settings: Settings, start: date, end: date, *, unmapped: bool = False) -> pl.DataFrame:
    """Mapped silver listens with ``start <= period_start < end``; with ``unmapped``, also
    those whose show is not mapped to a podcast yet (null ``podcast_guid``)."""
    window = delta.in_window("period_start", start, end)
    return delta.read(
        settings.delta("silver", "listens"),
        window if unmapped else window & pl.col("podcast_guid").is_not_null(),
        empty_frame(silver_listens_schema()).schema,
    )


def episodes(settings: Settings) -> pl.DataFrame:
    """Episodes with their publication time: the catalog's, plus those only ember knows
    (its rows carry ``episode.published``) for episodes the catalog lacks."""
    schema = {"podcast_guid": pl.String, "episode_guid": pl.String, "published_at": pl.Datetime("us", "UTC")}
    catalog = delta.read(settings.delta("silver", "episodes"), schema=schema).select(list(schema))
    ember = delta.read(settings.delta("bronze", "ember"))
    if ember.is_empty():
        return catalog
    feed_map = read_feed_map(settings)
    extra = ember.select("feed_url", "episode_guid", pl.col("episode_published").alias("published_at")).unique(
        ["feed_url", "episode_guid"], keep="first", maintain_order=True
    )
    extra = extra.with_columns(resolve_feed_urls(extra.get_column("feed_url"), feed_map).alias("podcast_guid"))
    return pl.concat([catalog, extra.select(list(schema)).join(catalog, on=["podcast_guid", "episode_guid"], how="anti")])


def gold_table(settings: Settings, name: str, start: date, end: date) -> pl.DataFrame:
    """Rows of a gold table for the months ``[start, end)`` (none, with its columns, before
    the table is first written: the catalog may land before any listens)."""
    return delta.read(settings.delta("gold", name), delta.in_window("month", start, end), GOLD_SCHEMAS[name])


def credits(settings: Settings) -> pl.DataFrame:
    return delta.read(
        settings.delta("silver", "episode_credits"),
        schema={"podcast_guid": pl.String, "episode_guid": pl.String, "creator_id": pl.String,
                "creator_name": pl.String, "role": pl.String, "is_guest": pl.Boolean},
    )


def month_estimates(settings: Settings, month: date, today: date, coverage: pl.DataFrame,
                    providers: list[ProviderInfo]) -> pl.DataFrame:
    """``podcast_monthly_estimates`` rows of ``month`` as of ``today`` (unmapped listens
    keep the month preliminary)."""
    listens = silver_listens(settings, month, add_months(month, 1), unmapped=True)
    return estimate_monthly(listens, coverage, providers, month, today)


def month_first30(settings: Settings, month: date, today: date, coverage: pl.DataFrame,
                  providers: list[ProviderInfo], catalog: pl.DataFrame) -> pl.DataFrame:
    """``episode_first_30_days`` rows of the episodes published in ``month``, as of ``today``."""
    listens = silver_listens(settings, month, add_months(month, FIRST30_MONTHS))
    return estimate_first_30_days(listens, coverage, providers, catalog, month, today).with_columns(
        pl.lit(month).alias("month")
    )
