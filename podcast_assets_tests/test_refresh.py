"""``podcast-assets refresh``: the sensors' plan executed in-process against a real Dagster
instance. Backfills fold into ranged runs, a bad file in the middle of a range costs only
its own day, nothing new means no new Delta commit, and unmapped listens are resolved
once the directory that maps them lands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from podcast_assets.catalog import FeedItem
from podcast_assets.cli import main, not_the_demos
from podcast_assets.definitions import materializable
from podcast_assets.refresh import refresh
from podcast_assets.serving import store_path
from podcast_assets_tests.conftest import (
    BACKBONE_ASSETS,
    GUID_A,
    PODNEWS,
    PODNEWS_GUID,
    Drops,
    bronze,
    delta_versions,
    derived,
    ember_row,
    event,
    quarantine_reasons,
    runs,
    silver,
    silver_rows,
)

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
FEEDS_SHOW = derived("feeds.example.com/show")


def run_refresh(settings, instance) -> tuple[object, list[str]]:
    """``refresh`` over the backbone's assets (the CLI test below runs the whole location)."""
    lines: list[str] = []
    report = refresh(settings, instance, BACKBONE_ASSETS, echo=lines.append)
    return report, lines


def test_backfill_is_one_ranged_run(instance, settings, drops: Drops) -> None:
    days = [f"2025-03-{d:02d}" for d in range(1, 11)]  # ten daily files
    for i, day in enumerate(days, start=1):
        drops.cirrus(day, [(PODNEWS, 10 * i), ("https://feeds.example.com/show", i)])

    report, lines = run_refresh(settings, instance)

    assert report.ok and report.runs == 1, lines
    (run,) = runs(instance)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == ("2025-03-01", "2025-03-10")
    assert "dagster/partition" not in run.tags
    # every day, hand-computed: day i has 10*i podnews listens and i for feeds.example.com
    expected = [(PODNEWS_GUID, None, day, "day", 10 * i, None) for i, day in enumerate(days, start=1)]
    expected += [(FEEDS_SHOW, None, day, "day", i, None) for i, day in enumerate(days, start=1)]
    assert sorted(silver_rows(settings, "cirrus")) == sorted(expected)
    assert silver(settings).get_column("listens").sum() == 11 * 55  # (10 + 1) * (1 + ... + 10)
    assert bronze(settings, "cirrus").height == 20


def test_a_drop_named_for_no_real_date_fails_refresh_and_blocks_nothing_else(instance, settings, drops: Drops) -> None:
    drops.cirrus("2025-03-01", [(PODNEWS, 4)])
    misdated = drops.write("cirrus", "cirrus-2025-02-30.json", '{"date": "2025-02-30", "rows": []}')

    report, lines = run_refresh(settings, instance)

    assert report.failures == ["cirrus/cirrus-2025-02-30.json: the date in its name is no real date; rename it"], lines
    assert silver_rows(settings, "cirrus") == [(PODNEWS_GUID, None, "2025-03-01", "day", 4, None)]
    assert misdated.exists()  # left in landing for a person to rename; nothing received is deleted


def test_the_catalog_landing_before_any_listens_is_no_failure(instance, settings, drops: Drops) -> None:
    """Day one may bring the RSS catalog first: the gold tables it feeds have no listens
    to estimate yet (a creator's month read a table not written yet), and the serving
    store is published with them empty. refresh succeeds, and again."""
    item = FeedItem(guid="a-1", title="first", published_at=datetime(2025, 3, 2), persons=[("Cleo", "guest", None)])
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A, items=[item])
    for _ in range(2):
        lines: list[str] = []
        report = refresh(settings, instance, materializable, echo=lines.append)
        assert report.ok, lines
    with duckdb.connect(str(store_path(settings.serving_dir)), read_only=True) as store:
        assert store.execute("SELECT count(*) FROM podcast_monthly_estimates").fetchall() == [(0,)]
        assert store.execute("SELECT count(*) FROM podcasts").fetchall() == [(1,)]


