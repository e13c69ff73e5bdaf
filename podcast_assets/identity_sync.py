"""Keeping silver's ``podcast_guid`` mapping in step with the catalog and directories.

Silver resolves shows against the identity tables as they are when it runs. Each silver
run records, per period, the *identity stamp* it used (a digest of the rows of
``silver/feed_urls`` and of the provider's ``bronze/show_directory``); when those rows
change, the periods resolved under an older stamp are stale and get resolved again. That is how
listens of a show that was unmapped become mapped once its directory lands.

A period whose bronze was rewritten after its silver was built is stale as well: bronze
materialized alone in the UI would otherwise leave silver on the old delivery for good. So
is a period a feed step set out to commit (``writing_entries``) and did not see through:
one layer committed and the other not (a failed commit, a killed process) are made one
again from bronze, even if the delivery that step read is never retried.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone

import polars as pl

from podcast_assets.catalog import FEED_URLS_SCHEMA
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.schemas import SHOW_DIRECTORY, empty_frame
from podcast_assets.settings import Settings
from podcast_assets.storage import delta

RESOLVED_FILE = "(silver/listens)"
CHANGES = ["ingested", "writing"]  # ledger statuses after which a period's silver must be resolved anew


def read_feed_map(settings: Settings) -> pl.DataFrame:
    """``silver/feed_urls`` (empty before the first catalog lands)."""
    return delta.read(settings.delta("silver", "feed_urls"), schema=FEED_URLS_SCHEMA).select(list(FEED_URLS_SCHEMA))


def read_show_directory(settings: Settings) -> pl.DataFrame:
    """``bronze/show_directory`` of every provider (empty before the first one lands)."""
    return delta.read(settings.delta("bronze", "show_directory"), schema=empty_frame(SHOW_DIRECTORY).schema)


def stamp(spec: ProviderSpec, feed_map: pl.DataFrame, directory: pl.DataFrame) -> str:
    """A digest of the identity rows ``spec``'s shows resolve through: the catalog's feed
    URL map, and the provider's own show directory. A re-crawl or re-delivery that maps
    every show as before keeps the stamp, so it re-resolves nothing."""
    if spec.show_key == "podcast_guid":
        return ""
    frames = [feed_map.select("feed_url_normalized", "podcast_guid")]
    if spec.show_key == "show_id":
        frames.append(directory.filter(pl.col("provider") == spec.name).select("show_id", "feed_url"))
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(frame.sort(frame.columns).write_csv().encode())
    return digest.hexdigest()[:16]


def identity_stamp(settings: Settings, spec: ProviderSpec) -> str:
    """The stamp of the identity tables as they are now."""
    return stamp(spec, read_feed_map(settings), read_show_directory(settings))


def _silver_entries(spec: ProviderSpec, status: str, stamp: str, periods: list[date]) -> list[dict]:
    now = datetime.now(timezone.utc)
    return [
        {"provider": spec.name, "file_name": RESOLVED_FILE, "fingerprint": stamp, "period_start": period,
         "period_grain": spec.period_grain, "rows": 0, "status": status, "recorded_at": now}
        for period in periods
    ]


def resolution_entries(spec: ProviderSpec, stamp: str, periods: list[date]) -> list[dict]:
    """Ledger rows saying silver's ``periods`` of ``spec`` were resolved under ``stamp``
    (recorded once those silver rows are committed)."""
    return _silver_entries(spec, "resolved", stamp, periods)


def writing_entries(spec: ProviderSpec, periods: list[date]) -> list[dict]:
    """Ledger rows saying a step is about to commit ``periods`` of ``spec``'s bronze (and
    silver), recorded before its commits: until silver records a newer resolution of
    them, those periods are stale. So a step that committed one layer and not the other
    (a failed commit, a killed process) gets its silver rebuilt from bronze as it is, even
    when the delivery it read is never retried (a newer one replaced it)."""
    return _silver_entries(spec, "writing", "", periods)


def stale_periods(entries: pl.DataFrame, stamp: str) -> list[date]:
    """Periods with ingested data, or a commit set out (in one provider's ledger
    ``entries``), whose silver rows were resolved under another identity stamp than
    ``stamp``, or before the period's latest bronze ingest or commit (``writing_entries``)."""
    changed = (
        entries.filter(pl.col("status").is_in(CHANGES) & pl.col("period_start").is_not_null())
        .group_by("period_start")
        .agg(pl.col("recorded_at").max().alias("changed_at"))
    )
    resolved = (
        entries.filter(pl.col("status") == "resolved")
        .sort("recorded_at")
        .group_by("period_start")
        .agg(pl.col("fingerprint").last(), pl.col("recorded_at").last().alias("resolved_at"))
    )
    stale = changed.join(resolved, on="period_start", how="left").filter(
        pl.col("fingerprint").is_null()
        | (pl.col("fingerprint") != stamp)
        | (pl.col("resolved_at") < pl.col("changed_at"))
    )
    return sorted(stale.get_column("period_start").to_list())
