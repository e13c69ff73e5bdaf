"""Market-wide listens of each episode in its first 30 days (``delta/gold/episode_first_30_days``).

The window of an episode is ``[published_at, published_at + 30 days)``: all of its
publication day (age 0; nobody listens before publication), ages 1-29, and the part of
age 30 before the publication time of day (``tod``, a fraction of the day; listens are
taken as spread evenly over a day).

Each provider gives a count for the window, projected where part of it has not landed:

- daily/instant, episode grain (aurora, boreal): the listens on the window's days;
- monthly, episode grain (ember): each month's total times the part of that month's
  listens the decay curve puts inside the window;
- podcast grain (cirrus daily, dune monthly): the podcast's count over the window's days
  (or month) shared out over its episodes in proportion to what all episode-grain
  providers saw over the same days (or month): the daily ones' listens, and the monthly
  ones' month totals spread over the month's days by the decay curve
  (``_pooled_episode_days``).

The decay curve (listens by age, relative to age 0) is fitted from the daily
episode-grain data; days are also weighted by the weekday profile. The counts are then
scaled to the market by ``combine_providers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

import polars as pl

from podcast_assets.estimators.common import (
    ProviderInfo,
    add_months,
    check_known_providers,
    combine_providers,
    covered_days,
    covered_months,
    providers_frame,
    weekday_weights,
    with_weekday_weight,
)

WINDOW_DAYS = 30
CURVE_MAX_AGE = 62
"""Oldest age (days) the decay curve is fitted for: a monthly total of an episode
published in ``month`` covers ages up to 61 in the months its window touches."""

FIRST30_MONTHS = 3
"""Months of listens and coverage ``estimate_first_30_days`` needs: ``month`` (when the
episodes are published) and the two after it (a window that starts on the 30th or 31st can
end in the second month after)."""

FIRST30_SCHEMA: dict[str, pl.DataType] = {
    "podcast_guid": pl.String(),
    "episode_guid": pl.String(),
    "published_at": pl.Datetime("us", "UTC"),
    "estimated_listens_30d": pl.Float64(),
    "estimate_low": pl.Float64(),
    "estimate_high": pl.Float64(),
    "window_complete": pl.Boolean(),
    "providers_in_estimate": pl.Int32(),
    "coverage": pl.Float64(),
    "share_sd": pl.Float64(),
}
FIRST30_COLUMNS = tuple(FIRST30_SCHEMA)

EPISODE = ["podcast_guid", "episode_guid"]


def _publication(episodes: pl.DataFrame) -> pl.DataFrame:
    """podcast_guid, episode_guid, published_at (the earliest if listed twice), pub_day,
    tod (time of day as a fraction)."""
    at = pl.col("published_at")
    return (
        episodes.group_by(EPISODE)
        .agg(at.min())
        .with_columns(
            at.dt.date().alias("pub_day"),
            ((at - at.dt.truncate("1d")).dt.total_microseconds() / 86_400e6).alias("tod"),
        )
    )


def _daily_episode_listens(rows: pl.DataFrame, info: pl.DataFrame) -> pl.DataFrame:
    """provider, podcast_guid, episode_guid, day, listens from daily episode-grain providers."""
    providers = info.filter(pl.col("daily") & pl.col("episode_grain")).select("provider")
    return (
        rows.filter(pl.col("period_grain") == "day", pl.col("episode_guid").is_not_null())
        .join(providers, on="provider")
        .group_by("provider", *EPISODE, pl.col("period_start").alias("day"))
        .agg(pl.col("listens").sum().cast(pl.Float64))
    )


def fit_decay_curve(
    daily: pl.DataFrame, coverage: pl.DataFrame, info: pl.DataFrame, pub: pl.DataFrame, weights: pl.DataFrame
) -> pl.DataFrame:
    """age (0..CURVE_MAX_AGE), decay: expected listens of an episode at that age relative
    to its publication day, on an average weekday, from ``daily`` (the daily
    episode-grain providers' listens, ``_daily_episode_listens``) and ``pub`` (the
    episodes' publication days, ``_publication``).

    Chain of ratios (which copes with episodes seen only at some ages): decay(a + 1) /
    decay(a) = sum of weekday-adjusted listens at age a + 1 over sum at age a, both over the
    (provider, episode) pairs whose days a and a + 1 have both landed. An age without data
    repeats the ratio before it, and so does one whose sum at a or a + 1 is 0 (a day
    without listens in a small sample would otherwise zero every later age, or divide by
    0), but at most 1: listens are not taken to grow with age where none were seen (a
    rising last ratio of a small sample, repeated, would grow the curve without end);
    without any daily episode-grain data the curve is flat.
    """
    ages = pl.int_range(0, CURVE_MAX_AGE + 1, eager=True).alias("age")
    grid = (
        daily.select("provider", *EPISODE)
        .unique()
        .join(pub.select(*EPISODE, "pub_day"), on=EPISODE)
        .join(pl.DataFrame(ages), how="cross")
        .with_columns((pl.col("pub_day") + pl.duration(days=pl.col("age"))).alias("day"))
        .join(covered_days(coverage, info), on=["provider", "day"], how="semi")
        .join(daily, on=["provider", *EPISODE, "day"], how="left")
    )
    grid = with_weekday_weight(grid, weights).select(
        "provider", *EPISODE, "age", (pl.col("listens").fill_null(0.0) / pl.col("weekday_weight")).alias("x")
    )
    pairs = grid.join(
        grid.with_columns(pl.col("age") - 1).rename({"x": "x_next"}), on=["provider", *EPISODE, "age"]
    )
    sums = pairs.group_by("age").agg(pl.col("x").sum().alias("den"), pl.col("x_next").sum().alias("num"))
    ratio = pl.when((pl.col("den") > 0) & (pl.col("num") > 0)).then(pl.col("num") / pl.col("den"))
    ratios = (
        pl.DataFrame(ages.head(CURVE_MAX_AGE))
        .join(sums, on="age", how="left")
        .sort("age")
        .select(pl.coalesce(ratio, ratio.forward_fill().clip(upper_bound=1.0), 1.0).alias("r"))
    )
    decay = pl.concat([pl.Series([1.0]), ratios["r"]]).cum_prod()
    return pl.DataFrame({"age": ages, "decay": decay})


def _window_grid(pub: pl.DataFrame, curve: pl.DataFrame, weights: pl.DataFrame) -> pl.DataFrame:
    """One row per window episode and age 0..CURVE_MAX_AGE: day, month, ``omega`` (the part
    of the day inside the window: 1, ``tod`` at age 30, 0 after) and ``mass`` (expected
    listens relative to age 0: decay x weekday weight)."""
    grid = (
        pub.join(curve, how="cross")
        .with_columns(
            (pl.col("pub_day") + pl.duration(days=pl.col("age"))).alias("day"),
            pl.when(pl.col("age") < WINDOW_DAYS)
            .then(1.0)
            .when(pl.col("age") == WINDOW_DAYS)
            .then(pl.col("tod"))
            .otherwise(0.0)
            .alias("omega"),
        )
        .with_columns(pl.col("day").dt.truncate("1mo").alias("month"))
    )
    return with_weekday_weight(grid, weights).with_columns((pl.col("decay") * pl.col("weekday_weight")).alias("mass"))


def _pooled_episode_days(
    daily: pl.DataFrame,
    rows: pl.DataFrame,
    info: pl.DataFrame,
    coverage: pl.DataFrame,
    pub: pl.DataFrame,
    curve: pl.DataFrame,
    weights: pl.DataFrame,
) -> pl.DataFrame:
    """podcast_guid, episode_guid, day, listens: what all episode-grain providers saw of
    each episode by day, the yardstick podcast-grain counts are shared out by.

    Daily episode-grain providers give their own listens. A monthly episode-grain
    provider's landed month total is spread over the month's days in proportion to the
    episode's expected listens there, ``decay(age) * w(day)`` (ages past the curve keep its
    last value; an episode without a known publication time is spread by the weekday
    profile alone; days before publication get nothing). Summed over providers: all
    providers see a podcast's episodes in the same proportions (a provider's share is a
    property of the podcast), so pooling them only adds listens to the ratio.
    """
    monthly = info.filter(~pl.col("daily") & pl.col("episode_grain")).select("provider")
    landed = covered_months(coverage, info).rename({"month": "period_start"})
    month_rows = (
        rows.filter(pl.col("period_grain") == "month", pl.col("episode_guid").is_not_null())
        .join(monthly, on="provider")
        .join(landed, on=["provider", "period_start"], how="semi")
        .group_by(*EPISODE, pl.col("period_start").alias("month"))
        .agg(pl.col("listens").sum().cast(pl.Float64).alias("month_listens"))
    )
    parts = [daily.group_by(*EPISODE, "day").agg(pl.col("listens").sum())]
    if month_rows.height:
        last = curve["decay"][-1]
        spread = (
            month_rows.join(pub.select(*EPISODE, "pub_day"), on=EPISODE, how="left")
            .with_columns(
                pl.date_ranges("month", pl.col("month").dt.month_end(), interval="1d").alias("day")
            )
            .explode("day")
            .with_columns((pl.col("day") - pl.col("pub_day")).dt.total_days().alias("age"))
            .join(curve, on="age", how="left")
        )
        spread = with_weekday_weight(spread, weights).with_columns(
            (
                pl.when(pl.col("pub_day").is_null())
                .then(1.0)
                .when(pl.col("age") < 0)
                .then(0.0)
                .otherwise(pl.col("decay").fill_null(last))
                * pl.col("weekday_weight")
            ).alias("mass")
        )
        spread = spread.filter(pl.col("mass").sum().over(*EPISODE, "month") > 0).select(
            *EPISODE,
            "day",
            (pl.col("month_listens") * pl.col("mass") / pl.col("mass").sum().over(*EPISODE, "month")).alias("listens"),
        )
        parts.append(spread)
    return pl.concat(parts).group_by(*EPISODE, "day").agg(pl.col("listens").sum())


def _part_counts(parts: pl.DataFrame) -> pl.DataFrame:
    """Aggregate window parts (days or months) of each episode and provider.

    Input: *EPISODE, provider, covered (landed and usable), landed, count (listens in the
    part, on covered parts), mass (expected share of window listens in the part).
    Output: *EPISODE, provider, count (projected to the whole window), observed_fraction,
    complete (every part landed), unattributed (some part landed but is not usable: a
    podcast-grain count with no episode-grain listens of the podcast to share it by).
    """
    covered = pl.col("covered")
    return (
        parts.group_by(*EPISODE, "provider")
        .agg(
            pl.col("count").filter(covered).sum().alias("count_landed"),
            (pl.col("mass").filter(covered).sum() / pl.col("mass").sum()).alias("observed_fraction"),
            pl.col("landed").all().alias("complete"),
            (pl.col("landed") & ~covered).any().alias("unattributed"),
        )
        .with_columns((pl.col("count_landed") / pl.col("observed_fraction")).alias("count"))
        .drop("count_landed")
    )


def _daily_parts(
    grid: pl.DataFrame,
    info: pl.DataFrame,
    coverage: pl.DataFrame,
    daily: pl.DataFrame,
    pooled: pl.DataFrame,
    rows: pl.DataFrame,
) -> pl.DataFrame:
    """Window days x daily providers. Episode grain: the provider's own listens. Podcast
    grain: usable days are the landed ones; its podcast listens over those days times the
    episode's fraction of the podcast's listens on them at all episode-grain providers
    (``pooled``, from ``_pooled_episode_days``)."""
    days = grid.filter(pl.col("omega") > 0).select(*EPISODE, "day", "omega", "mass")
    landed = covered_days(coverage, info).with_columns(pl.lit(True).alias("landed"))
    base = (
        days.join(info.filter(pl.col("daily")).select("provider", "episode_grain"), how="cross")
        .join(landed, on=["provider", "day"], how="left")
        .with_columns(pl.col("landed").fill_null(False), (pl.col("omega") * pl.col("mass")).alias("mass"))
    )
    own = base.filter(pl.col("episode_grain")).join(daily, on=["provider", *EPISODE, "day"], how="left")
    own = own.with_columns(
        (pl.col("omega") * pl.col("listens").fill_null(0.0)).alias("count"), pl.col("landed").alias("covered")
    )

    episode_day = pooled.select(*EPISODE, "day", pl.col("listens").alias("eg_episode"))
    podcast_day = pooled.group_by("podcast_guid", "day").agg(pl.col("listens").sum().alias("eg_podcast"))
    podcast_listens = (
        rows.filter(pl.col("period_grain") == "day", pl.col("episode_guid").is_null())
        .group_by("provider", "podcast_guid", pl.col("period_start").alias("day"))
        .agg(pl.col("listens").sum().cast(pl.Float64).alias("podcast"))
    )
    shared = (
        base.filter(~pl.col("episode_grain"))
        .join(podcast_listens, on=["provider", "podcast_guid", "day"], how="left")
        .join(episode_day, on=[*EPISODE, "day"], how="left")
        .join(podcast_day, on=["podcast_guid", "day"], how="left")
        .with_columns(pl.col("podcast", "eg_episode", "eg_podcast").fill_null(0.0))
        .with_columns(
            (pl.col("omega") * pl.col(c)).sum().over(*EPISODE, "provider", pl.col("landed")).alias(f"{c}_sum")
            for c in ("podcast", "eg_episode", "eg_podcast")
        )
    )
    # Shared out over the landed window days as a whole (a ratio estimate); when the
    # episode-grain providers saw nothing of the podcast there is nothing to share by,
    # and the provider stays out unless it saw nothing either.
    usable = pl.col("landed") & ((pl.col("eg_podcast_sum") > 0) | (pl.col("podcast_sum") == 0))
    shared = shared.with_columns(
        usable.alias("covered"),
        pl.when(pl.col("eg_podcast_sum") > 0)
        .then(pl.col("omega") * pl.col("podcast") * pl.col("eg_episode_sum") / pl.col("eg_podcast_sum"))
        .otherwise(0.0)
        .alias("count"),
    )
    cols = [*EPISODE, "provider", "covered", "landed", "count", "mass"]
    return pl.concat([own.select(cols), shared.select(cols)])


def _monthly_parts(
    grid: pl.DataFrame, info: pl.DataFrame, coverage: pl.DataFrame, pooled: pl.DataFrame, rows: pl.DataFrame
) -> pl.DataFrame:
    """Window months x monthly providers. Episode grain: the month's total times the part
    of the month's listens inside the window (window mass / month mass). Podcast grain:
    the podcast's month total times the episode's window listens in that month over the
    podcast's listens that month, both as all episode-grain providers saw them
    (``pooled``)."""
    months = (
        grid.group_by(*EPISODE, "month")
        .agg((pl.col("omega") * pl.col("mass")).sum().alias("mass"), pl.col("mass").sum().alias("month_mass"))
        .filter(pl.col("mass") > 0)
    )
    landed = covered_months(coverage, info).with_columns(pl.lit(True).alias("landed"))
    base = (
        months.join(info.filter(~pl.col("daily")).select("provider", "episode_grain"), how="cross")
        .join(landed, on=["provider", "month"], how="left")
        .with_columns(pl.col("landed").fill_null(False))
    )
    month_rows = rows.filter(pl.col("period_grain") == "month").rename({"period_start": "month"})
    own = (
        base.filter(pl.col("episode_grain"))
        .join(
            month_rows.group_by("provider", *EPISODE, "month").agg(pl.col("listens").sum().cast(pl.Float64)),
            on=["provider", *EPISODE, "month"],
            how="left",
        )
        .with_columns(
            (pl.col("listens").fill_null(0.0) * pl.col("mass") / pl.col("month_mass")).alias("count"),
            pl.col("landed").alias("covered"),
        )
    )

    eg_window = (
        grid.filter(pl.col("omega") > 0)
        .join(pooled, on=[*EPISODE, "day"], how="left")
        .group_by(*EPISODE, "month")
        .agg((pl.col("omega") * pl.col("listens").fill_null(0.0)).sum().alias("eg_episode"))
    )
    eg_month = pooled.group_by("podcast_guid", pl.col("day").dt.truncate("1mo").alias("month")).agg(
        pl.col("listens").sum().alias("eg_podcast")
    )
    podcast_month = (
        month_rows.filter(pl.col("episode_guid").is_null())
        .group_by("provider", "podcast_guid", "month")
        .agg(pl.col("listens").sum().cast(pl.Float64).alias("podcast"))
    )
    shared = (
        base.filter(~pl.col("episode_grain"))
        .join(podcast_month, on=["provider", "podcast_guid", "month"], how="left")
        .join(eg_window, on=[*EPISODE, "month"], how="left")
        .join(eg_month, on=["podcast_guid", "month"], how="left")
        .with_columns(pl.col("podcast", "eg_episode", "eg_podcast").fill_null(0.0))
        .with_columns(
            (pl.col("landed") & ((pl.col("eg_podcast") > 0) | (pl.col("podcast") == 0))).alias("covered"),
            pl.when(pl.col("eg_podcast") > 0)
            .then(pl.col("podcast") * pl.col("eg_episode") / pl.col("eg_podcast"))
            .otherwise(0.0)
            .alias("count"),
        )
    )
    cols = [*EPISODE, "provider", "covered", "landed", "count", "mass"]
    return pl.concat([own.select(cols), shared.select(cols)])


def estimate_first_30_days(
    listens: pl.DataFrame,
    coverage: pl.DataFrame,
    providers: Iterable[ProviderInfo],
    episodes: pl.DataFrame,
    month: date,
    as_of: date,
) -> pl.DataFrame:
    """One row per episode of ``episodes`` published in ``month`` (columns ``FIRST30_COLUMNS``).

    ``listens`` and ``coverage`` must hold months ``month`` .. ``month + 2``
    (``FIRST30_MONTHS``); ``episodes`` (podcast_guid, episode_guid, published_at) should
    hold every episode the daily providers report in those months (older ones feed the
    decay curve's later ages).

    - ``estimated_listens_30d``: market-wide listens in the window, sum(count_i) /
      sum(share_i) over the providers with some of the window landed, each count projected
      to the whole window with the decay curve.
    - ``estimate_low``/``estimate_high``: a 90% interval (``combine_providers``).
    - ``window_complete``: the window has ended by ``as_of`` (midnight UTC) and every
      provider's data for every day (or month) it touches has landed.
    - extras: ``providers_in_estimate``, ``coverage`` (share-weighted landed fraction of
      the window), ``share_sd`` (the month's fitted share spread at episode level).

    Estimates are null for an episode none of whose window has landed yet, and for one no
    provider in the estimate saw while podcast-grain providers counted its podcast's
    listens that nothing could share out (no episode-grain listens of the podcast).
    """
    end = add_months(month, 1)
    data_end = add_months(month, FIRST30_MONTHS)
    info = providers_frame(providers)
    rows = listens.filter(
        pl.col("podcast_guid").is_not_null(), pl.col("period_start").is_between(month, data_end, closed="left")
    )
    check_known_providers(rows, info)
    cov = coverage.filter(pl.col("period_start").is_between(month, data_end, closed="left"))
    weights = weekday_weights(rows, cov, info)
    daily = _daily_episode_listens(rows, info)
    publication = _publication(episodes)
    curve = fit_decay_curve(daily, cov, info, publication, weights)

    start_ts, end_ts = (datetime.combine(d, time(), UTC) for d in (month, end))
    pub = publication.filter(pl.col("published_at").is_between(start_ts, end_ts, closed="left"))
    grid = _window_grid(pub, curve, weights)
    pooled = _pooled_episode_days(daily, rows, info, cov, publication, curve, weights)
    parts = pl.concat(
        [_daily_parts(grid, info, cov, daily, pooled, rows), _monthly_parts(grid, info, cov, pooled, rows)]
    )
    per_provider = _part_counts(parts)
    in_estimate = pl.col("observed_fraction") > 0
    status = per_provider.group_by(EPISODE).agg(
        pl.col("complete").all().alias("all_landed"),
        # Podcast-grain listens that could not be shared out while no provider in the
        # estimate saw the episode: the zero would only say the episode-grain providers
        # do not see this podcast (say, its shows are not mapped yet), so no estimate.
        (pl.col("unattributed").any() & ~(pl.col("count").filter(in_estimate) > 0).any()).alias("unknown"),
    )
    estimates = combine_providers(
        per_provider.filter(in_estimate)
        .join(info.select("provider", "share", pl.col("episode_grain").alias("sampled")), on="provider"),
        EPISODE,
    )
    ended = pl.col("published_at") + pl.duration(days=WINDOW_DAYS) <= datetime.combine(as_of, time(), UTC)
    return (
        pub.select(*EPISODE, "published_at")
        .join(estimates, on=EPISODE, how="left")
        .join(status, on=EPISODE, how="left")
        .with_columns(
            pl.when(~pl.col("unknown").fill_null(False)).then(pl.col(c)).alias(c)
            for c in ("estimated_listens", "estimate_low", "estimate_high")
        )
        .with_columns(
            pl.col("estimated_listens").alias("estimated_listens_30d"),
            (ended & pl.col("all_landed").fill_null(False)).alias("window_complete"),
            pl.col("providers_in_estimate").fill_null(0).cast(pl.Int32),
            (pl.col("effective_share").fill_null(0.0) / info["share"].sum()).alias("coverage"),
        )
        .select(FIRST30_COLUMNS)
        .sort(EPISODE)
    )
