"""The Dagster code location: every asset, sensor and resource."""

import dagster as dg

from podcast_assets.assets.bronze import bronze_assets
from podcast_assets.assets.catalog import catalog_assets
from podcast_assets.assets.feeds import feed_assets
from podcast_assets.assets.gold import gold_assets
from podcast_assets.assets.serving import serving_assets
from podcast_assets.automation import automation_sensor
from podcast_assets.checks import asset_checks
from podcast_assets.resources import all_resources
from podcast_assets.sensors import sensors

all_assets = [*bronze_assets, *catalog_assets, *feed_assets, *gold_assets, *serving_assets]
# What in-process runs (refresh, tests) hand to ``dg.materialize``: assets and their checks.
materializable = [*all_assets, *asset_checks]

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=asset_checks,
    sensors=[*sensors, automation_sensor],
    resources=all_resources(),
)
