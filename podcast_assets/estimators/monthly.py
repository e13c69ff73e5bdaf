"""Market-wide monthly listens per podcast (``delta/gold/podcast_monthly_estimates``).

Each provider's count of a podcast is a sample of its whole market with a known share, so
the market is the providers' summed counts over their summed shares. A daily or instant
provider whose month is incomplete is projected from the days it has, weighting days by
the weekday profile; a monthly provider whose file has not landed is left out of both sums.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import polars as pl

from podcast_assets.estimators.common import (
    ProviderInfo,
    add_months,
    check_known_providers,
    combine_providers,
    covered_days,
    covered_months,
    days_between,
    providers_frame,
    weekday_weights,
    with_weekday_weight,
)

MONTHLY_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "podcast_guid": pl.String(),
    "observed_listens": pl.Int64(),
    "estimated_listens": pl.Float64(),
    "estimate_low": pl.Float64(),
    "estimate_high": pl.Float64(),
    "providers_reporting": pl.Int32(),
    "status": pl.String(),
    "providers_in_estimate": pl.Int32(),
    "coverage": pl.Float64(),
    "projection_sd": pl.Float64(),
    "share_sd": pl.Float64(),
}
MONTHLY_COLUMNS = tuple(MONTHLY_SCHEMA)


def provider_month_fractions(
    coverage: pl.DataFrame, info: pl.DataFrame, weights: pl.DataFrame, month: date
) -> pl.DataFrame:
    """provider, observed_fraction, complete: for every provider, the weekday-weighted
    fraction of ``month`` whose data has landed (1 or 0 for monthly providers) and whether
    all of it has."""
    end = add_months(month, 1)
    month_days = pl.DataFrame(days_between(month, end))
    landed_days = covered_days(coverage, info).with_columns(pl.lit(True).alias("covered"))
    daily = (
        info.filter(pl.col("daily"))
        .select("provider")
        .join(with_weekday_weight(month_days, weights), how="cross")
        .join(landed_days, on=["provider", "day"], how="left")
        .group_by("provider")
        .agg(
            (pl.col("weekday_weight").filter(pl.col("covered")).sum() / pl.col("weekday_weight").sum()).alias(
                "observed_fraction"
            ),
            pl.col("covered").fill_null(False).all().alias("complete"),
        )
    )
    landed = covered_months(coverage, info).filter(pl.col("month") == month)
    monthly = info.filter(~pl.col("daily")).select(
        "provider",
        pl.col("provider").is_in(landed["provider"].implode()).alias("complete"),
    ).with_columns(pl.col("complete").cast(pl.Float64).alias("observed_fraction"))
    return pl.concat([daily, monthly.select(daily.columns)])


def estimate_monthly(
    listens: pl.DataFrame,
    coverage: pl.DataFrame,
    providers: Iterable[ProviderInfo],
    month: date,
    as_of: date,
) -> pl.DataFrame:
    """One row per podcast with listens in ``month`` (columns ``MONTHLY_COLUMNS``).

    - ``observed_listens``: every listen our providers counted for it this month (all
      silver rows, including days not yet counted as landed).
    - ``estimated_listens``: market-wide listens, sum(count_i) / sum(share_i) over the
      providers whose data for the month has (at least partly) landed; a provider that
      landed but saw none of this podcast's listens counts 0. Daily/instant counts are
      projected to the whole month: count on landed days / weekday-weighted landed fraction
      (never less than all the listens it sent). Never below ``observed_listens``.
    - ``estimate_low``/``estimate_high``: a 90% interval (share spread + Poisson +
      projection; see ``combine_providers``), never below ``observed_listens``.
    - ``providers_reporting``: providers in the estimate that counted listens for it.
    - ``status``: ``final`` when ``as_of`` is past the month, every provider's data for
      every day (or the month) has landed and none of the month's listens waits for its
      show to be mapped (rows with a null ``podcast_guid``: once mapped, they change
      some podcast's estimate), else ``preliminary``.
    - extras: ``providers_in_estimate`` (zeros included), ``coverage`` (the share-weighted
      fraction of the expected sample that has landed, 1.0 when final),
      ``projection_sd`` (relative sd added by projecting unlanded days; 0 when none are
      projected) and ``share_sd`` (the month's fitted between-provider share spread).

    A podcast whose listens all come from providers with nothing landed for the month has
    null estimates (nothing to scale yet), even when other providers have landed and
    delivered no row for it.
    """
    end = add_months(month, 1)
    info = providers_frame(providers)
    rows = listens.filter(pl.col("period_start").is_between(month, end, closed="left"))
    check_known_providers(rows, info)
    mapped = rows.filter(pl.col("podcast_guid").is_not_null())
    month_coverage = coverage.filter(pl.col("period_start").is_between(month, end, closed="left"))
    weights = weekday_weights(mapped, month_coverage, info)
    fractions = provider_month_fractions(month_coverage, info, weights, month)
    waiting = mapped.height < rows.height  # listens that will change the estimates once mapped
    status = "final" if as_of >= end and fractions["complete"].all() and not waiting else "preliminary"

    landed = pl.concat(
        [
            covered_days(month_coverage, info).rename({"day": "period_start"}),
            covered_months(month_coverage, info).rename({"month": "period_start"}),
        ]
    ).with_columns(pl.lit(True).alias("landed"))
    counts = (
        mapped.join(landed, on=["provider", "period_start"], how="left")
        .group_by("provider", "podcast_guid")
        .agg(
            pl.col("listens").sum().alias("sent"),
            pl.col("listens").filter(pl.col("landed").fill_null(False)).sum().alias("on_landed"),
        )
    )
    podcasts = mapped.select("podcast_guid").unique()
    per_provider = (
        podcasts.join(fractions.filter(pl.col("observed_fraction") > 0), how="cross")
        .join(info.select("provider", "share"), on="provider")
        .join(counts, on=["provider", "podcast_guid"], how="left")
        .with_columns(pl.col("sent").is_not_null().alias("delivered"), pl.col("sent", "on_landed").fill_null(0))
        .with_columns(
            pl.max_horizontal(pl.col("on_landed") / pl.col("observed_fraction"), pl.col("sent").cast(pl.Float64)).alias(
                "count"
            ),
            pl.lit(True).alias("sampled"),
        )
    )
    estimates = combine_providers(per_provider, ["podcast_guid"])
    reporting = per_provider.group_by("podcast_guid").agg(
        (pl.col("sent") > 0).sum().alias("providers_reporting"), pl.col("delivered").any().alias("in_estimate")
    )
    observed = mapped.group_by("podcast_guid").agg(pl.col("listens").sum().cast(pl.Int64).alias("observed_listens"))
    obs = pl.col("observed_listens").cast(pl.Float64)
    estimate = pl.max_horizontal(pl.col("estimated_listens"), obs)
    # Only what a provider in the estimate delivered for the podcast (a 0 included) is
    # scaled: when none did (its listens all came from providers with nothing landed yet),
    # there is nothing to scale. (This also keeps max_horizontal, which skips nulls, from
    # filling a missing estimate.)
    known = pl.col("estimated_listens").is_not_null() & pl.col("in_estimate").fill_null(False)
    return (
        observed.join(estimates, on="podcast_guid", how="left")
        .join(reporting, on="podcast_guid", how="left")
        .with_columns(
            pl.lit(month).alias("month"),
            pl.when(known).then(estimate).alias("estimated_listens"),
            pl.when(known).then(pl.max_horizontal(pl.col("estimate_low"), obs)).alias("estimate_low"),
            pl.when(known).then(pl.max_horizontal(pl.col("estimate_high"), estimate)).alias("estimate_high"),
            pl.col("providers_reporting").fill_null(0).cast(pl.Int32),
            pl.col("providers_in_estimate").fill_null(0).cast(pl.Int32),
            pl.lit(status).alias("status"),
            (pl.col("effective_share").fill_null(0.0) / info["share"].sum()).alias("coverage"),
        )
        .select(MONTHLY_COLUMNS)
        .sort("podcast_guid")
    )
