"""Keeping silver's ``podcast_guid`` mapping in step with the catalog and directories.

Silver resolves shows against the identity tables as they are when it runs. Each silver
run records, per period, the *identity stamp* it used (a digest of the rows of
``silver/feed_urls`` and of the provider's ``bronze/show_directory``); when those rows
change, the periods resolved under an older stamp are stale and get resolved again. That is how
listens of a show that was unmapped become mapped once its directory lands.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import polars as pl

from podcast_assets.partitions import periods_in
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import Settings
from podcast_assets.storage import delta, ledger

RESOLVED_FILE = "(silver/listens)"


def identity_stamp(settings: Settings, spec: ProviderSpec) -> str:
    """A digest of the identity rows ``spec``'s shows resolve through: the catalog's feed
    URL map, and the provider's own show directory. A re-crawl or re-delivery that maps
    every show as before keeps the stamp, so it re-resolves nothing."""
    if spec.show_key == "podcast_guid":
        return ""
    frames = [delta.read(settings.delta("silver", "feed_urls"),
                         schema={"feed_url_normalized": pl.String, "podcast_guid": pl.String})
              .select("feed_url_normalized", "podcast_guid")]
    if spec.show_key == "show_id":
        frames.append(delta.read(settings.delta("bronze", "show_directory"), pl.col("provider") == spec.name,
                                 {"provider": pl.String, "show_id": pl.String, "feed_url": pl.String})
                      .select("show_id", "feed_url"))
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.sort(frame.columns).write_csv().encode())
    return digest.hexdigest()[:16]


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