def test_quarantined_day_comes_back_when_redelivered_fixed(instance, settings, drops: Drops) -> None:
    days = [f"2025-03-{d:02d}" for d in range(1, 5)]
    for i, day in enumerate(days, start=1):
        drops.cirrus(day, [(PODNEWS, i), ("https://feeds.example.com/show", -1 if day == "2025-03-02" else 100)])
    report, lines = run_refresh(settings, instance)
    assert not report.ok and len(report.failures) == 1 and "cirrus-2025-03-02.json" in report.failures[0], lines

    drops.cirrus("2025-03-02", [(PODNEWS, 2), ("https://feeds.example.com/show", 100)])  # fixed
    report, lines = run_refresh(settings, instance)

    assert report.ok and report.runs == 1, lines
    totals = silver(settings, "cirrus").group_by("period_start").agg(pl.col("listens").sum()).sort("period_start")
    assert totals.rows() == [(date.fromisoformat(day), 100 + i) for i, day in enumerate(days, start=1)]


def test_cli_demo_runs_the_main_job_end_to_end(
    settings, dagster_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's first command, on the tiny sample market: drops for every provider and
    the catalog, one refresh through Dagster, and the summary the website would show."""
    monkeypatch.setenv("PODCAST_LAKEHOUSE_DIR", settings.lakehouse_dir)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))

    assert main(["demo", "--preset", "tiny"]) == 0

    out = capsys.readouterr().out
    assert "refresh: done" in out and "all succeeded" in out
    assert "Top podcasts, February 2025" in out and "(none yet)" not in out
    listens = pl.read_delta(settings.delta("silver", "listens"))
    assert set(listens.get_column("provider")) == {"aurora", "boreal", "cirrus", "dune", "ember"}
    for table in ("podcast_monthly_estimates", "episode_first_30_days", "podcast_trends", "creator_popularity"):
        assert pl.read_delta(settings.delta("gold", table)).height > 0, table
    assert (settings.serving_dir / "serving.duckdb").exists()
    assert not_the_demos(settings) == []  # running it again there is fine


def test_cli_demo_refuses_a_lakehouse_holding_other_data(
    settings, dagster_home: Path, drops: Drops, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo writes its sample drops over what landing holds: it needs a fresh lakehouse."""
    monkeypatch.setenv("PODCAST_LAKEHOUSE_DIR", settings.lakehouse_dir)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    real = drops.cirrus("2025-03-01", [(PODNEWS, 4242)])
    before = real.read_bytes()

    assert main(["demo", "--preset", "tiny"]) == 2

    assert "the demo needs a fresh lakehouse" in capsys.readouterr().err
    assert real.read_bytes() == before and sorted(p.name for p in settings.landing("cirrus").iterdir()) == [real.name]
    assert not settings.landing("boreal").exists()


def test_cli_refresh_bad_file_in_the_middle_of_a_range(
    instance, settings, dagster_home: Path, drops: Drops, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PODCAST_LAKEHOUSE_DIR", settings.lakehouse_dir)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)  # a catalog, as in any real lakehouse
    days = [f"2025-03-{d:02d}" for d in range(1, 6)]
    for i, day in enumerate(days, start=1):
        drops.cirrus(day, [(PODNEWS, i), ("https://feeds.example.com/show", -1 if day == "2025-03-03" else 100)])

    assert main(["refresh"]) == 1

    out = capsys.readouterr().out
    assert "FAILED" in out and "cirrus-2025-03-03.json, row 2: downloads: greater_than_or_equal_to(0)" in out
    # the other four days are in silver; 03-03 was quarantined and has nothing
    assert sorted(silver_rows(settings, "cirrus")) == sorted(
        [(PODNEWS_GUID, None, day, "day", i, None) for i, day in enumerate(days, start=1) if day != "2025-03-03"]
        + [(GUID_A, None, day, "day", 100, None) for day in days if day != "2025-03-03"]
    )
    (reason,) = quarantine_reasons(settings, "cirrus")
    assert (reason["file"], reason["row"]) == ("cirrus-2025-03-03.json", 2)
    # the ranged run failed, then each of its days ran on its own: only 03-03 failed
    # (then refresh rematerializes what is downstream: gold's runs, not looked at here)
    ranged, *singles = [r for r in runs(instance) if r.tags.get("podcast_assets/work", "").split(":")[0] not in ("catalog", "automation")]
    assert ranged.status == dg.DagsterRunStatus.FAILURE
    assert (ranged.tags[RANGE_START], ranged.tags[RANGE_END]) == ("2025-03-01", "2025-03-05")
    assert {r.tags["dagster/partition"]: r.status for r in singles} == {
        day: dg.DagsterRunStatus.FAILURE if day == "2025-03-03" else dg.DagsterRunStatus.SUCCESS for day in days
    }

    # nothing new: exit 0, no run, no Delta commit (gold's tables included)
    versions, run_count = delta_versions(settings), len(runs(instance))
    assert main(["refresh"]) == 0
    assert delta_versions(settings) == versions
    assert len(runs(instance)) == run_count



def test_refresh_everything_then_nothing_new_writes_no_commit(instance, settings, drops: Drops) -> None:
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)
    drops.shows("boreal", {"b1": "https://FEEDS.example.com/show/"})
    drops.boreal("2025-03-03", [("2025-03-03", "b1", "ep-1", "t", 5)], gz=True)
    drops.cirrus("2025-03-03", [("http://feeds.example.com/show", 6), (PODNEWS, 1)])
    drops.dune("2025-03", [("2025-03", GUID_A, 70)])
    drops.ember("2025-03", [ember_row("2025-03", "feeds.example.com/show", "ep-1", 8)])
    drops.shows("aurora", {"a1": "https://feeds.example.com/show"})
    drops.aurora("seg-1.ndjson", [event("x", "2025-03-03T01:00:00Z", "a1"), event("y", "2025-03-03T02:00:00Z", "a1")])
    drops.aurora("seg-2.ndjson", [event("y", "2025-03-03T02:00:00Z", "a1")])

    report, lines = run_refresh(settings, instance)

    assert report.ok, lines
    assert silver_rows(settings) == [
        (GUID_A, "ep-1", "2025-03-03", "day", 2, None),  # aurora: x, y (y delivered twice)
        (GUID_A, "ep-1", "2025-03-03", "day", 5, None),  # boreal
        (PODNEWS_GUID, None, "2025-03-03", "day", 1, None),  # cirrus
        (GUID_A, None, "2025-03-03", "day", 6, None),
        (GUID_A, None, "2025-03-01", "month", 70, None),  # dune
        (GUID_A, "ep-1", "2025-03-01", "month", 8, None),  # ember
    ]
    versions, run_count = delta_versions(settings), len(runs(instance))
    assert {"silver/listens", "bronze/deliveries", "silver/feed_urls", "bronze/show_directory"} <= set(versions)

    again, lines = run_refresh(settings, instance)

    assert again.ok and again.runs == 0, lines
    assert delta_versions(settings) == versions
    assert len(runs(instance)) == run_count


def test_unmapped_listens_resolved_when_directory_lands(instance, settings, drops: Drops) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5), ("2025-03-03", "s404", "ep-9", "t", 3),
                                ("2025-03-03", "s404", "ep-8", "t", 2)])
    drops.boreal("2025-03-04", [("2025-03-04", "s404", "ep-9", "t", 4)])

    report, lines = run_refresh(settings, instance)

    assert report.ok, lines
    assert sorted(silver_rows(settings, "boreal"), key=str) == sorted([
        (PODNEWS_GUID, "ep-1", "2025-03-03", "day", 5, None),
        (None, "ep-9", "2025-03-03", "day", 3, "s404"),  # kept, counted as unmapped
        (None, "ep-8", "2025-03-03", "day", 2, "s404"),
        (None, "ep-9", "2025-03-04", "day", 4, "s404"),
    ], key=str)
    event_ = instance.get_latest_materialization_event(dg.AssetKey(["silver", "boreal_listens"]))
    meta = event_.asset_materialization.metadata
    assert meta["unmapped_listens"].value == 9 and meta["unmapped_shows"].value == 1  # 3 + 2 + 4, one show

    drops.shows("boreal", {"s1": PODNEWS, "s404": "https://feeds.example.com/show"})  # the new directory
    report, lines = run_refresh(settings, instance)

    assert report.ok, lines
    assert sorted(silver_rows(settings, "boreal")) == sorted([
        (PODNEWS_GUID, "ep-1", "2025-03-03", "day", 5, None),
        (FEEDS_SHOW, "ep-9", "2025-03-03", "day", 3, None),
        (FEEDS_SHOW, "ep-8", "2025-03-03", "day", 2, None),
        (FEEDS_SHOW, "ep-9", "2025-03-04", "day", 4, None),
    ])
    assert silver(settings, "boreal").filter(pl.col("podcast_guid").is_null() | pl.col("unmapped_show").is_not_null()).height == 0
    meta = instance.get_latest_materialization_event(dg.AssetKey(["silver", "boreal_listens"])).asset_materialization.metadata
    assert meta["unmapped_listens"].value == 0
    # the re-resolution re-read bronze (silver only): the landed files were not ingested again
    assert (runs(instance)[-1].tags.get(RANGE_START), runs(instance)[-1].tags.get(RANGE_END)) == ("2025-03-03", "2025-03-04")
    assert len(bronze(settings, "boreal").get_column("ingested_at").unique()) == 1
    assert run_refresh(settings, instance)[0].runs == 0


