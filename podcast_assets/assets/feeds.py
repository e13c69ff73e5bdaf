"""Each provider feed's step: its ``bronze/<provider>`` and ``silver/<provider>_listens``
assets, materialized together (bronze's rows reach silver without a Delta round trip,
and the two commits run at once) or, selected alone, each by itself: bronze alone in
the UI, silver alone when a show mapping changed. Partitioned by the provider's cadence;
a ranged backfill is one run."""

import dagster as dg

from podcast_assets.assets.bronze import LAKEHOUSE_POOL, bronze_metadata, bronze_spec, fail_if_rejected
from podcast_assets.assets.keys import bronze_key, silver_key
from podcast_assets.assets.silver import silver_metadata, silver_spec
from podcast_assets.feed import ingest_feed
from podcast_assets.partitions import partition_key, partitions_for, window_dates
from podcast_assets.providers.specs import PROVIDERS, ProviderSpec
from podcast_assets.resources import LakehouseResource


def build_feed_asset(spec: ProviderSpec) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"{spec.name}_feed",
        specs=[bronze_spec(spec), silver_spec(spec)],
        partitions_def=partitions_for(spec),
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        pool=LAKEHOUSE_POOL,
        description=f"{spec.name}'s drops into bronze/{spec.name} and its slice of silver/listens, in one step.",
    )
    def _feed(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
        settings = lakehouse.settings
        start, end = window_dates(context.partition_time_window)
        selected = context.selected_asset_keys
        run = ingest_feed(settings, spec, start, end, context.log,
                          bronze=bronze_key(spec) in selected, silver=silver_key(spec) in selected)
        written = []
        if run.bronze is not None:
            written.append((bronze_key(spec), bronze_metadata(run.bronze, settings, spec, context)))
        if run.silver is not None:
            metadata = silver_metadata(run.silver, settings, context)
            context.log.info("%s silver [%s, %s): %d rows, %d unmapped listens", spec.name, start, end,
                             run.silver.height, metadata["unmapped_listens"])
            written.append((silver_key(spec), metadata))
        if run.bronze is None or not run.bronze.failures:
            for key, metadata in written:
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            return
        # A file was rejected: only the partitions that took a good delivery were
        # materialized; the others (the rejected ones among them) keep their last good data.
        for period in run.bronze.periods:
            for key, metadata in written:
                yield dg.AssetMaterialization(asset_key=key, partition=partition_key(spec, period), metadata=metadata)
        fail_if_rejected(run.bronze)

    return _feed


feed_assets = [build_feed_asset(spec) for spec in PROVIDERS]
