"""Creator popularity and lift (``delta/gold/creator_popularity``).

A creator's *lift* compares the episodes they appear on with the same show's episodes
without them, on the first-30-day estimates of the trailing ``CREATOR_MONTHS`` months
after taking out the show's own growth (from its monthly estimates): the geometric mean
over their appearances of the ratio to the show's level, shrunk toward 1.0 as if they had
``LIFT_PRIOR_APPEARANCES`` more appearances at exactly 1.0. Show levels and all creators'
lifts are fitted together, so a co-guest's or a star guest's effect is not credited to
someone else, nor (but for what the shrinkage holds back) counted in the show's level.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import polars as pl

from podcast_assets.estimators.common import add_months

CREATOR_MONTHS = 6
"""Months of episodes (by publication) and of monthly estimates ``creator_popularity``
uses: ``month`` and the five before. Lift and its baselines come from all of them; the
month's appearances and listens from ``month`` only."""

LIFT_PRIOR_APPEARANCES = 2.0
"""Shrinkage of lift toward 1.0, in appearances: against a show with many episodes
without them, one appearance at 2x gives exp(ln 2 / 3) = 1.26x, four give
exp(4 ln 2 / 6) = 1.59x. Against few, less: the show's level is fitted from all its
episodes, so it takes up part of what the shrinkage holds back (one appearance at 2x
beside two episodes without: 2^(1/4) = 1.19x; see ``_lift``)."""

BASELINE_MIN_EPISODES = 2
"""An appearance counts toward lift only if the show has at least this many episodes
without the creator in the window to compare with."""

LIFT_FIT_ROUNDS = 20
"""Rounds of the alternating fit of show levels and creator effects (backfitting)."""

CREATOR_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "creator_id": pl.String(),
    "creator_name": pl.String(),
    "appearances": pl.Int32(),
    "guest_appearances": pl.Int32(),
    "estimated_listens": pl.Float64(),
    "lift": pl.Float64(),
    "popularity_rank": pl.Int32(),
    "lift_appearances": pl.Int32(),
    "popularity_score": pl.Float64(),
    "appearances_estimated": pl.Int32(),
}
CREATOR_COLUMNS = tuple(CREATOR_SCHEMA)

EPISODE = ["podcast_guid", "episode_guid"]


