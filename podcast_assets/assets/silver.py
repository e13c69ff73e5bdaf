"""Silver: ``delta/silver/listens``, every provider's listens in one canonical shape,
keyed by ``podcast_guid``. Each provider's slice is its own asset (partitioned like the
provider, materialized by its feed step, ``assets/feeds.py``): a write replaces the rows
of its ``provider`` and the periods it covers (``storage.delta.overwrite_periods``)."""

import dagster as dg
import polars as pl

from podcast_assets.assets.keys import FEED_URLS, SHOW_DIRECTORY, bronze_key, silver_key
from podcast_assets.metadata import table_metadata
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import Settings
from podcast_assets.silver import LISTENS


def _identity_deps(spec: ProviderSpec) -> list[dg.AssetKey]:
    return {"podcast_guid": [], "feed_url": [FEED_URLS], "show_id": [SHOW_DIRECTORY, FEED_URLS]}[spec.show_key]


def silver_spec(spec: ProviderSpec) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=silver_key(spec),
        deps=[bronze_key(spec), *_identity_deps(spec)],
        group_name="silver",
        kinds={"polars", "deltalake"},
        description=(
            f"{spec.name}'s slice of delta/silver/listens: listens per podcast_guid"
            f"{', episode' if spec.grain == 'episode' else ''} and {spec.period_grain}, deduplicated and "
            "mapped to canonical ids. Listens of shows not mapped yet are kept (podcast_guid null, "
            "unmapped_show set) and re-resolved when the directory or catalog that maps them lands."
        ),
    )


def silver_metadata(listens: pl.DataFrame, settings: Settings, context: dg.AssetExecutionContext) -> dict:
    unmapped = listens.filter(pl.col("podcast_guid").is_null())
    guids = listens.get_column("podcast_guid")
    return table_metadata(
        listens,
        settings.delta(*LISTENS),
        context,
        listens=int(listens.get_column("listens").sum()),
        unmapped_listens=int(unmapped.get_column("listens").sum()),
        unmapped_shows=unmapped.get_column("unmapped_show").n_unique(),
        podcasts=guids.n_unique() - min(guids.null_count(), 1),  # (null is no podcast; dropping nulls copies)
    )
