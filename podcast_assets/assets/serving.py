"""The ``serving`` asset group: gold Delta tables -> the DuckDB serving store.

``DuckDBResource`` binds a connection to one database path for its whole life, while the
store must be built in a fresh temporary file and renamed over the live one. So the
resource is configured in-memory (``database=":memory:"``) and serves as the build engine
(its ``connection_config`` sets threads and memory); ``publish_serving_store`` attaches
the temporary file to that connection, fills it and swaps it in.
"""

from __future__ import annotations

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from podcast_assets.serving import publish_serving_store, store_path
from podcast_assets.settings import Settings

# The resource key the serving asset expects: ``DuckDBResource(database=":memory:")``.
SERVING_DUCKDB = "serving_duckdb"
GOLD_TABLES = ("podcast_monthly_estimates", "episode_first_30_days", "podcast_trends", "creator_popularity")
SILVER_TABLES = ("podcasts",)

# Rebuild after any upstream partition changes, once no upstream run is still going (so a
# backfill publishes once). Unlike ``eager()``, a never-materialised upstream month does
# not block publishing the months that exist.
REBUILD_WHEN_GOLD_CHANGES = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rebuild when gold changes")


def serving_duckdb_resource() -> DuckDBResource:
    """The build engine for the serving store, to register under ``SERVING_DUCKDB``."""
    return DuckDBResource(database=":memory:")


def build_serving_asset(settings: Settings) -> dg.AssetsDefinition:
    """The ``serving_store`` asset over the lakehouse of ``settings``."""

    @dg.asset(
        name="serving_store",
        group_name="serving",
        deps=[*GOLD_TABLES, *SILVER_TABLES],
        automation_condition=REBUILD_WHEN_GOLD_CHANGES,
        kinds={"duckdb"},
        description="The gold tables, with analyst views, as one DuckDB file for the API; swapped in atomically.",
    )
    def serving_store(context: dg.AssetExecutionContext, serving_duckdb: DuckDBResource) -> dg.MaterializeResult:
        tables = {name: pl.read_delta(settings.delta("gold", name)) for name in GOLD_TABLES}
        tables.update({name: pl.read_delta(settings.delta("silver", name)) for name in SILVER_TABLES})
        path = store_path(settings.serving_dir)
        with serving_duckdb.get_connection() as conn:
            counts = publish_serving_store(tables, path, connection=conn)
        context.log.info("published %s", path)
        return dg.MaterializeResult(
            metadata={"path": dg.MetadataValue.path(str(path)), **{f"rows/{t}": n for t, n in counts.items()}}
        )

    return serving_store
