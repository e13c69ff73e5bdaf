"""Keeping silver's ``podcast_guid`` mapping in step with the catalog and directories.

Silver resolves shows against the identity tables as they are when it runs. Each silver
run records, per period, the *identity stamp* it used (the Delta versions of
``silver/feed_urls`` and ``bronze/show_directory``); when those tables change, the
periods resolved under an older stamp are stale and get resolved again. That is how
listens of a show that was unmapped become mapped once its directory lands.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from podcast_assets.partitions import periods_in
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import Settings
from podcast_assets.storage import delta, ledger

RESOLVED_FILE = "(silver/listens)"


def identity_stamp(settings: Settings, spec: ProviderSpec) -> str:
    """The versions of the identity tables ``spec``'s shows resolve through."""
    tables = {"podcast_guid": [], "feed_url": [("silver", "feed_urls")],
              "show_id": [("silver", "feed_urls"), ("bronze", "show_directory")]}[spec.show_key]
    return ";".join(f"{name}@{delta.version(settings.delta(layer, name))}" for layer, name in tables)


def record_resolution(settings: Settings, spec: ProviderSpec, stamp: str, start: date, end: date) -> None:
    now = datetime.now(timezone.utc)
    ledger.record(
        settings,
        (
            {"provider": spec.name, "file_name": RESOLVED_FILE, "fingerprint": stamp, "period_start": period,
             "period_grain": spec.period_grain, "rows": 0, "status": "resolved", "recorded_at": now}
            for period in periods_in(spec, start, end)
        ),
    )


def stale_periods(settings: Settings, spec: ProviderSpec, entries: pl.DataFrame | None = None) -> list[date]:
    """Periods with ingested data whose silver rows were resolved under an older stamp."""
    if spec.show_key == "podcast_guid":
        return []
    entries = ledger.read(settings, spec.name) if entries is None else entries
    stamp = identity_stamp(settings, spec)
    ingested = entries.filter((pl.col("status") == "ingested") & pl.col("period_start").is_not_null())
    resolved = (
        entries.filter(pl.col("status") == "resolved")
        .sort("recorded_at")
        .group_by("period_start")
        .agg(pl.col("fingerprint").last())
    )
    stale = (
        ingested.select("period_start").unique()
        .join(resolved, on="period_start", how="left")
        .filter(pl.col("fingerprint").is_null() | (pl.col("fingerprint") != stamp))
    )
    return sorted(stale.get_column("period_start").to_list())
