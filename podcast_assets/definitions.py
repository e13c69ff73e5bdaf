"""The Dagster code location: every asset, check, sensor and resource."""

import dagster as dg

from podcast_assets.assets.bronze import bronze_assets
from podcast_assets.assets.catalog import catalog_assets
from podcast_assets.assets.silver import silver_assets
from podcast_assets.resources import default_lakehouse
from podcast_assets.sensors import sensors

all_assets = [*bronze_assets, *catalog_assets, *silver_assets]

defs = dg.Definitions(
    assets=all_assets,
    sensors=sensors,
    resources={"lakehouse": default_lakehouse()},
)
