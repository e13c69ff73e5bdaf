"""Sensors: new drops ingest themselves. One sensor per provider and one for the catalog,
on by default, each turning ``planning.plan`` into run requests.

Run keys carry the file's name and fingerprint, so Dagster never launches the same input
twice; the cursor remembers the run keys already requested, so a tick after a daemon
restart neither repeats nor misses work (what is done is in the delivery ledger).

Work still pending after its run failed (the ledger did not record its input: a full disk,
a commit that kept conflicting; not a bad file, which is quarantined and so handled) is
requested again under a new run key, up to ``MAX_ATTEMPTS`` runs in all. Rebuilding
silver (``Work.catch_up``) waits while the source has runs in flight, which may be about to
do it. Every run requested carries ``DAEMON_RUN_TAGS``, so one the daemon loses ends failed.
"""

import json
from dataclasses import replace

import dagster as dg

from podcast_assets import landing
from podcast_assets.assets.gold import ESTIMATES, FIRST30
from podcast_assets.assets.keys import SHOW_DIRECTORY, bronze_key, segments_key, silver_key
from podcast_assets.automation import DAEMON_RUN_TAGS
from podcast_assets.ingest import CATALOG
from podcast_assets.planning import CATALOG_KEYS, IN_FLIGHT, SOURCE_TAG, Work, plan
from podcast_assets.providers.specs import PROVIDERS, provider
from podcast_assets.resources import LakehouseResource
from podcast_assets.settling import settling_work

CURSOR_MEMORY = 5000  # run keys remembered in a cursor
MAX_ATTEMPTS = 3  # runs of one unit of work before the sensor leaves it to a person
RETRY = "#retry"  # attempt n + 1 of work runs under the run key "<run key>#retry<n>"
RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster gives each run a sensor requested


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
        pending = plan(lakehouse.settings, [source])
        if context.instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, tags={SOURCE_TAG: source}), limit=1):
            pending = [w for w in pending if not w.catch_up]
        work = [w for w in pending if w.run_key not in seen]
        for item in work:
            context.log.info("requesting %s", item.description)
        retries, given_up = _retries(context, [w for w in pending if w.run_key in seen], requested)
        work += retries
        requested = (requested + [w.run_key for w in work])[-CURSOR_MEMORY:]
        skip = f"nothing new for {source}"
        if source != CATALOG and (misdated := landing.misdated_files(lakehouse.settings, provider(source))):
            skip += "; named for no real date (rename to ingest): " + ", ".join(p.name for p in misdated)
        if given_up:
            skip += f"; not retried after {MAX_ATTEMPTS} failed runs each: " + "; ".join(given_up)
        return dg.SensorResult(
            run_requests=[w.run_request(DAEMON_RUN_TAGS) for w in work],
            cursor=json.dumps(requested),
            skip_reason=None if work else dg.SkipReason(skip),
        )

    return _sensor


def _retries(context: dg.SensorEvaluationContext, requested_work: list[Work],
             requested: list[str]) -> tuple[list[Work], list[str]]:
    """Another attempt at each unit of ``requested_work`` whose last run failed, and the
    descriptions of those that have failed ``MAX_ATTEMPTS`` times (left to a person)."""
    retries, given_up = [], []
    for work in requested_work:
        attempts = [key for key in requested if key == work.run_key or key.startswith(work.run_key + RETRY)]
        runs = context.instance.get_runs(dg.RunsFilter(tags={RUN_KEY_TAG: attempts[-1]}), limit=1)
        if not runs or runs[0].status != dg.DagsterRunStatus.FAILURE:
            continue  # not launched yet, queued, running, or canceled by someone
        if len(attempts) >= MAX_ATTEMPTS:
            given_up.append(f"{work.description} (last run {runs[0].run_id})")
            continue
        context.log.info("requesting %s again: run %s failed (attempt %d of %d)",
                         work.description, runs[0].run_id, len(attempts) + 1, MAX_ATTEMPTS)
        retries.append(replace(work, run_key=f"{work.run_key}{RETRY}{len(attempts)}"))
    return retries, given_up


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
        run_requests=[w.run_request(DAEMON_RUN_TAGS) for w in work],
        skip_reason=None if work else dg.SkipReason("no gold status changed"),
    )


sensors = [build_drop_sensor(CATALOG), *(build_drop_sensor(spec.name) for spec in PROVIDERS), gold_settling]
