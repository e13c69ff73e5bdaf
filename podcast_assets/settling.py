"""Statuses that change with time alone. A month is ``final`` once every provider's data
for it has landed, and for the instant feed that is a matter of time (its days count as
landed ``late_event_grace_days`` after they end); an episode's 30-day window completes
when the 30 days are over. No new data need arrive for that to happen, so no upstream
change would re-run the gold partition. This check finds the gold months whose status
would now change and asks for them to be rematerialized (the sensor ``gold_settling``
and ``refresh`` both use it); trends and creators follow through automation.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl

from podcast_assets import gold_inputs
from podcast_assets.assets.gold import ESTIMATES, FIRST30
from podcast_assets.planning import Work
from podcast_assets.settings import Settings
from podcast_assets.storage import delta


def settling_work(settings: Settings) -> list[Work]:
    today = settings.today()
    coverage, providers = gold_inputs.coverage(settings, today), gold_inputs.provider_infos(settings)
    work: list[Work] = []
    preliminary = delta.read(settings.delta(*ESTIMATES.path), pl.col("status") == "preliminary",
                             {"month": pl.Date, "status": pl.String})
    for month in sorted(set(preliminary.get_column("month"))):
        fresh = gold_inputs.month_estimates(settings, month, today, coverage, providers)
        if (fresh.get_column("status") == "final").any():
            work.append(_work(ESTIMATES, month, today, f"estimates {month:%Y-%m} are final now"))
    windows = (
        delta.read(settings.delta(*FIRST30.path), schema={"month": pl.Date, "window_complete": pl.Boolean})
        .group_by("month")
        .agg(pl.col("window_complete").sum().alias("complete"), (~pl.col("window_complete")).any().alias("open"))
        .filter("open")
        .sort("month")
    )
    catalog = gold_inputs.episodes(settings) if windows.height else None
    for month, before in windows.select("month", "complete").iter_rows():
        fresh = gold_inputs.month_first30(settings, month, today, coverage, providers, catalog)
        if fresh.get_column("window_complete").sum() > before:
            work.append(_work(FIRST30, month, today, f"more 30-day windows of {month:%Y-%m} episodes are complete"))
    return work


def _work(key: dg.AssetKey, month: date, today: date, description: str) -> Work:
    """The run key names the day: a month settles at most once a day."""
    partition = month.isoformat()
    return Work("settling", description, (key,), f"settle:{key.to_user_string()}:{partition}:{today}",
                partition, partition)
