"""Sensors and the plan behind them: real sensor evaluations (``evaluate_tick`` with the
code location's definitions, a real instance and the lakehouse resource), cursors carried
from one evaluation to the next, and the requested runs executed as the daemon would."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from podcast_assets.definitions import defs
from podcast_assets.planning import SOURCE_TAG, merge_ranges, outside_partitions, plan
from podcast_assets.providers.specs import PROVIDERS
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import get_settings
from podcast_assets.storage import ledger
from podcast_assets.storage.archive import archive
from podcast_assets_tests.conftest import (
    CATALOG_KEYS,
    GUID_A,
    PODNEWS,
    PODNEWS_GUID,
    Drops,
    block_table,
    derived,
    event,
    failure_messages,
    materialize,
    quarantine_reasons,
    register_segments,
    run_request,
    silver_rows,
)

CIRRUS = [dg.AssetKey(["bronze", "cirrus"]), dg.AssetKey(["silver", "cirrus_listens"])]


def tick(instance: dg.DagsterInstance, lakehouse: LakehouseResource, source: str, cursor: str | None):
    sensor = defs.resolve_sensor_def(f"{source}_drops")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lakehouse": lakehouse}, definitions=defs)
    return sensor.evaluate_tick(context)


def execute_all(instance, lakehouse, requests: list[dg.RunRequest]) -> None:
    for request in requests:
        result = run_request(instance, lakehouse, request)
        assert result.success, failure_messages(result)


# ---- the code location ---------------------------------------------------------------------
def test_definitions_load_and_sensors_run_by_default() -> None:
    dg.Definitions.validate_loadable(defs)
    sensors = {s.name: s for s in defs.sensors}
    expected = {"catalog_drops", *(f"{spec.name}_drops" for spec in PROVIDERS)}
    assert expected <= set(sensors)
    # every sensor of the location is on by default: `dagster dev` ingests with nobody clicking
    assert {name: s.default_status for name, s in sensors.items()} == {
        name: dg.DefaultSensorStatus.RUNNING for name in sensors}

    graph = defs.resolve_asset_graph()
    for spec in PROVIDERS:
        for key in (dg.AssetKey(["bronze", spec.name]), dg.AssetKey(["silver", f"{spec.name}_listens"])):
            pdef = graph.get(key).partitions_def
            kind = dg.MonthlyPartitionsDefinition if spec.cadence == "monthly" else dg.DailyPartitionsDefinition
            assert isinstance(pdef, kind), key
            assert pdef.start.date() == get_settings().data_start  # PODCAST_DATA_START, 2025-01-01 by default
            # the period in progress has a partition (end_offset=1): today / this month
            assert pdef.get_last_partition_key() == pdef.get_partition_key_for_timestamp(time.time())
    assert set(CATALOG_KEYS) <= graph.get_all_asset_keys()


def test_runs_the_daemon_launches_are_failed_by_run_monitoring_once_lost(tmp_path, instance, lakehouse,
                                                                       drops: Drops) -> None:
    """A run the daemon launched and lost (``dagster dev`` killed hard) would stay STARTED
    for good, its partitions "in progress" for ever: the checkout's instance turns on
    Dagster's run monitoring, and the runs our sensors and automation request carry the
    max runtime it enforces (then the failed run's work is requested again, tested below)."""
    shutil.copy(Path(__file__).parents[1] / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as checkout:
        assert checkout.run_monitoring_enabled
        assert checkout.run_monitoring_max_runtime_seconds == 0  # untagged runs (refresh's, the UI's): no limit
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    (request,) = tick(instance, lakehouse, "cirrus", None).run_requests
    assert request.tags["dagster/max_runtime"] == "3600"
    assert defs.resolve_sensor_def("gold_automation").run_tags["dagster/max_runtime"] == "3600"


def test_the_daemons_runs_of_one_source_run_one_at_a_time(tmp_path, instance, lakehouse, drops: Drops) -> None:
    """A file re-delivered while its first delivery is being ingested must not be ingested
    by two runs at once (the one committing last would win, old or new): the checkout's
    instance queues the runs of one source behind each other, by the tag every run our
    sensors request carries."""
    shutil.copy(Path(__file__).parents[1] / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as checkout:
        assert checkout.get_concurrency_config().run_queue_config.tag_concurrency_limits == [
            {"key": SOURCE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    (request,) = tick(instance, lakehouse, "cirrus", None).run_requests
    assert request.tags[SOURCE_TAG] == "cirrus"


# ---- cursors ---------------------------------------------------------------------------------
def test_sensor_cursor_across_evaluations(instance, lakehouse, settings, drops: Drops) -> None:
    path = drops.cirrus("2025-03-05", [(PODNEWS, 7)])

    first = tick(instance, lakehouse, "cirrus", None)
    (request,) = first.run_requests
    assert request.partition_key == "2025-03-05"
    assert list(request.asset_selection) == CIRRUS
    assert "cirrus-2025-03-05.json" in request.run_key
    assert request.run_key in json.loads(first.cursor)

    second = tick(instance, lakehouse, "cirrus", first.cursor)
    assert second.run_requests == [] and "nothing new" in second.skip_message
    assert second.cursor == first.cursor

    size = path.stat().st_size
    drops.cirrus("2025-03-05", [(PODNEWS, 9)])  # re-delivered: a restatement of the same size, newer
    assert path.stat().st_size == size
    third = tick(instance, lakehouse, "cirrus", second.cursor)
    (again,) = third.run_requests
    assert again.partition_key == "2025-03-05" and again.run_key != request.run_key
    assert set(json.loads(third.cursor)) == {request.run_key, again.run_key}

    # the daemon runs it; a restarted daemon (cursor lost) does not ingest it twice
    execute_all(instance, lakehouse, [again])
    assert silver_rows(settings, "cirrus") == [(PODNEWS_GUID, None, "2025-03-05", "day", 9, None)]
    assert tick(instance, lakehouse, "cirrus", None).run_requests == []


# ---- failed runs ----------------------------------------------------------------------------
def test_sensor_requests_work_again_after_its_run_failed(instance, lakehouse, settings, drops: Drops) -> None:
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    first = tick(instance, lakehouse, "cirrus", None)
    (request,) = first.run_requests
    blocker = block_table(settings, "bronze", "cirrus")
    assert not run_request(instance, lakehouse, request).success
    assert quarantine_reasons(settings, "cirrus") == []
    blocker.unlink()

    second = tick(instance, lakehouse, "cirrus", first.cursor)
    (again,) = second.run_requests
    assert again.run_key == request.run_key + "#retry1"
    assert again.partition_key == "2025-03-05" and list(again.asset_selection) == CIRRUS
    execute_all(instance, lakehouse, [again])
    assert silver_rows(settings, "cirrus") == [(PODNEWS_GUID, None, "2025-03-05", "day", 7, None)]

    third = tick(instance, lakehouse, "cirrus", second.cursor)
    assert third.run_requests == [] and third.skip_message == "nothing new for cirrus"


def test_sensor_gives_up_after_three_failed_runs_and_never_retries_a_quarantined_file(
    instance, lakehouse, settings, drops: Drops
) -> None:
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    blocker = block_table(settings, "bronze", "cirrus")
    cursor, keys = None, []
    for _ in range(3):
        result = tick(instance, lakehouse, "cirrus", cursor)
        (request,) = result.run_requests
        keys.append(request.run_key)
        assert not run_request(instance, lakehouse, request).success
        cursor = result.cursor
    assert keys[1:] == [keys[0] + "#retry1", keys[0] + "#retry2"]

    given_up = tick(instance, lakehouse, "cirrus", cursor)
    assert given_up.run_requests == []
    assert "not retried after 3 failed runs each: cirrus 2025-03-05" in given_up.skip_message

    # a bad file fails its run too, but it is quarantined, so handled: it is not retried
    blocker.unlink()
    drops.cirrus("2025-03-06", [(PODNEWS, -1)])
    bad = tick(instance, lakehouse, "cirrus", given_up.cursor)
    (request,) = bad.run_requests
    assert request.partition_key == "2025-03-06"
    assert not run_request(instance, lakehouse, request).success
    assert [r["file"] for r in quarantine_reasons(settings, "cirrus")] == ["cirrus-2025-03-06.json"]
    assert tick(instance, lakehouse, "cirrus", bad.cursor).run_requests == []


def test_sensor_requests_one_run_per_partition_and_skips_unknown_partitions(instance, lakehouse, drops: Drops) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    for day in ("2025-03-03", "2025-03-04"):
        drops.boreal(day, [(day, "s1", "ep-1", "t", 1)])
    drops.boreal("2024-12-31", [("2024-12-31", "s1", "ep-1", "t", 1)])  # before PODCAST_DATA_START
    drops.boreal("2099-01-01", [("2099-01-01", "s1", "ep-1", "t", 1)])  # no such partition yet
    drops.write("boreal", "notes.txt", "not a drop")

    result = tick(instance, lakehouse, "boreal", None)

    by_partition = {r.partition_key: r for r in result.run_requests}
    assert set(by_partition) == {None, "2025-03-03", "2025-03-04"}  # not 2024-12-31 nor 2099-01-01
    pdef = defs.resolve_asset_graph().get(dg.AssetKey(["bronze", "boreal"])).partitions_def
    assert all(pdef.has_partition_key(key) for key in by_partition if key)
    assert list(by_partition[None].asset_selection) == [dg.AssetKey(["bronze", "show_directory"])]
    assert len({r.run_key for r in result.run_requests}) == 3


def test_a_show_mapping_that_flips_back_is_rebuilt_each_time(instance, lakehouse, settings, drops: Drops) -> None:
    """boreal's directory maps s1 to Podnews, then another feed, then Podnews, then the
    other again: each change rebuilds silver under its own run key (the fourth rebuild's
    key was the second's, so the sensor took it for done)."""
    other = "https://feeds.example.com/show"
    drops.shows("boreal", {"s1": PODNEWS})
    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)])
    cursor, rebuilds = None, []

    def settle() -> None:
        nonlocal cursor
        for _ in range(4):
            result = tick(instance, lakehouse, "boreal", cursor)
            cursor = result.cursor
            rebuilds.extend(r.run_key for r in result.run_requests if ":resolve:" in r.run_key)
            if not result.run_requests:
                return
            execute_all(instance, lakehouse, result.run_requests)

    settle()
    for url, guid in ((other, derived("feeds.example.com/show")), (PODNEWS, PODNEWS_GUID), (other, derived("feeds.example.com/show"))):
        drops.shows("boreal", {"s1": url})
        settle()
        assert [row[0] for row in silver_rows(settings, "boreal")] == [guid]
    assert len(rebuilds) == len(set(rebuilds)) == 3


def test_drops_and_events_outside_the_partitions_are_named(instance, lakehouse, settings, drops: Drops) -> None:
    """A daily file dated before PODCAST_DATA_START, and a replayed segment holding an
    event of such a day (the collector refuses those), wait for a partition; they are
    named (``refresh`` prints them), not skipped in silence."""
    drops.shows("aurora", {"s1": PODNEWS})
    drops.boreal("2024-12-31", [("2024-12-31", "s1", "ep-1", "t", 1)])
    drops.aurora("replay.ndjson", [event("e1", "2025-03-01T12:00:00Z"), event("e0", "2024-06-01T12:00:00Z")])
    assert register_segments(instance, lakehouse).success
    assert outside_partitions(settings) == [
        "aurora/replay.ndjson, its events of 2024-06-01 (1)",
        "boreal/boreal_plays_2024-12-31.csv",
    ]


# ---- aurora: segments, then days; a late segment re-requests an old day ---------------------------
def test_aurora_sensor_late_segment_rerequests_old_day(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("aurora", {"s1": PODNEWS})
    drops.aurora("seg-000001.ndjson", [event("e1", "2025-03-01T12:00:00Z"), event("e2", "2025-03-02T12:00:00Z")])
    drops.aurora("seg-000002.ndjson", [event("e2", "2025-03-02T12:00:00Z"), event("e3", "2025-03-02T13:00:00Z")])

    t1 = tick(instance, lakehouse, "aurora", None)  # the directory and the new segments, unpartitioned
    assert sorted(str(r.asset_selection) for r in t1.run_requests) == sorted(
        [str([dg.AssetKey(["bronze", "show_directory"])]), str([dg.AssetKey(["bronze", "aurora_segments"])])])
    assert all(r.partition_key is None for r in t1.run_requests)
    execute_all(instance, lakehouse, t1.run_requests)

    t2 = tick(instance, lakehouse, "aurora", t1.cursor)  # now the days those segments touch
    assert sorted(r.partition_key for r in t2.run_requests) == ["2025-03-01", "2025-03-02"]
    execute_all(instance, lakehouse, t2.run_requests)
    assert silver_rows(settings, "aurora") == [
        (PODNEWS_GUID, "ep-1", "2025-03-01", "day", 1, None),  # e1
        (PODNEWS_GUID, "ep-1", "2025-03-02", "day", 2, None),  # e2 (twice delivered, once counted), e3
    ]
    t3 = tick(instance, lakehouse, "aurora", t2.cursor)
    assert t3.run_requests == []

    # a segment arrives days later with a late listen on 03-01 (and e1 again)
    drops.aurora("seg-000003.ndjson", [event("e4", "2025-03-01T20:00:00Z"), event("e1", "2025-03-01T12:00:00Z")])
    t4 = tick(instance, lakehouse, "aurora", t3.cursor)
    (register,) = t4.run_requests
    assert list(register.asset_selection) == [dg.AssetKey(["bronze", "aurora_segments"])]
    execute_all(instance, lakehouse, t4.run_requests)
    t5 = tick(instance, lakehouse, "aurora", t4.cursor)
    (old_day,) = t5.run_requests
    assert old_day.partition_key == "2025-03-01"
    assert old_day.run_key not in json.loads(t4.cursor)
    execute_all(instance, lakehouse, t5.run_requests)
    assert silver_rows(settings, "aurora") == [
        (PODNEWS_GUID, "ep-1", "2025-03-01", "day", 2, None),  # e1, e4
        (PODNEWS_GUID, "ep-1", "2025-03-02", "day", 2, None),  # untouched
    ]
    assert tick(instance, lakehouse, "aurora", t5.cursor).run_requests == []


# ---- the catalog lands later: the provider's silver is re-resolved ------------------------------
def test_catalog_landing_later_re_resolves_silver(instance, lakehouse, settings, drops: Drops) -> None:
    drops.cirrus("2025-03-05", [("https://feeds.example.com/show/", 4)])
    first = tick(instance, lakehouse, "cirrus", None)
    execute_all(instance, lakehouse, first.run_requests)
    assert silver_rows(settings, "cirrus") == [(derived("feeds.example.com/show"), None, "2025-03-05", "day", 4, None)]

    drops.feed("show.xml", "https://Feeds.Example.com/show", podcast_guid=GUID_A)
    # while the catalog is pending, the provider waits for it
    waiting = tick(instance, lakehouse, "cirrus", first.cursor)
    assert waiting.run_requests == []
    catalog = tick(instance, lakehouse, "catalog", None)
    (load,) = catalog.run_requests
    assert set(load.asset_selection) == set(CATALOG_KEYS)
    execute_all(instance, lakehouse, [load])

    resolve = tick(instance, lakehouse, "cirrus", waiting.cursor)
    (request,) = resolve.run_requests
    assert list(request.asset_selection) == [dg.AssetKey(["silver", "cirrus_listens"])]  # bronze is not re-read from landing
    assert request.partition_key == "2025-03-05"
    execute_all(instance, lakehouse, [request])
    assert silver_rows(settings, "cirrus") == [(GUID_A, None, "2025-03-05", "day", 4, None)]
    assert tick(instance, lakehouse, "cirrus", resolve.cursor).run_requests == []
    assert tick(instance, lakehouse, "catalog", catalog.cursor).run_requests == []


def test_directory_landing_later_requests_a_ranged_re_resolve(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    drops.boreal("2025-03-03", [("2025-03-03", "s404", "ep-1", "t", 3)])
    drops.boreal("2025-03-04", [("2025-03-04", "s404", "ep-1", "t", 4)])
    t1 = tick(instance, lakehouse, "boreal", None)
    execute_all(instance, lakehouse, t1.run_requests)
    assert [r[0] for r in silver_rows(settings, "boreal")] == [None, None]  # s404 unmapped on both days

    drops.shows("boreal", {"s1": PODNEWS, "s404": "https://feeds.example.com/show"})
    t2 = tick(instance, lakehouse, "boreal", t1.cursor)
    (directory,) = t2.run_requests  # the directory first; re-resolving waits for it
    assert list(directory.asset_selection) == [dg.AssetKey(["bronze", "show_directory"])]
    execute_all(instance, lakehouse, t2.run_requests)

    t3 = tick(instance, lakehouse, "boreal", t2.cursor)
    (resolve,) = t3.run_requests  # both stale days in one ranged, silver-only run
    assert list(resolve.asset_selection) == [dg.AssetKey(["silver", "boreal_listens"])]
    assert resolve.partition_key is None
    assert (resolve.tags["dagster/asset_partition_range_start"], resolve.tags["dagster/asset_partition_range_end"]) == (
        "2025-03-03", "2025-03-04")
    execute_all(instance, lakehouse, t3.run_requests)
    assert silver_rows(settings, "boreal") == [
        (derived("feeds.example.com/show"), "ep-1", "2025-03-03", "day", 3, None),
        (derived("feeds.example.com/show"), "ep-1", "2025-03-04", "day", 4, None),
    ]
    assert tick(instance, lakehouse, "boreal", t3.cursor).run_requests == []


# ---- silver behind bronze: a run stopped between its steps, or bronze materialized alone ---------
@pytest.mark.parametrize("source", ["cirrus", "dune"])  # shows by feed URL; by podcast:guid
def test_silver_catches_up_with_bronze_rewritten_alone(source, instance, lakehouse, settings, drops: Drops) -> None:
    def deliver(listens: int) -> None:
        if source == "cirrus":
            drops.cirrus("2025-03-05", [(PODNEWS, listens)])
        else:
            drops.dune("2025-03", [("2025-03", GUID_A, listens)])

    partition = "2025-03-05" if source == "cirrus" else "2025-03-01"
    deliver(7)
    first = tick(instance, lakehouse, source, None)
    execute_all(instance, lakehouse, first.run_requests)
    assert [row[4] for row in silver_rows(settings, source)] == [7]

    deliver(9)  # a restatement whose run stops after bronze (here: bronze materialized alone)
    assert materialize(instance, lakehouse, [dg.AssetKey(["bronze", source])], partition).success
    assert [row[4] for row in silver_rows(settings, source)] == [7]

    # while a run of this source is in flight, which may be about to rebuild it, silver waits
    running = dg.DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                            tags={"podcast_assets/source": source})
    instance.add_run(running)
    held = tick(instance, lakehouse, source, first.cursor)
    assert held.run_requests == []
    instance.report_run_failed(running)

    catch_up = tick(instance, lakehouse, source, held.cursor)
    (request,) = catch_up.run_requests
    assert list(request.asset_selection) == [dg.AssetKey(["silver", f"{source}_listens"])]
    assert request.partition_key == partition
    execute_all(instance, lakehouse, [request])
    assert [row[4] for row in silver_rows(settings, source)] == [9]
    assert tick(instance, lakehouse, source, catch_up.cursor).run_requests == []


# ---- folding a backfill into ranged runs -----------------------------------------------------------
def test_merge_ranges_folds_consecutive_partitions(settings, drops: Drops) -> None:
    for day in ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-05"):  # 03-04 missing
        drops.cirrus(day, [(PODNEWS, 1)])
    drops.dune("2025-03", [("2025-03", GUID_A, 1)])

    work = merge_ranges(plan(settings))

    assert [(w.source, w.first_partition, w.last_partition, len(w.parts)) for w in work] == [
        ("cirrus", "2025-03-01", "2025-03-03", 3),
        ("cirrus", "2025-03-05", "2025-03-05", 1),
        ("dune", "2025-03-01", "2025-03-01", 1),
    ]
    ranged = work[0].run_request()
    assert ranged.partition_key is None
    assert ranged.tags == {"dagster/asset_partition_range_start": "2025-03-01",
                           "dagster/asset_partition_range_end": "2025-03-03", "podcast_assets/source": "cirrus"}
    assert work[1].run_request().partition_key == "2025-03-05"
    assert len({w.run_key for w in work}) == 3


@pytest.mark.parametrize("source", ["catalog", *(spec.name for spec in PROVIDERS)])
def test_empty_lakehouse_plans_nothing(instance, lakehouse, settings, source: str) -> None:
    assert plan(settings, [source]) == []
    assert tick(instance, lakehouse, source, None).run_requests == []


def test_files_dated_outside_the_partitions_are_named_not_planned(tmp_path) -> None:
    from podcast_assets.planning import outside_partitions, plan
    from podcast_assets.settings import Settings

    settings = Settings(lakehouse_dir=str(tmp_path / "lakehouse"))
    folder = settings.landing("cirrus")
    folder.mkdir(parents=True)
    for day in ("2024-12-31", "2025-01-02", "2099-01-01"):  # before the start, inside, future
        (folder / f"cirrus-{day}.json").write_text(f'{{"date": "{day}", "rows": []}}')
    assert outside_partitions(settings) == ["cirrus/cirrus-2024-12-31.json", "cirrus/cirrus-2099-01-01.json"]
    assert [w.first_partition for w in plan(settings)] == ["2025-01-02"]
    # a file ingested while its day had a partition (PODCAST_DATA_START was earlier) is not waiting
    ingested = archive(settings, "cirrus", folder / "cirrus-2024-12-31.json")
    ledger.record(settings, [ledger.entry(ingested, "ingested", period_start=date(2024, 12, 31), period_grain="day")])
    assert outside_partitions(settings) == ["cirrus/cirrus-2099-01-01.json"]


def test_the_sensor_names_a_drop_named_for_no_real_date(instance, lakehouse, settings, drops: Drops) -> None:
    drops.write("dune", "dune_2025-13.csv", "\ufeffMonth;Podcast GUID;Listens\r\n")
    drops.dune("2025-03", [("2025-03", GUID_A, 5)])
    first = tick(instance, lakehouse, "dune", None)
    assert [r.partition_key for r in first.run_requests] == ["2025-03-01"]
    execute_all(instance, lakehouse, first.run_requests)
    second = tick(instance, lakehouse, "dune", first.cursor)
    assert second.run_requests == []
    assert "named for no real date (rename to ingest): dune_2025-13.csv" in second.skip_message


def test_a_corrected_file_of_the_same_size_and_mtime_is_new_work(instance, lakehouse, settings, drops: Drops) -> None:
    """A provider regenerates a day with one digit changed and copies it with its mtime
    kept (cp -p, rsync -t): same name, size and mtime, yet a restatement."""
    first = drops.cirrus("2025-03-05", [(PODNEWS, 144)])
    execute_all(instance, lakehouse, tick(instance, lakehouse, "cirrus", None).run_requests)
    assert plan(settings, ["cirrus"]) == []
    stat = first.stat()
    corrected = drops.cirrus("2025-03-05", [(PODNEWS, 194)])
    os.utime(corrected, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (corrected.stat().st_size, corrected.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    (work,) = plan(settings, ["cirrus"])
    assert work.first_partition == "2025-03-05"
    execute_all(instance, lakehouse, [work.run_request()])
    assert silver_rows(settings, "cirrus") == [(PODNEWS_GUID, None, "2025-03-05", "day", 194, None)]


def test_a_restatement_under_another_name_counts_by_when_it_landed(instance, lakehouse, settings, drops: Drops) -> None:
    """boreal restates a day as .csv.gz beside its .csv, copied with an mtime older than
    the .csv's (cp -p, rsync -t): it landed last, so it holds the day."""
    drops.shows("boreal", {"s1": PODNEWS})
    first = drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)])
    execute_all(instance, lakehouse, [w.run_request() for w in plan(settings, ["boreal"])])
    restated = drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 500)], gz=True)
    older = first.stat().st_mtime_ns - 10**9
    os.utime(restated, ns=(older, older))
    (work,) = plan(settings, ["boreal"])
    assert work.first_partition == "2025-03-03" and restated.name in work.description
    execute_all(instance, lakehouse, [work.run_request()])
    assert silver_rows(settings, "boreal") == [(PODNEWS_GUID, "ep-1", "2025-03-03", "day", 500, None)]


