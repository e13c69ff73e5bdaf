"""Gold: the numbers the website, pro users and data scientists read. Monthly partitions,
each computed by a pure estimator (``podcast_assets.estimators``; method in
``docs/methodology.md``) and written with a predicate overwrite of its months.

Dependencies across months are explicit partition mappings: a month's estimates read
that month's silver; an episode's first 30 days read its publication month and the next
``FIRST30_MONTHS - 1``; trends and creators read ``TREND_MONTHS`` / ``CREATOR_MONTHS``
of history. So a restated old day re-runs exactly the gold months that depend on it.
"""

from datetime import date

import dagster as dg
import polars as pl

from podcast_assets import gold_inputs
from podcast_assets.assets.bronze import LAKEHOUSE_POOL
from podcast_assets.assets.keys import silver_key
from podcast_assets.automation import ON_CHANGE_OR_FAILURE, RETRY_PASSING_FAULTS
from podcast_assets.estimators import (
    CREATOR_MONTHS,
    FIRST30_MONTHS,
    TREND_MONTHS,
    creator_popularity,
    score_trends,
)
from podcast_assets.estimators.common import add_months
from podcast_assets.metadata import table_metadata
from podcast_assets.partitions import monthly_partitions, window_dates
from podcast_assets.providers.specs import PROVIDERS
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import Settings
from podcast_assets.storage import delta

ESTIMATES = dg.AssetKey(["gold", "podcast_monthly_estimates"])
FIRST30 = dg.AssetKey(["gold", "episode_first_30_days"])
TRENDS = dg.AssetKey(["gold", "podcast_trends"])
CREATORS = dg.AssetKey(["gold", "creator_popularity"])


def _silver_deps(months_after: int = 0) -> list[dg.AssetDep]:
    mapping = dg.TimeWindowPartitionMapping(end_offset=months_after)
    return [dg.AssetDep(silver_key(spec), partition_mapping=mapping) for spec in PROVIDERS]


def _history(key: dg.AssetKey, months: int) -> dg.AssetDep:
    return dg.AssetDep(key, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(months - 1)))


GOLD = dict(
    group_name="gold",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=ON_CHANGE_OR_FAILURE,
    retry_policy=RETRY_PASSING_FAULTS,
    pool=LAKEHOUSE_POOL,
    kinds={"polars", "deltalake"},
)


def _months(context: dg.AssetExecutionContext) -> list[date]:
    start, end = window_dates(context.partition_time_window)
    months, month = [], start
    while month < end:
        months.append(month)
        month = add_months(month, 1)
    return months


# How each table is ordered when written, so the metadata preview shows its top rows.
TOP_FIRST = {
    ESTIMATES: (["month", "estimated_listens"], [True, True]),
    FIRST30: (["month", "estimated_listens_30d"], [True, True]),
    TRENDS: (["month", "trend_rank"], [True, False]),
    CREATORS: (["month", "popularity_rank"], [True, False]),
}


def _write(settings: Settings, key: dg.AssetKey, frame: pl.DataFrame, months: list[date],
           context: dg.AssetExecutionContext, **extra) -> dg.MaterializeResult:
    """Replace the partition window's months of a gold table (every gold table has a
    ``month`` column: for episodes, the month they were published)."""
    path = settings.delta(*key.path)
    if frame.height:
        columns, descending = TOP_FIRST[key]
        frame = frame.sort(columns, descending=descending, nulls_last=True)
    delta.overwrite_window(path, frame, "month", months[0], add_months(months[-1], 1))
    context.log.info("%s %s..%s: %d rows", key.to_user_string(), months[0], months[-1], frame.height)
    return dg.MaterializeResult(metadata=table_metadata(frame, path, context, **extra))


def _each_month(months: list[date], compute) -> pl.DataFrame:
    frames = [compute(month) for month in months]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


