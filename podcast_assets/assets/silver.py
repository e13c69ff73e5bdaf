"""Silver: ``delta/silver/listens``, every provider's listens in one canonical shape,
keyed by ``podcast_guid``. Each provider's slice is its own asset (partitioned like the
provider), written with a predicate on ``provider`` and the partition window."""

import dagster as dg
import polars as pl

from podcast_assets.assets.bronze import LAKEHOUSE_POOL
from podcast_assets.assets.keys import FEED_URLS, SHOW_DIRECTORY, bronze_key, silver_key
from podcast_assets.metadata import table_metadata
from podcast_assets.partitions import partitions_for, window_dates
from podcast_assets.providers.specs import PROVIDERS, ProviderSpec
from podcast_assets.resources import LakehouseResource
from podcast_assets.silver import LISTENS, write_silver


def _identity_deps(spec: ProviderSpec) -> list[dg.AssetKey]:
    return {"podcast_guid": [], "feed_url": [FEED_URLS], "show_id": [SHOW_DIRECTORY, FEED_URLS]}[spec.show_key]


def build_silver_asset(spec: ProviderSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=silver_key(spec),
        deps=[bronze_key(spec), *_identity_deps(spec)],
        group_name="silver",
        partitions_def=partitions_for(spec),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=LAKEHOUSE_POOL,
        kinds={"polars", "deltalake"},
        description=(
            f"{spec.name}'s slice of delta/silver/listens: listens per podcast_guid"
            f"{', episode' if spec.grain == 'episode' else ''} and {spec.period_grain}, deduplicated and "
            "mapped to canonical ids. Listens of shows not mapped yet are kept (podcast_guid null, "
            "unmapped_show set) and re-resolved when the directory or catalog that maps them lands."
        ),
    )
    def _silver(context: dg.AssetExecutionContext, lakehouse: LakehouseResource) -> dg.MaterializeResult:
        settings = lakehouse.settings
        start, end = window_dates(context.partition_time_window)
        listens = write_silver(settings, spec, start, end)
        unmapped = listens.filter(pl.col("podcast_guid").is_null())
        context.log.info("%s silver [%s, %s): %d rows, %d unmapped listens", spec.name, start, end, listens.height, unmapped.get_column("listens").sum())
        return dg.MaterializeResult(
            metadata=table_metadata(
                listens,
                settings.delta(*LISTENS),
                context,
                listens=int(listens.get_column("listens").sum()),
                unmapped_listens=int(unmapped.get_column("listens").sum()),
                unmapped_shows=unmapped.get_column("unmapped_show").n_unique(),
                podcasts=listens.get_column("podcast_guid").drop_nulls().n_unique(),
            )
        )

    return _silver


silver_assets = [build_silver_asset(spec) for spec in PROVIDERS]
