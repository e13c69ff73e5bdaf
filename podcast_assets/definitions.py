"""The Dagster code location: every asset, sensor and resource."""

import dagster as dg

from podcast_assets.assets.bronze import bronze_assets
from podcast_assets.assets.catalog import catalog_assets
from podcast_assets.assets.gold import gold_assets
from podcast_assets.assets.serving import SERVING_DUCKDB, serving_assets, serving_duckdb_resource
from podcast_assets.assets.silver import silver_assets
from podcast_assets.automation import automation_sensor
from podcast_assets.resources import default_lakehouse
from podcast_assets.sensors import sensors

all_assets = [*bronze_assets, *catalog_assets, *silver_assets, *gold_assets, *serving_assets]

defs = dg.Definitions(
    assets=all_assets,
    sensors=[*sensors, automation_sensor],
    resources={"lakehouse": default_lakehouse(), SERVING_DUCKDB: serving_duckdb_resource()},
)