@dg.asset(key=ESTIMATES, deps=_silver_deps(), **GOLD)
def podcast_monthly_estimates(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    """Market-wide listens per podcast and month: what our providers counted, scaled by
    their combined market share, with a calibrated 90% interval; ``final`` once every
    provider's data for the month has landed and every listen of it is mapped to its
    podcast, else ``preliminary`` (projected)."""
    settings, months = lakehouse.settings, _months(context)
    today = settings.today()
    coverage, providers = gold_inputs.coverage(settings, today), gold_inputs.provider_infos(settings)
    frame = _each_month(months, lambda m: gold_inputs.month_estimates(settings, m, today, coverage, providers))
    month = {  # one month's totals; a ranged run's are in its table
        "month_total_estimated": float(frame.get_column("estimated_listens").sum()),
        "month_total_observed": int(frame.get_column("observed_listens").sum()),
        "coverage": float(frame.get_column("coverage").mean()),
        "final_share": float((frame.get_column("status") == "final").mean()),
    } if len(months) == 1 and frame.height else {}
    return _write(settings, ESTIMATES, frame, months, context, **month)


@dg.asset(key=FIRST30, deps=[*_silver_deps(FIRST30_MONTHS - 1), dg.AssetKey(["silver", "episodes"])], **GOLD)
def episode_first_30_days(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    """Each episode's market-wide listens in its first 30 days after publication, with a
    90% interval; partitioned by publication month. ``window_complete`` once the 30 days
    have passed and every provider's data covering them has landed."""
    settings, months = lakehouse.settings, _months(context)
    today = settings.today()
    coverage, providers = gold_inputs.coverage(settings, today), gold_inputs.provider_infos(settings)
    episodes = gold_inputs.episodes(settings)
    frame = _each_month(months, lambda m: gold_inputs.month_first30(settings, m, today, coverage, providers, episodes))
    return _write(settings, FIRST30, frame, months, context,
                  complete_windows=int(frame.get_column("window_complete").sum()) if frame.height else 0)


@dg.asset(key=TRENDS, deps=[_history(ESTIMATES, TREND_MONTHS)], **GOLD)
def podcast_trends(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    """Which podcasts are rising: a robust, noise-aware growth score over the last 6 months
    of estimates (``TREND_MONTHS``; shrunk toward no growth for small shows), its rank
    (1 = fastest riser) and ``is_rising`` only where the growth is clear."""
    settings, months = lakehouse.settings, _months(context)
    history = gold_inputs.gold_table(settings, ESTIMATES.path[-1], add_months(months[0], -(TREND_MONTHS - 1)), add_months(months[-1], 1))
    frame = _each_month(months, lambda month: score_trends(history, month))
    return _write(settings, TRENDS, frame, months, context,
                  rising=int(frame.get_column("is_rising").sum()) if frame.height else 0)


@dg.asset(
    key=CREATORS,
    deps=[_history(FIRST30, CREATOR_MONTHS), _history(ESTIMATES, CREATOR_MONTHS), dg.AssetKey(["silver", "episode_credits"])],
    **GOLD,
)
def creator_popularity_asset(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
    """How popular each creator is per month: their appearances, the market-wide listens
    of their episodes, and ``lift`` — how their episodes do against the same show's
    episodes without them (1.0 = no effect) — combined into ``popularity_rank``."""
    settings, months = lakehouse.settings, _months(context)
    start, end = add_months(months[0], -(CREATOR_MONTHS - 1)), add_months(months[-1], 1)
    first30 = gold_inputs.gold_table(settings, FIRST30.path[-1], start, end)
    monthly = gold_inputs.gold_table(settings, ESTIMATES.path[-1], start, end)
    credits = gold_inputs.credits(settings)
    frame = _each_month(months, lambda month: creator_popularity(first30, credits, monthly, month))
    return _write(settings, CREATORS, frame, months, context)


gold_assets = [podcast_monthly_estimates, episode_first_30_days, podcast_trends, creator_popularity_asset]
