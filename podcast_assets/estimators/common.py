"""Pieces every estimator shares: provider descriptions, calendar helpers, the weekday
profile, and the last step of every market estimate: scale the providers' counts to the
whole market and attach a calibrated 90% interval (``combine_providers``).

The formulas are written up in ``docs/methodology.md``; the names below follow it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import polars as pl

Cadence = Literal["instant", "daily", "monthly"]
Grain = Literal["episode", "podcast"]

Z90 = 1.6448536269514722
"""Standard-normal quantile of a two-sided 90% interval (each tail 5%)."""

SHARE_SD_PRIOR = 0.25
"""Prior guess of how much one provider's share of a given podcast (or episode) varies
around its configured share, as a relative standard deviation (25%). Each month the spread
of the providers' scaled estimates replaces it; the prior only matters when few podcasts
have two or more providers reporting."""

SHARE_PRIOR_DF = 20.0
"""Weight of ``SHARE_SD_PRIOR``, in degrees of freedom (one podcast with k providers
reporting brings k - 1)."""

PROJECTION_CV = 0.15
"""Scale of the error of projecting a period (month, episode window) from the part of it
that has landed, fraction ``f``: relative sd ``PROJECTION_CV * sqrt((1 - f) / f)``, the
form of the error of a total extrapolated from a sample of its days (15% at half the
period landed, 30% at a fifth). Calibrated on the synthetic market: preliminary months
from day 2 to day 28 get 88-98% interval coverage."""

WEEKDAY_PRIOR_DAYS = 1.0
"""The weekday profile is shrunk toward a flat week as if each weekday had this many
extra days at exactly the average level."""

WEEKDAY_FIT_ROUNDS = 10
"""Rounds of the alternating fit of provider level x weekday factor (exact after one
when every provider has whole weeks, to 1e-12 within ten otherwise)."""


@dataclass(frozen=True)
class ProviderInfo:
    """What an estimator needs to know about a provider.

    ``share`` is the provider's expected fraction of every podcast's market-wide listens
    (its mean over podcasts, not its median); ``cadence`` says how data arrives and
    ``grain`` whether rows name episodes or only podcasts.
    """

    name: str
    cadence: Cadence
    grain: Grain
    share: float = 0.10

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"share of {self.name} must be in (0, 1], got {self.share}")


def providers_frame(providers: Iterable[ProviderInfo]) -> pl.DataFrame:
    """provider, share, daily (data per day: instant or daily cadence), episode_grain."""
    rows = list(providers)
    return pl.DataFrame(
        {
            "provider": [p.name for p in rows],
            "share": [float(p.share) for p in rows],
            "daily": [p.cadence != "monthly" for p in rows],
            "episode_grain": [p.grain == "episode" for p in rows],
        },
        schema={"provider": pl.String, "share": pl.Float64, "daily": pl.Boolean, "episode_grain": pl.Boolean},
    )


def check_known_providers(listens: pl.DataFrame, info: pl.DataFrame) -> None:
    """Refuse listens from a provider we have no share for: they could not be scaled."""
    unknown = set(listens["provider"].unique().to_list()) - set(info["provider"].to_list())
    if unknown:
        raise ValueError(f"listens from providers without a ProviderInfo: {sorted(unknown)}")


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after ``month``'s."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def days_between(start: date, end: date) -> pl.Series:
    """Every date in ``[start, end)`` as a Series named ``day``."""
    if end <= start:
        return pl.Series("day", [], dtype=pl.Date)
    return pl.date_range(start, end, interval="1d", closed="left", eager=True).alias("day")


def covered_days(coverage: pl.DataFrame, info: pl.DataFrame) -> pl.DataFrame:
    """provider, day: the days whose data has landed, for providers that deliver by day."""
    return (
        coverage.filter(pl.col("period_grain") == "day")
        .join(info.filter(pl.col("daily")).select("provider"), on="provider")
        .select("provider", pl.col("period_start").alias("day"))
        .unique()
    )


def covered_months(coverage: pl.DataFrame, info: pl.DataFrame) -> pl.DataFrame:
    """provider, month: the months whose file has landed, for monthly providers."""
    return (
        coverage.filter(pl.col("period_grain") == "month")
        .join(info.filter(~pl.col("daily")).select("provider"), on="provider")
        .select("provider", pl.col("period_start").alias("month"))
        .unique()
    )


def weekday_weights(listens: pl.DataFrame, coverage: pl.DataFrame, info: pl.DataFrame) -> pl.DataFrame:
    """weekday (1 = Monday .. 7), weekday_weight: how busy each weekday is relative to an
    average day (mean 1 over the week), from the daily providers' totals on their covered
    days.

    Model: total listens of provider ``i`` on day ``d`` = level_i * weight(weekday(d)),
    fitted by alternating ratio estimates (a Poisson fit), then shrunk toward 1 by
    ``WEEKDAY_PRIOR_DAYS`` per weekday. Without any daily data the week is flat.
    """
    days = covered_days(coverage, info)
    daily_listens = (
        listens.filter(pl.col("period_grain") == "day")
        .group_by("provider", pl.col("period_start").alias("day"))
        .agg(pl.col("listens").sum().cast(pl.Float64))
    )
    totals = (
        days.join(daily_listens, on=["provider", "day"], how="left")
        .with_columns(pl.col("listens").fill_null(0.0), pl.col("day").dt.weekday().alias("weekday"))
        .filter(pl.col("listens").sum().over("provider") > 0)
    )
    week = pl.DataFrame({"weekday": pl.int_range(1, 8, eager=True).cast(pl.Int8)})
    fitted = week.with_columns(pl.lit(1.0).alias("w"))
    for _ in range(WEEKDAY_FIT_ROUNDS):
        level = (
            totals.join(fitted, on="weekday")
            .group_by("provider")
            .agg((pl.col("listens").sum() / pl.col("w").sum()).alias("level"))
        )
        fitted = (
            totals.join(level, on="provider")
            .group_by("weekday")
            .agg((pl.col("listens").sum() / pl.col("level").sum()).alias("w"))
            .with_columns(pl.col("w") / pl.col("w").mean())
        )
    n_days = totals.group_by("weekday").agg(pl.col("day").n_unique().cast(pl.Float64).alias("n"))
    shrunk = (
        week.join(fitted, on="weekday", how="left")
        .join(n_days, on="weekday", how="left")
        .with_columns(pl.col("n").fill_null(0.0), pl.col("w").fill_null(1.0))
        .with_columns(
            ((pl.col("n") * pl.col("w") + WEEKDAY_PRIOR_DAYS) / (pl.col("n") + WEEKDAY_PRIOR_DAYS)).alias("w")
        )
    )
    return shrunk.select("weekday", (pl.col("w") / pl.col("w").mean()).alias("weekday_weight"))


def with_weekday_weight(frame: pl.DataFrame, weights: pl.DataFrame, day: str = "day") -> pl.DataFrame:
    """``frame`` with a ``weekday_weight`` column for its date column ``day``."""
    return (
        frame.with_columns(pl.col(day).dt.weekday().alias("_weekday"))
        .join(weights.rename({"weekday": "_weekday"}), on="_weekday", how="left")
        .drop("_weekday")
    )


def pooled_variance(raw: pl.Expr, df: pl.Expr, prior_var: float, prior_df: float) -> pl.Expr:
    """Degrees-of-freedom-weighted mean of per-unit variance estimates ``raw`` (which may
    be negative: they are method-of-moments estimates with the expected noise removed),
    with a prior worth ``prior_df``, floored at 0. One value for the whole frame."""
    total = (raw * df).sum() + prior_df * prior_var
    return (total / (df.sum() + prior_df)).clip(lower_bound=0.0)


def combine_providers(per_provider: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Scale the providers' counts of each unit (a podcast-month, an episode window) to
    the market, with a calibrated 90% interval.

    Input, one row per unit and provider whose data enters the estimate:
    ``*keys``, ``count`` (the provider's count for the whole period, projected where part
    of it is missing), ``share``, ``observed_fraction`` (the part of the period the count
    rests on, in (0, 1]) and ``sampled`` (the count is the provider's own sample of this
    unit, not a podcast total shared out by other providers' proportions).

    Output per unit: ``estimated_listens`` = sum(count) / sum(share), ``estimate_low``,
    ``estimate_high``, ``providers_in_estimate``, ``effective_share`` (sum of share x
    observed fraction: how much of the market the estimate has actually seen),
    ``projection_sd`` (relative sd the projection of unlanded parts adds; 0 when all
    landed) and ``share_sd`` (the between-provider share spread fitted over all units,
    same in every row). See ``docs/methodology.md`` ("Intervals").
    """
    keys = list(keys)
    share, frac, sampled = pl.col("share"), pl.col("observed_fraction"), pl.col("sampled")
    rows = per_provider.with_columns(
        (pl.col("count").sum().over(keys) / share.sum().over(keys)).alias("_est"),
        share.sum().over(keys).alias("_S"),
    )
    # Method of moments for the share spread: for a unit with k providers,
    # E[sum s_i (E_i - T)^2] = T^2 sigma^2 (S - sum s_i^2 / S) + T sum_sampled (1 - s_i/S) / f_i
    # where E_i = count_i / s_i. Each unit gives a raw sigma^2; units dominated by Poisson
    # noise get little weight (df scaled by (prior / (prior + poisson))^2).
    per_unit = rows.group_by(keys).agg(
        pl.len().alias("providers_in_estimate"),
        pl.col("_est").first().alias("estimated_listens"),
        pl.col("_S").first().alias("S"),
        (share**2).sum().alias("S2"),
        (share * (pl.col("count") / share - pl.col("_est")) ** 2).sum().alias("Q"),
        ((1 - share / pl.col("_S")) / frac).filter(sampled).sum().alias("poisson_q"),
        (share * frac).sum().alias("effective_share"),
        # Poisson: the sampled providers' counts are what the unit's randomness rests on.
        pl.when(sampled.any())
        .then(share.filter(sampled).sum() ** 2 / (share / frac).filter(sampled).sum())
        .otherwise(share.sum() ** 2 / (share / frac).sum())
        .alias("poisson_share"),
        (share * ((1 - frac) / frac).sqrt()).sum().alias("projection_load"),
    )
    prior = SHARE_SD_PRIOR**2
    est = pl.col("estimated_listens")
    informative = (pl.col("providers_in_estimate") >= 2) & (est > 0)
    mean_poisson = pl.col("providers_in_estimate") / (est * pl.col("poisson_share"))
    raw = (pl.col("Q") / est**2 - pl.col("poisson_q") / est) / (pl.col("S") - pl.col("S2") / pl.col("S"))
    df = (pl.col("providers_in_estimate") - 1) * (prior / (prior + mean_poisson)) ** 2
    share_var = per_unit.filter(informative).select(pooled_variance(raw, df, prior, SHARE_PRIOR_DF)).item()

    z = Z90
    n_eff = est * pl.col("poisson_share")
    half = z * (n_eff + z * z / 4).sqrt()
    n_lo = (n_eff + z * z / 2 - half).clip(lower_bound=0.0)
    n_hi = n_eff + z * z / 2 + half
    # Log-scale spread from share variation and projection, combined in quadrature with
    # the Poisson (score-interval) half-widths.
    projection_sd = PROJECTION_CV * pl.col("projection_load") / pl.col("S")
    other = z * (share_var * pl.col("S2") / pl.col("S") ** 2 + projection_sd**2).sqrt()
    low = (
        pl.when((est > 0) & (n_lo > 0))
        .then(est * (-(((n_eff / n_lo).log()) ** 2 + other**2).sqrt()).exp())
        .otherwise(0.0)
    )
    high = (
        pl.when(est > 0)
        .then(est * ((((n_hi / n_eff).log()) ** 2 + other**2).sqrt()).exp())
        .otherwise(n_hi / pl.col("poisson_share") * other.exp())
    )
    return per_unit.select(
        *keys,
        est,
        low.alias("estimate_low"),
        high.alias("estimate_high"),
        pl.col("providers_in_estimate").cast(pl.Int32),
        "effective_share",
        projection_sd.alias("projection_sd"),
        pl.lit(math.sqrt(share_var)).alias("share_sd"),
    )
