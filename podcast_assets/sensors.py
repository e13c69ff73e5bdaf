"""Sensors: new drops ingest themselves. One sensor per provider and one for the catalog,
on by default, each turning ``planning.plan`` into run requests.

Run keys carry the file's name and fingerprint, so Dagster never launches the same input
twice; the cursor remembers the run keys already requested, so a tick after a daemon
restart neither repeats nor misses work (what is done is in the delivery ledger).
"""

import json

import dagster as dg

from podcast_assets.assets.gold import ESTIMATES, FIRST30
from podcast_assets.assets.keys import SHOW_DIRECTORY, bronze_key, segments_key, silver_key
from podcast_assets.ingest import CATALOG
from podcast_assets.planning import CATALOG_KEYS, plan
from podcast_assets.providers.specs import PROVIDERS, provider
from podcast_assets.resources import LakehouseResource
from podcast_assets.settling import settling_work

CURSOR_MEMORY = 5000  # run keys remembered in a cursor


def _targets(source: str) -> list[dg.AssetKey]:
    """The assets a source's work may materialize (a sensor's target)."""
    if source == CATALOG:
        return list(CATALOG_KEYS)
    spec = provider(source)
    keys = [bronze_key(spec), silver_key(spec)]
    keys += [segments_key(spec)] if spec.cadence == "instant" else []
    keys += [SHOW_DIRECTORY] if spec.has_show_directory else []
    return keys


def build_drop_sensor(source: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source}_drops",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests ingestion runs for new or re-delivered {source} files.",
        target=_targets(source),
    )
    def _sensor(context: dg.SensorEvaluationContext, lakehouse: LakehouseResource) -> dg.SensorResult:
        requested: list[str] = json.loads(context.cursor) if context.cursor else []
        seen = set(requested)
        work = [w for w in plan(lakehouse.settings, [source]) if w.run_key not in seen]
        for item in work:
            context.log.info("requesting %s", item.description)
        requested = (requested + [w.run_key for w in work])[-CURSOR_MEMORY:]
        return dg.SensorResult(
            run_requests=[w.run_request() for w in work],
            cursor=json.dumps(requested),
            skip_reason=None if work else dg.SkipReason(f"nothing new for {source}"),
        )

    return _sensor


@dg.sensor(
    name="gold_settling",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rematerializes gold months whose status changed with time alone (now final, "
    "30-day windows now complete).",
    target=[ESTIMATES, FIRST30],
)
def gold_settling(context: dg.SensorEvaluationContext, lakehouse: LakehouseResource) -> dg.SensorResult:
    work = settling_work(lakehouse.settings)
    for item in work:
        context.log.info("requesting %s", item.description)
    return dg.SensorResult(
        run_requests=[w.run_request() for w in work],
        skip_reason=None if work else dg.SkipReason("no gold status changed"),
    )


sensors = [build_drop_sensor(CATALOG), *(build_drop_sensor(spec.name) for spec in PROVIDERS), gold_settling]
