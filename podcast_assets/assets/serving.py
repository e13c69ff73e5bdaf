"""The ``serving`` asset group: gold Delta tables -> the DuckDB serving store.

``DuckDBResource`` binds a connection to one database path for its whole life, while the
store must be built in a fresh temporary file and renamed over the live one. So the
resource is configured in-memory (``database=":memory:"``) and serves as the build engine
(its ``connection_config`` sets threads and memory); ``publish_serving_store`` attaches
the temporary file to that connection, fills it and swaps it in.
"""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from podcast_assets.automation import ON_CHANGE_OR_FAILURE, RETRY_PASSING_FAULTS
from podcast_assets.catalog import PODCASTS_SCHEMA
from podcast_assets.gold_inputs import GOLD_SCHEMAS
from podcast_assets.metadata import markdown_preview
from podcast_assets.resources import LakehouseResource
from podcast_assets.serving import publish_serving_store, store_path
from podcast_assets.storage import delta

# (layer, table) of every Delta table published; the asset keys are ``[layer, table]``.
PUBLISHED = (
    ("gold", "podcast_monthly_estimates"),
    ("gold", "episode_first_30_days"),
    ("gold", "podcast_trends"),
    ("gold", "creator_popularity"),
    ("silver", "podcasts"),
)


@dg.asset(
    key=["serving", "serving_store"],
    group_name="serving",
    deps=[dg.AssetKey([layer, table]) for layer, table in PUBLISHED],
    automation_condition=ON_CHANGE_OR_FAILURE,
    retry_policy=RETRY_PASSING_FAULTS,
    kinds={"duckdb"},
    description="The gold tables and the podcast catalog, with indexes and analyst views, as one DuckDB "
    "file (serving/serving.duckdb) that the API reads; rebuilt whole and swapped in atomically.",
)
def serving_store(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, serving_duckdb: DuckDBResource
) -> dg.MaterializeResult:
    settings = lakehouse.settings
    # the catalog may not have landed yet (then no podcast has a title), nor any listens
    # (then the gold tables are empty): neither is an error
    schemas = {"podcasts": PODCASTS_SCHEMA, **GOLD_SCHEMAS}
    tables = {table: delta.read(settings.delta(layer, table), schema=schemas.get(table)) for layer, table in PUBLISHED}
    path = store_path(settings.serving_dir)
    with serving_duckdb.get_connection() as conn:
        counts = publish_serving_store(tables, path, connection=conn)
    context.log.info(f"published {path}")
    per_table = pl.DataFrame({"table": list(counts), "rows": list(counts.values())})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),  # rows of every published table together
            "path": dg.MetadataValue.path(str(path)),
            "preview": dg.MetadataValue.md(markdown_preview(per_table, rows=per_table.height)),
            **{f"rows/{t}": n for t, n in counts.items()},
        }
    )


serving_assets = [serving_store]