def test_one_providers_directory_does_not_stand_for_anothers(instance, lakehouse, settings, drops: Drops) -> None:
    """Every provider's directory is called shows.csv. The ledger holds aurora's delivery
    of a shows.csv whose fingerprint is exactly that of boreal's (as a copy keeping size
    and times would give): boreal's directory is still its own, and is ingested."""
    drops.shows("aurora", {"au_1": PODNEWS})
    execute_all(instance, lakehouse, tick(instance, lakehouse, "aurora", None).run_requests)
    boreal = drops.shows("boreal", {"BO_1": PODNEWS})
    same = archive(settings, "aurora", boreal)  # an aurora ledger entry with boreal's name and fingerprint
    ledger.record(settings, [ledger.entry(same, "ingested", rows=1)])
    execute_all(instance, lakehouse, tick(instance, lakehouse, "boreal", None).run_requests)
    directory = pl.read_delta(settings.delta("bronze", "show_directory"))
    assert sorted(directory.select("provider", "show_id").rows()) == [("aurora", "au_1"), ("boreal", "BO_1")]
    assert plan(settings, ["boreal"]) == []


def test_a_recrawl_that_maps_shows_as_before_re_resolves_nothing(instance, lakehouse, settings, drops: Drops) -> None:
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)
    drops.cirrus("2025-03-05", [("https://feeds.example.com/show/", 4)])
    for source in ("catalog", "cirrus"):
        execute_all(instance, lakehouse, tick(instance, lakehouse, source, None).run_requests)
    assert silver_rows(settings, "cirrus") == [(GUID_A, None, "2025-03-05", "day", 4, None)]

    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)  # crawled again, same mapping
    recrawl = tick(instance, lakehouse, "catalog", None)
    assert len(recrawl.run_requests) == 1
    execute_all(instance, lakehouse, recrawl.run_requests)
    assert tick(instance, lakehouse, "cirrus", None).run_requests == []  # same stamp: nothing is stale
