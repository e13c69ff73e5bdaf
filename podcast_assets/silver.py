"""Bronze rows -> ``delta/silver/listens``: one canonical shape for every provider.

Each provider names shows its own way (``show_key``); here they all become a
``podcast_guid``: a podcast guid as given, a feed URL through the catalog (else derived),
a provider show id through that provider's ``shows.csv`` and then its feed URL. A show
that cannot be mapped yet keeps its listens with a null ``podcast_guid`` and its id in
``unmapped_show``; they are re-resolved when the directory or catalog that maps them lands.

``to_silver`` is the pure transform, given the ``Identity`` the shows resolve through;
``silver_rows`` validates its output and ``write_silver`` commits it; ``rebuild_silver``
does both for a window of the bronze table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from podcast_assets.identity import resolve_feed_urls
from podcast_assets.identity_sync import read_feed_map, read_show_directory, resolution_entries, stamp
from podcast_assets.ingest import bronze_table
from podcast_assets.partitions import periods_in
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.schemas import (
    SILVER_KEY,
    Window,
    bronze_schema,
    empty_frame,
    key_hashes_differ,
    silver_listens_schema,
    validate,
)
from podcast_assets.settings import Settings
from podcast_assets.storage import delta, ledger

LISTENS = ("silver", "listens")


@dataclass(frozen=True)
class Identity:
    """What a provider's shows resolve through, as it is now: the catalog's feed URL map,
    the stamp of the identity rows that concern the provider (``identity_sync.stamp``)
    and, for a provider naming its shows by id, each show of its directory with its
    ``podcast_guid`` (``show_id``, ``podcast_guid``). None of it needs a delivery, so it
    can be worked out while one is read."""

    feed_map: pl.DataFrame
    stamp: str
    shows: pl.DataFrame | None

    @classmethod
    def resolve(cls, spec: ProviderSpec, directory: pl.DataFrame, feed_map: pl.DataFrame) -> Identity:
        """``directory``: ``show_directory`` rows (provider, show_id, feed_url); ``feed_map``:
        the catalog's ``feed_urls`` (feed_url_normalized, podcast_guid)."""
        shows = None
        if spec.show_key == "show_id":
            own = directory.filter(pl.col("provider") == spec.name)
            shows = own.select("show_id", resolve_feed_urls(own.get_column("feed_url"), feed_map).alias("podcast_guid"))
        return cls(feed_map, stamp(spec, feed_map, directory), shows)


def load_identity(settings: Settings, spec: ProviderSpec) -> Identity:
    """``Identity`` from the identity tables as they are now."""
    return Identity.resolve(spec, read_show_directory(settings), read_feed_map(settings))


def to_silver(spec: ProviderSpec, bronze: pl.DataFrame, identity: Identity) -> pl.DataFrame:
    """Sum ``bronze`` listens per podcast, episode and period, mapped to ``podcast_guid``.

    Shows are resolved once per distinct show (a directory entry, in ``identity``, or a
    feed URL) and joined onto the rows. A delivery names each episode and period once as
    a rule, so the rows are summed only when their key may repeat (a row listed twice,
    two show ids of one podcast): the test, one hash pass, costs a quarter of the
    group-by it saves. Either way no two rows share ``SILVER_KEY``. Row order carries no
    meaning in silver (readers sort or aggregate), but it is deterministic: the order of
    ``bronze``, each sum where its key first appears.
    """
    rows = bronze.lazy()
    if spec.show_key == "podcast_guid":
        rows = rows.with_columns(
            pl.col("podcast_guid").str.to_lowercase(), pl.lit(None, pl.String).alias("show")
        )
    else:
        guids = identity.shows
        if guids is None:  # feed URLs: the delivery's own
            urls = bronze.get_column("feed_url").unique()
            guids = pl.DataFrame({"feed_url": urls, "podcast_guid": resolve_feed_urls(urls, identity.feed_map)})
        key = spec.show_key
        rows = rows.join(guids.lazy(), on=key, how="left", maintain_order="left").with_columns(pl.col(key).alias("show"))
    episode = pl.col("episode_guid") if spec.grain == "episode" else pl.lit(None, pl.String)
    listens = rows.select(
        pl.lit(spec.name).alias("provider"),
        "podcast_guid",
        episode.alias("episode_guid"),
        "period_start",
        pl.lit(spec.period_grain).alias("period_grain"),
        "listens",
        pl.when(pl.col("podcast_guid").is_null()).then(pl.col("show")).alias("unmapped_show"),
    ).collect()
    if key_hashes_differ(listens, SILVER_KEY):
        return listens
    return listens.group_by(SILVER_KEY, maintain_order=True).agg(
        pl.col("period_grain").first(), pl.col("listens").sum().cast(pl.Int64)
    ).select(listens.columns)


def silver_rows(settings: Settings, spec: ProviderSpec, bronze: pl.DataFrame, window: Window,
                identity: Identity | None = None) -> tuple[pl.DataFrame, str]:
    """``bronze`` (rows of ``window``) as validated silver rows, resolved through
    ``identity`` (by default, the identity tables as they are now), and its stamp."""
    identity = load_identity(settings, spec) if identity is None else identity
    # to_silver has proven the key unique or summed by it: a second proof would cost as much
    schema = silver_listens_schema(window, prove_key=False)
    listens = validate(schema, to_silver(spec, bronze, identity), f"silver {spec.name}")
    return listens, identity.stamp


def write_silver(settings: Settings, spec: ProviderSpec, listens: pl.DataFrame, periods: list[date]) -> None:
    """Replace ``spec``'s rows of ``delta/silver/listens`` for ``periods`` by ``listens``."""
    if periods:
        delta.overwrite_periods(settings.delta(*LISTENS), listens, "period_start", periods, {"provider": spec.name})


def rebuild_silver(settings: Settings, spec: ProviderSpec, start: date, end: date) -> pl.DataFrame:
    """Rebuild ``spec``'s silver rows for ``[start, end)`` from its bronze table as it is
    (a show mapping changed, or bronze was rewritten alone)."""
    bronze = delta.read(bronze_table(settings, spec), delta.in_window("period_start", start, end),
                        empty_frame(bronze_schema(spec)).schema)
    listens, used = silver_rows(settings, spec, bronze, (start, end))
    periods = periods_in(spec, start, end)
    write_silver(settings, spec, listens, periods)
    ledger.record(settings, resolution_entries(spec, used, periods))
    return listens
