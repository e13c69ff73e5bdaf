"""Which podcasts are growing fastest (``delta/gold/podcast_trends``).

Per podcast, a weighted straight line through the logarithm of its monthly estimates
over the last ``TREND_MONTHS`` months gives its growth per month. A show's months wobble
a lot even when it is steady (which episodes came out, how good they were, who guested:
one star guest can lift a month by half), so the growth we score is the *robust* slope:
the smallest slope left after dropping any one month. Each month is weighted by how
noisy its estimate is as a change (Poisson noise of what we counted, projection of an
unfinished month, and the month-to-month wobble fitted across all shows), and the robust
slope is shrunk toward no growth by its uncertainty, so a small or erratic show needs
more evidence than a big steady one.

A provider's share of a given show stays put from month to month, so the share spread
that dominates the monthly interval cancels out of a trend and is not counted here.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from podcast_assets.estimators.common import Z90, add_months, pooled_variance

TREND_MONTHS = 6
"""Months of ``podcast_monthly_estimates`` ``score_trends`` uses: ``month`` and the five before."""

TREND_PRIOR_SD = 0.10
"""Spread of true growth rates across shows, in log growth per month (about +-10% a
month): the prior the slope is shrunk toward 0 with."""

NOISE_PRIOR_SD = 0.15
"""Prior for the month-to-month wobble of a steady show's log listens beyond Poisson
noise (15%), worth ``NOISE_PRIOR_DF`` degrees of freedom; each run fits it from all shows."""

NOISE_PRIOR_DF = 10.0

RISING_MIN_GROWTH = 0.12
"""``is_rising`` needs a trend score (shrunk robust growth) of at least 12% a month: a
margin above the 10% a month we call rising, because a steady show's months wobble with
heavy tails (a star guest lifts a month 1.6-3x) and the robust slope drops only one month
(on the synthetic market, 0.10 let riser precision fall to 0.82-0.86 on three seeds of
eight; 0.12 keeps it at 0.87-1.00 for a recall of 0.67 instead of 0.75) ..."""

RISING_Z = Z90
"""... and the robust slope more than this many standard errors above 0 (one-sided 95%) ..."""

TREND_MIN_MONTHS = 3
"""... and estimates for at least this many of the ``TREND_MONTHS`` months."""

TREND_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "podcast_guid": pl.String(),
    "estimated_listens": pl.Float64(),
    "trend_score": pl.Float64(),
    "trend_rank": pl.Int32(),
    "is_rising": pl.Boolean(),
    "growth_raw": pl.Float64(),
    "growth_se": pl.Float64(),
    "months_used": pl.Int32(),
}
TREND_COLUMNS = tuple(TREND_SCHEMA)


def _month_noise(points: pl.DataFrame) -> float:
    """Variance of a show's log listens around its straight line beyond the measurement
    noise ``v``, pooled over shows with 3+ months (method of moments on unweighted
    residuals; shows dominated by Poisson noise get little weight)."""
    t, y = pl.col("t"), pl.col("y")
    slope = ((t - t.mean()) * (y - y.mean())).sum() / ((t - t.mean()) ** 2).sum()
    resid = y - y.mean() - slope * (t - t.mean())
    per_show = (
        points.group_by("podcast_guid")
        .agg(pl.len().alias("n"), (resid**2).sum().alias("rss"), pl.col("v").mean().alias("v"))
        .filter(pl.col("n") >= 3)
    )
    prior = NOISE_PRIOR_SD**2
    raw = pl.col("rss") / (pl.col("n") - 2) - pl.col("v")
    df = (pl.col("n") - 2) * (prior / (prior + pl.col("v"))) ** 2
    return per_show.select(pooled_variance(raw, df, prior, NOISE_PRIOR_DF)).item()


def _slopes(points: pl.DataFrame) -> pl.DataFrame:
    """Per podcast: ``n`` months, weighted least-squares slope ``b`` of y on t (weights
    w = 1 / variance), its standard error ``se``, and ``robust``: the smallest slope over
    the fits that leave one month out (``b`` itself below 3 months).

    Slopes come from the weighted sums sw, swt, swy, swtt, swty; leaving a month out
    subtracts its terms from them.
    """
    w, t, y = pl.col("w"), pl.col("t"), pl.col("y")
    terms = {"sw": w, "swt": w * t, "swy": w * y, "swtt": w * t * t, "swty": w * t * y}

    def slope(s: dict[str, pl.Expr]) -> pl.Expr:
        return (s["sw"] * s["swty"] - s["swt"] * s["swy"]) / (s["sw"] * s["swtt"] - s["swt"] ** 2)

    totals = {k: v.sum().over("podcast_guid") for k, v in terms.items()}
    left_out = {k: totals[k] - v for k, v in terms.items()}
    return (
        points.with_columns(slope(totals).alias("b"), slope(left_out).alias("b_loo"))
        .group_by("podcast_guid")
        .agg(
            pl.len().alias("n"),
            pl.col("b").first(),
            (pl.col("w").sum() / (pl.col("w").sum() * (w * t * t).sum() - (w * t).sum() ** 2)).sqrt().alias("se"),
            pl.col("b_loo").min().alias("robust"),
        )
        .with_columns(pl.when(pl.col("n") >= 3).then(pl.col("robust")).otherwise(pl.col("b")).alias("robust"))
    )


def score_trends(history: pl.DataFrame, month: date) -> pl.DataFrame:
    """One row per podcast with a row in ``month`` (columns ``TREND_COLUMNS``).

    ``history``: ``podcast_monthly_estimates`` rows (month, podcast_guid,
    estimated_listens, observed_listens, projection_sd) for ``month`` and the
    ``TREND_MONTHS - 1`` months before; other months are ignored.

    - ``trend_score``: shrunk robust growth per month as a fraction (0.25 = +25% a
      month): exp(r * k) - 1, r the robust slope of ln(estimated_listens) per month,
      k = TREND_PRIOR_SD^2 / (TREND_PRIOR_SD^2 + se^2); 0.0 with fewer than 2 months.
    - ``trend_rank``: 1 = highest score (ties: bigger show first, then podcast_guid);
      podcasts with fewer than ``TREND_MIN_MONTHS`` months rank after all the others (two
      points make a slope that one odd month can set).
    - ``is_rising``: ``months_used >= TREND_MIN_MONTHS``, score >= ``RISING_MIN_GROWTH``
      and r - ``RISING_Z`` * se > 0. A series that never goes up has every slope <= 0
      and is never rising.
    - extras: ``growth_raw`` (exp(b) - 1 for the plain weighted slope b over all months),
      ``growth_se`` (standard error of the slope, log per month), ``months_used``.

    Score and rank are null where ``month``'s estimate is null (nothing landed yet) or 0
    (nothing to grow from: a podcast that fell to no listens is not rising).
    """
    first = add_months(month, -(TREND_MONTHS - 1))
    # sorted, so every sum adds in the same order whatever the input's row order: near-equal
    # scores then come out bit-for-bit the same, and so does their ranking
    window = history.filter(pl.col("month").is_between(first, month)).sort("podcast_guid", "month")
    current = window.filter(pl.col("month") == month).select(
        "podcast_guid", "estimated_listens",
        # a month with no estimate, or an estimate of 0, is nothing to grow from: no score
        ((pl.col("estimated_listens") > 0) & (pl.col("observed_listens") > 0)).fill_null(False).alias("scorable"),
    )
    months_back = (pl.col("month").dt.year() - month.year) * 12 + pl.col("month").dt.month() - month.month
    points = window.filter(pl.col("estimated_listens") > 0, pl.col("observed_listens") > 0).select(
        "podcast_guid",
        months_back.cast(pl.Float64).alias("t"),
        pl.col("estimated_listens").log().alias("y"),
        (1 / pl.col("observed_listens") + pl.col("projection_sd").fill_null(0.0) ** 2).alias("v"),
    )
    noise = _month_noise(points)
    slopes = _slopes(points.with_columns((1 / (pl.col("v") + noise)).alias("w")))
    prior = TREND_PRIOR_SD**2
    fitted = pl.col("n") >= 2
    shrunk = pl.when(fitted).then(pl.col("robust") * prior / (prior + pl.col("se") ** 2)).otherwise(0.0)
    scored = (
        current.join(slopes, on="podcast_guid", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .with_columns(
            pl.when(pl.col("scorable")).then(shrunk.exp() - 1).alias("trend_score"),
            pl.when(fitted).then(pl.col("b").exp() - 1).alias("growth_raw"),
            pl.when(fitted).then(pl.col("se")).alias("growth_se"),
            pl.col("n").cast(pl.Int32).alias("months_used"),
        )
        .with_columns(
            (
                (pl.col("months_used") >= TREND_MIN_MONTHS)
                & (pl.col("trend_score") >= RISING_MIN_GROWTH)
                & (pl.col("robust") - RISING_Z * pl.col("se") > 0)
            )
            .fill_null(False)
            .alias("is_rising")
        )
        .sort(  # unscored last, so the ranks 1..n of the scored have no gaps
            [pl.col("trend_score").is_null(), pl.col("months_used") >= TREND_MIN_MONTHS, "trend_score",
             "estimated_listens", "podcast_guid"],
            descending=[False, True, True, True, False],
            nulls_last=True,
        )
        .with_columns(
            pl.when(pl.col("trend_score").is_not_null())
            .then(pl.int_range(1, pl.len() + 1))
            .cast(pl.Int32)
            .alias("trend_rank"),
            pl.lit(month).alias("month"),
        )
    )
    return scored.select(TREND_COLUMNS)
