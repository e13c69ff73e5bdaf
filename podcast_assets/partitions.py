"""Time partitions: daily for daily and instant feeds, monthly for monthly feeds and gold.

Both start at ``PODCAST_DATA_START`` and include the period in progress (``end_offset=1``):
today's instant events and this month's preliminary figures have a partition to go to.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import dagster as dg

from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import get_settings

_start = get_settings().data_start.isoformat()

daily_partitions = dg.DailyPartitionsDefinition(start_date=_start, end_offset=1)
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=_start, end_offset=1)


def partitions_for(spec: ProviderSpec) -> dg.TimeWindowPartitionsDefinition:
    return monthly_partitions if spec.period_grain == "month" else daily_partitions


def partition_key(spec: ProviderSpec, period: date) -> str:
    """The key of the partition a period belongs to (months are keyed by their first day)."""
    return (period.replace(day=1) if spec.period_grain == "month" else period).isoformat()


def window_dates(window: dg.TimeWindow) -> tuple[date, date]:
    """A partition time window as ``[start, end)`` dates."""
    return window.start.date(), window.end.date()


def periods_in(spec: ProviderSpec, start: date, end: date) -> list[date]:
    """Every partition period of ``spec`` in ``[start, end)``."""
    pdef = partitions_for(spec)
    keys = pdef.get_partition_keys_in_time_window(
        dg.TimeWindow(
            datetime.combine(start, time(), tzinfo=timezone.utc),
            datetime.combine(end, time(), tzinfo=timezone.utc),
        )
    )
    return [date.fromisoformat(k) for k in keys]