def _start_refresh(settings, dagster_home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PODCAST_LAKEHOUSE_DIR": settings.lakehouse_dir, "DAGSTER_HOME": str(dagster_home)}
    return subprocess.Popen([sys.executable, "-m", "podcast_assets.cli", "refresh"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _gold_run_started(instance: dg.DagsterInstance, process: subprocess.Popen[bytes]) -> dg.DagsterRun:
    """The killed refresh's gold run, once it has started (polled: the test cannot hook in)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            if run.tags.get("podcast_assets/work", "").startswith("automation:2"):
                return run
        time.sleep(0.02)
    raise AssertionError("the refresh never started its gold run")


def test_refresh_killed_in_its_gold_run_is_finished_by_the_next(
    instance, settings, dagster_home: Path, drops: Drops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL a ``refresh`` while it runs gold: its run stays STARTED, holding the gold
    months "in progress" (and, with a pool limit, its slot), and its automation cursor has
    not moved. The next refresh marks that run failed, frees the slot and builds gold."""
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n")
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)
    for day in ("2025-03-01", "2025-03-02"):
        drops.cirrus(day, [(PODNEWS, 10), ("https://feeds.example.com/show", 100)])
    process = _start_refresh(settings, dagster_home)
    with dg.DagsterInstance.from_config(str(dagster_home)) as watcher:
        killed = _gold_run_started(watcher, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert watcher.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED

    monkeypatch.setenv("PODCAST_LAKEHOUSE_DIR", settings.lakehouse_dir)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    assert main(["refresh"]) == 0  # with the slot still held, this would wait for ever

    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info("lakehouse").claimed_slots
    estimates = pl.read_delta(settings.delta("gold", "podcast_monthly_estimates"))
    march = estimates.filter(pl.col("month") == date(2025, 3, 1)).sort("podcast_guid")
    # observed listens, by hand: two days of 10 (podnews) and of 100 (the catalog's show)
    assert march.select("podcast_guid", "observed_listens").rows() == sorted([(PODNEWS_GUID, 20), (GUID_A, 200)])