def _episode_levels(first30: pl.DataFrame, monthly: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Episodes published in ``[start, end)`` with a positive estimate: podcast_guid,
    episode_guid, ``y`` = ln(estimated_listens_30d) minus the show's log growth since
    ``start`` (a straight line through ln(monthly estimated_listens) by month), so
    episodes of a growing show compare fairly across the window."""
    months_from_start = (pl.col("month").dt.year() - start.year) * 12 + pl.col("month").dt.month() - start.month
    t, ly = pl.col("t"), pl.col("ly")
    slope = ((t - t.mean()) * (ly - ly.mean())).sum() / ((t - t.mean()) ** 2).sum()
    growth = (
        monthly.filter(pl.col("month").is_between(start, end, closed="left"), pl.col("estimated_listens") > 0)
        .select(
            "podcast_guid",
            months_from_start.cast(pl.Float64).alias("t"),
            pl.col("estimated_listens").log().alias("ly"),
        )
        .group_by("podcast_guid")
        .agg(pl.when(pl.len() >= 2).then(slope).otherwise(0.0).alias("growth"))
    )
    start_ts = datetime.combine(start, time(), UTC)
    months_since = (pl.col("published_at") - start_ts).dt.total_seconds() / (86_400 * 30.4375)
    return (
        first30.filter(pl.col("estimated_listens_30d") > 0)
        .join(growth, on="podcast_guid", how="left")
        .select(
            *EPISODE,
            (pl.col("estimated_listens_30d").log() - pl.col("growth").fill_null(0.0) * months_since).alias("y"),
        )
    )


def _lift(levels: pl.DataFrame, appearances: pl.DataFrame) -> pl.DataFrame:
    """creator_id, lift_appearances, lift.

    Model: y_e = show_p + sum of ln(lift_c) over the creators c credited on e that the
    show also has episodes without (at least ``BASELINE_MIN_EPISODES``), + noise. A
    creator on every episode of a show is part of that show's level there. Fitted by
    backfitting with a ridge penalty: ln(lift_c) = sum over their appearances of (y_e -
    show_p - the other creators' terms) / (appearances + ``LIFT_PRIOR_APPEARANCES``), i.e.
    their average log ratio to the show's episodes without them, shrunk toward 0. Null
    for a creator with no such appearance.
    """
    show_size = levels.group_by("podcast_guid").len("n_show")
    credited = (
        appearances.join(levels.select(EPISODE), on=EPISODE)
        .with_columns(pl.len().over("creator_id", "podcast_guid").alias("n_with"))
        .join(show_size, on="podcast_guid")
        .filter(pl.col("n_show") - pl.col("n_with") >= BASELINE_MIN_EPISODES)
        .select("creator_id", *EPISODE)
    )
    effects = credited.select("creator_id").unique().with_columns(pl.lit(0.0).alias("beta"))
    for _ in range(LIFT_FIT_ROUNDS):
        credit_sum = credited.join(effects, on="creator_id").group_by(EPISODE).agg(pl.col("beta").sum().alias("credit"))
        episodes = levels.join(credit_sum, on=EPISODE, how="left").with_columns(pl.col("credit").fill_null(0.0))
        episodes = episodes.with_columns((pl.col("y") - pl.col("credit")).mean().over("podcast_guid").alias("show"))
        effects = (
            credited.join(episodes, on=EPISODE)
            .join(effects, on="creator_id")
            .group_by("creator_id")
            .agg(
                (
                    (pl.col("y") - pl.col("show") - pl.col("credit") + pl.col("beta")).sum()
                    / (pl.len() + LIFT_PRIOR_APPEARANCES)
                ).alias("beta"),
                pl.len().cast(pl.Int32).alias("lift_appearances"),
            )
        )
    return effects.select("creator_id", "lift_appearances", pl.col("beta").exp().alias("lift"))


def creator_popularity(
    first30: pl.DataFrame, credits: pl.DataFrame, monthly: pl.DataFrame, month: date
) -> pl.DataFrame:
    """One row per creator credited on an episode published in ``month`` (columns
    ``CREATOR_COLUMNS``).

    Inputs, for ``month`` and the ``CREATOR_MONTHS - 1`` months before:
    ``first30`` (episode_first_30_days rows of episodes published then: podcast_guid,
    episode_guid, published_at, estimated_listens_30d), ``monthly``
    (podcast_monthly_estimates: podcast_guid, month, estimated_listens) and ``credits``
    (podcast_guid, episode_guid, creator_id, creator_name, is_guest; any extra rows are
    ignored).

    - ``appearances`` / ``guest_appearances``: episodes published in ``month`` crediting
      them (any role) / crediting them as a guest.
    - ``estimated_listens``: the sum of those episodes' ``estimated_listens_30d`` over the
      ``appearances_estimated`` (extra) of them that have one (an episode published in the
      last day or two has none yet): a lower bound while the two counts differ.
    - ``lift``: see the module docstring; null where none of their appearances in the
      window has a baseline (a host on every episode of their show).
    - ``popularity_score`` (extra) = estimated_listens x lift (lift 1.0 when null): the
      audience their episodes reached, credited up or down by how much those episodes
      beat the show's usual. ``popularity_rank`` 1 = highest score (ties by creator_id).
    - ``lift_appearances`` (extra): appearances in the window that lift is based on.
    """
    start, end = add_months(month, -(CREATOR_MONTHS - 1)), add_months(month, 1)
    start_ts, month_ts, end_ts = (datetime.combine(d, time(), UTC) for d in (start, month, end))
    window = first30.filter(pl.col("published_at").is_between(start_ts, end_ts, closed="left"))
    appearances = (
        credits.join(window.select(*EPISODE, "published_at"), on=EPISODE)
        .group_by("creator_id", *EPISODE)
        .agg(pl.col("is_guest").any(), pl.col("published_at").first())
    )
    names = (
        credits.join(appearances.select("creator_id"), on="creator_id", how="semi")
        .group_by("creator_id", "creator_name")
        .len()
        .sort(["creator_id", "len", "creator_name"], descending=[False, True, False])
        .group_by("creator_id", maintain_order=True)
        .agg(pl.col("creator_name").first())
    )
    lift = _lift(_episode_levels(window, monthly, start, end), appearances.select("creator_id", *EPISODE))
    this_month = (
        appearances.filter(pl.col("published_at") >= month_ts)
        .join(window.select(*EPISODE, "estimated_listens_30d"), on=EPISODE)
        .group_by("creator_id")
        .agg(
            pl.len().cast(pl.Int32).alias("appearances"),
            pl.col("is_guest").sum().cast(pl.Int32).alias("guest_appearances"),
            pl.col("estimated_listens_30d").sum().alias("estimated_listens"),
            pl.col("estimated_listens_30d").count().cast(pl.Int32).alias("appearances_estimated"),
        )
    )
    return (
        this_month.join(names, on="creator_id", how="left")
        .join(lift, on="creator_id", how="left")
        .with_columns(
            pl.col("lift_appearances").fill_null(0),
            (pl.col("estimated_listens") * pl.col("lift").fill_null(1.0)).alias("popularity_score"),
        )
        .sort(["popularity_score", "creator_id"], descending=[True, False])
        .with_columns(
            pl.int_range(1, pl.len() + 1).cast(pl.Int32).alias("popularity_rank"),
            pl.lit(month).alias("month"),
        )
        .select(CREATOR_COLUMNS)
    )
