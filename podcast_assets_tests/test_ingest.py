"""Landing -> archive -> bronze -> silver through the real assets (``dg.materialize`` on a
real Dagster instance, real Delta tables): each provider's happy path with hand-computed
silver rows, every bad input quarantined with its reason while the partition keeps its
last good data and the run fails, restatements that replace, idempotent re-runs,
URL normalisation and ``podcast:guid`` precedence, and property tests."""

from __future__ import annotations

import hashlib
import logging
import random
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.catalog import FeedItem
from podcast_assets.feed import ingest_feed
from podcast_assets.ingest import _archive_and_read
from podcast_assets.planning import plan
from podcast_assets.providers.specs import provider
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import Settings
from podcast_assets.storage import lock
from podcast_assets.storage.archive import fingerprint, landed_mtime_ns
from podcast_assets_tests.conftest import (
    CATALOG_KEYS,
    GUID_A,
    PODNEWS,
    PODNEWS_GUID,
    Drops,
    block_table,
    bronze,
    derived,
    ember_row,
    event,
    failure_messages,
    ingest,
    load_catalog,
    materialize,
    quarantine_reasons,
    register_segments,
    silver,
    silver_rows,
)

FEEDS_SHOW = derived("feeds.example.com/show")  # a feed the catalog does not know
CIRRUS_FEED = (dg.AssetKey(["bronze", "cirrus"]), dg.AssetKey(["silver", "cirrus_listens"]))


@pytest.fixture
def instance() -> dg.DagsterInstance:
    """These tests look at what runs do to the lakehouse, not at run history, so they use
    Dagster's in-memory instance (the one ``dg.materialize`` makes by default: real run and
    event storage, no sqlite commits) at ~0.15 s a run instead of ~0.5 s. The sensor and
    refresh tests use the sqlite ``DAGSTER_HOME`` instance from conftest."""
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def assert_rows(actual: list[tuple], expected: list[tuple]) -> None:
    assert Counter(actual) == Counter(expected), f"\nactual:   {sorted(map(str, actual))}\nexpected: {sorted(map(str, expected))}"


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The metadata of an asset's materialization in the run (a ranged run reports one per
    partition, each with the run's metadata)."""
    key = dg.AssetKey.from_user_string(asset)
    mats = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()
            if e.asset_key == key]
    assert mats and all(m.metadata == mats[0].metadata for m in mats)
    return {key: getattr(value, "value", value) for key, value in mats[0].metadata.items()}


# ---- happy paths ---------------------------------------------------------------------------
def test_boreal_csv_and_gzip_ranged_run(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("boreal", {"s1": "https://podnews.net/rss/", "s2": "HTTP://Feeds.Example.COM/show"})
    drops.boreal("2025-03-03", [
        ("2025-03-03", "s1", "ep-1", 'Hello, "world"\nPart 2', 5),  # quoted comma, quotes, newline
        ("2025-03-03", "s1", "ep-2", "a, b", 3),
        ("2025-03-03", "s2", "ep-9", "x", 4),
    ])
    drops.boreal("2025-03-04", [("2025-03-04", "s1", "ep-1", "t", 6), ("2025-03-04", "s2", "ep-9", "x", 0)], gz=True)

    result = ingest(instance, lakehouse, "boreal", partition_range=("2025-03-03", "2025-03-04"), with_directory=True)

    assert result.success, failure_messages(result)
    # s1 -> podnews.net/rss (trailing slash dropped) -> the contract's guid; s2 -> host lower-cased, derived
    assert_rows(silver_rows(settings, "boreal"), [
        (PODNEWS_GUID, "ep-1", "2025-03-03", "day", 5, None),
        (PODNEWS_GUID, "ep-2", "2025-03-03", "day", 3, None),
        (FEEDS_SHOW, "ep-9", "2025-03-03", "day", 4, None),
        (PODNEWS_GUID, "ep-1", "2025-03-04", "day", 6, None),
        (FEEDS_SHOW, "ep-9", "2025-03-04", "day", 0, None),
    ])
    rows = bronze(settings, "boreal")
    assert rows.select("source_file", "source_row", "episode_title").rows() == [
        ("boreal_plays_2025-03-03.csv", 1, 'Hello, "world"\nPart 2'),
        ("boreal_plays_2025-03-03.csv", 2, "a, b"),
        ("boreal_plays_2025-03-03.csv", 3, "x"),
        ("boreal_plays_2025-03-04.csv.gz", 1, "t"),
        ("boreal_plays_2025-03-04.csv.gz", 2, "x"),
    ]
    assert rows.get_column("delivery_id").n_unique() == 2 and rows.get_column("ingested_at").null_count() == 0
    # the asset checks ran beside the assets and passed
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {("bronze/boreal", "bronze_schema"): True, ("silver/boreal_listens", "silver_schema"): True,
                      ("silver/boreal_listens", "silver_sums_match_bronze"): True}
    meta = metadata(result, "bronze/boreal")
    # one materialization per partition, all with the run's figures, which say so
    assert "dagster/row_count" not in meta and meta["rows_in_run"] == 5 and meta["listens"] == 18  # 5+3+4+6+0
    assert meta["figures_cover"] == "the whole ranged run 2025-03-03..2025-03-04 (2 partitions)"
    assert [c.name for c in meta["dagster/column_schema"].columns] == rows.columns
    assert metadata(result, "silver/boreal_listens")["unmapped_listens"] == 0
    # every delivery has an immutable copy in the archive, named <delivery_id>__<name>
    archived = sorted(p.name.split("__", 1)[1] for p in (settings.archive / "boreal").iterdir())
    assert archived == ["boreal_plays_2025-03-03.csv", "boreal_plays_2025-03-04.csv.gz", "shows.csv"]
    for copy in (settings.archive / "boreal").iterdir():  # the delivered bytes, read-only, as landed
        landed = settings.landing("boreal") / copy.name.split("__", 1)[1]
        content = landed.read_bytes()
        assert copy.read_bytes() == content and copy.name.startswith(hashlib.sha256(content).hexdigest()[:16] + "__")
        assert copy.stat().st_mtime_ns == landed.stat().st_mtime_ns and copy.stat().st_mode & 0o222 == 0


def test_a_file_changed_while_it_is_read_is_seen_as_a_new_delivery(settings, drops: Drops) -> None:
    """The provider rewrites a landed file just as we read it: what is recorded, hashed,
    archived and parsed is the content we read, and its fingerprint is the one from
    before the change, so the rewritten file counts as not handled yet."""
    drops.boreal("2025-03-03", [("2025-03-03", "s1", "e1", "t", 5)])
    landed = settings.landing("boreal") / "boreal_plays_2025-03-03.csv"

    class RewrittenOnRead(type(landed)):
        def read_bytes(self) -> bytes:
            data = super().read_bytes()
            Path(self).write_bytes(data + b"2025-03-03,s1,e2,t,6\n")
            return data

    first = landed.read_bytes()
    delivery, parsed = _archive_and_read(settings, provider("boreal"), RewrittenOnRead(landed))
    assert delivery.fingerprint != fingerprint(landed)
    assert delivery.archive_path.read_bytes() == first
    assert delivery.archive_path.stat().st_mtime_ns == landed_mtime_ns(delivery.fingerprint)
    assert delivery.delivery_id == hashlib.sha256(first).hexdigest()[:16]
    assert parsed.result().get_column("listens").to_list() == [5]


def test_of_two_crawls_with_one_mtime_the_later_named_is_the_newer(instance, lakehouse, settings, drops: Drops) -> None:
    """Crawls of a feed unpacked from one archive share an mtime: the later file name is
    the newer crawl, as for landed files (not the later archived copy, whose name starts
    with a hash of its content: these two hash in the opposite order)."""
    t0 = datetime(2025, 2, 1)
    for name, guids in (("show-2025-02-03.xml", ["e1"]), ("show-2025-02-04.xml", ["e1", "e2"])):
        items = [FeedItem(guid=g, title=g, published_at=t0) for g in guids]
        drops.feed(name, "https://feeds.example.com/show", podcast_guid=GUID_A, items=items, mtime=t0)
    load_catalog(instance, lakehouse)
    episodes = pl.read_delta(settings.delta("silver", "episodes"))
    assert sorted(episodes.get_column("episode_guid")) == ["e1", "e2"]


def test_cirrus_url_variants_and_podcast_guid_precedence(instance, lakehouse, settings, drops: Drops) -> None:
    """The catalog's <podcast:guid> wins for every variant of its URL, and for the URL the
    show moved away from; URLs the catalog does not know are derived."""
    t0 = datetime(2025, 2, 1)
    drops.feed("old.xml", "https://old-host.example/show", podcast_guid=GUID_A, mtime=t0)  # before the move
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A, mtime=t0 + timedelta(days=7))
    load_catalog(instance, lakehouse)
    drops.cirrus("2025-03-05", [
        ("https://feeds.example.com/show", 10),
        ("HTTP://Feeds.Example.COM/show/", 5),  # scheme, host case, trailing slash
        ("feeds.example.com/show//", 3),  # no scheme, two slashes
        ("http://old-host.example/show", 2),  # the old host keeps the guid
        ("https://feeds.example.com/Show", 1),  # path case differs: another feed
        (PODNEWS, 7),  # unknown to the catalog: derived, the contract's example
    ])

    result = ingest(instance, lakehouse, "cirrus", "2025-03-05")

    assert result.success, failure_messages(result)
    assert_rows(silver_rows(settings, "cirrus"), [
        (GUID_A, None, "2025-03-05", "day", 20, None),  # 10 + 5 + 3 + 2
        (derived("feeds.example.com/Show"), None, "2025-03-05", "day", 1, None),
        (PODNEWS_GUID, None, "2025-03-05", "day", 7, None),
    ])
    podcasts = pl.read_delta(settings.delta("silver", "podcasts"))
    assert podcasts.select("podcast_guid", "feed_url", "guid_source").rows() == [
        (GUID_A, "https://feeds.example.com/show", "feed")
    ]
    meta = metadata(result, "silver/cirrus_listens")
    assert meta["podcasts"] == 3 and meta["listens"] == 28


def test_dune_bom_semicolon_monthly(instance, lakehouse, settings, drops: Drops) -> None:
    drops.dune("2025-03", [("2025-03", PODNEWS_GUID.upper(), 100), ("2025-03", GUID_A, 50)])

    result = ingest(instance, lakehouse, "dune", "2025-03-01")

    assert result.success, failure_messages(result)
    assert_rows(silver_rows(settings, "dune"), [
        (PODNEWS_GUID, None, "2025-03-01", "month", 100, None),  # upper-case guid canonicalised
        (GUID_A, None, "2025-03-01", "month", 50, None),
    ])
    meta = metadata(result, "silver/dune_listens")  # one partition: its own row count
    assert (meta["dagster/row_count"], meta["listens"], meta["podcasts"]) == (2, 150, 2) and "figures_cover" not in meta


def test_ember_jsonl_extra_fields_ignored(instance, lakehouse, settings, drops: Drops) -> None:
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A)
    load_catalog(instance, lakehouse)
    first = ember_row("2025-03", "https://feeds.example.com/show/", "e1", 12)
    first |= {"source": "api-v2", "podcast": {**first["podcast"], "title": "T", "stats": {"x": 1}}}
    first["episode"] |= {"duration": 1234, "chapters": [1, 2]}
    drops.ember("2025-03", [
        first,
        ember_row("2025-03", "http://FEEDS.example.com/show", "e1", 8),  # same episode, another URL variant
        ember_row("2025-03", PODNEWS, "pn-1", 4),
    ])

    result = ingest(instance, lakehouse, "ember", "2025-03-01")

    assert result.success, failure_messages(result)
    assert_rows(silver_rows(settings, "ember"), [
        (GUID_A, "e1", "2025-03-01", "month", 20, None),  # 12 + 8
        (PODNEWS_GUID, "pn-1", "2025-03-01", "month", 4, None),
    ])
    assert "source" not in bronze(settings, "ember").columns


def test_aurora_segments_duplicates_counted_once(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("aurora", {"s1": PODNEWS, "s2": "https://feeds.example.com/show"})
    drops.aurora("seg-000001.ndjson", [
        event("e1", "2025-03-01T10:00:00Z"),
        event("e2", "2025-03-01T23:59:59Z"),
        event("e3", "2025-03-02T00:30:00+02:00", "s2", "ep-7"),  # 22:30 UTC on 03-01
        event("e4", "2025-03-02T08:00:00Z"),
    ])
    drops.aurora("seg-000002.ndjson", [
        event("e2", "2025-03-01T23:59:59Z"),  # delivered again: counts once
        event("e4", "2025-03-02T08:00:00Z"),  # again
        event("e5", "2025-03-02T09:00:00Z", episode_guid="ep-2"),
    ])
    drops.write("aurora", "events/seg-000003.ndjson.open", '{"event_id": "open"}\n')  # open segment: not read

    registered = register_segments(instance, lakehouse)
    assert registered.success, failure_messages(registered)
    segments = metadata(registered, "bronze/aurora_segments")
    # 7 event lines in the 2 sealed segments (the open one is not read)
    assert (segments["dagster/row_count"], segments["segments_registered"]) == (7, 2)
    assert segments["days_touched"] == ["2025-03-01", "2025-03-02"]
    result = ingest(instance, lakehouse, "aurora", partition_range=("2025-03-01", "2025-03-02"))

    assert result.success, failure_messages(result)
    assert_rows(silver_rows(settings, "aurora"), [
        (PODNEWS_GUID, "ep-1", "2025-03-01", "day", 2, None),  # e1, e2
        (FEEDS_SHOW, "ep-7", "2025-03-01", "day", 1, None),  # e3
        (PODNEWS_GUID, "ep-1", "2025-03-02", "day", 1, None),  # e4
        (PODNEWS_GUID, "ep-2", "2025-03-02", "day", 1, None),  # e5
    ])
    assert sorted(bronze(settings, "aurora").get_column("event_id")) == ["e1", "e2", "e3", "e4", "e5"]
    assert metadata(result, "bronze/aurora")["duplicate_events_dropped"] == 2  # 7 lines, 5 events


def test_asset_checks_catch_a_table_changed_behind_the_pipelines_back(instance, lakehouse, settings, drops: Drops) -> None:
    """The pandera schemas that guard each commit also back asset checks over the whole
    table: rows written around the pipeline (here straight into Delta) fail them."""
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    rogue = silver(settings).with_columns(pl.lit(-5, pl.Int64).alias("listens"))  # negative, and not in bronze
    write_deltalake(settings.delta("silver", "listens"), rogue.to_arrow(), mode="append")

    result = materialize(instance, lakehouse, [], checks=dg.AssetSelection.checks_for_assets(
        dg.AssetKey(["silver", "cirrus_listens"])))

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"silver_schema", "silver_sums_match_bronze"}
    assert not checks["silver_schema"].passed and checks["silver_schema"].metadata["failures"].value >= 1
    assert not checks["silver_sums_match_bronze"].passed  # bronze says 7, silver now 7 - 5
    assert checks["silver_sums_match_bronze"].metadata["periods_differing"].value == 1


# ---- bad input -------------------------------------------------------------------------------
BOREAL_HEADER = "report_date,show_id,episode_guid,episode_title,plays\r\n"


@dataclass
class BadCase:
    provider: str
    partition: str
    good: Callable[[Drops], Path]
    bad: Callable[[Drops], Path]
    row: int | None
    rule: str


BAD_CASES = {
    "truncated-line": BadCase(
        "boreal", "2025-03-03",
        lambda d: d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5), ("2025-03-03", "s1", "ep-2", "t", 3)]),
        # the file stops mid-way through its second row
        lambda d: d.write("boreal", "boreal_plays_2025-03-03.csv", BOREAL_HEADER + "2025-03-03,s1,ep-1,t,5\r\n2025-03-03,s1,ep-"),
        2, "plays: not_nullable"),  # the provider's own column name
    "truncated-gzip": BadCase(
        "boreal", "2025-03-03",
        lambda d: d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)]),
        # a newer .csv.gz for the same day replaces the .csv, but it was cut short
        lambda d: d.write("boreal", "boreal_plays_2025-03-03.csv.gz", d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 9)] * 40, gz=True).read_bytes()[:50]),
        None, "not a readable gzip file"),
    "negative-count": BadCase(
        "cirrus", "2025-03-05",
        lambda d: d.cirrus("2025-03-05", [(PODNEWS, 7)]),
        lambda d: d.cirrus("2025-03-05", [(PODNEWS, 7), ("https://feeds.example.com/show", -4)]),
        2, "downloads: greater_than_or_equal_to(0)"),
    "date-outside-the-files-day": BadCase(
        "boreal", "2025-03-03",
        lambda d: d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)]),
        lambda d: d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5), ("2025-03-04", "s1", "ep-1", "t", 2)]),
        2, "report_date: in_range(2025-03-03, 2025-03-04)"),
    "cirrus-document-for-another-day": BadCase(
        "cirrus", "2025-03-05",
        lambda d: d.cirrus("2025-03-05", [(PODNEWS, 7)]),
        lambda d: d.cirrus("2025-03-05", [(PODNEWS, 9)], date="2025-03-06"),
        None, "date must be the file's own day 2025-03-05"),
    "cirrus-empty-document-for-another-day": BadCase(  # no rows to check: the document is
        "cirrus", "2025-03-05",
        lambda d: d.cirrus("2025-03-05", [(PODNEWS, 7)]),
        lambda d: d.cirrus("2025-03-05", [], date="2025-03-06"),
        None, "date must be the file's own day 2025-03-05"),
    "corrupt-gzip": BadCase(
        "boreal", "2025-03-03",
        lambda d: d.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)]),
        # a gzip header, then a deflate block of the reserved type (zlib, not gzip, complains)
        lambda d: d.write("boreal", "boreal_plays_2025-03-03.csv.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + bytes(16)),
        None, "not a readable gzip file"),
    "podcast-guid-not-a-uuid": BadCase(
        "dune", "2025-03-01",
        lambda d: d.dune("2025-03", [("2025-03", GUID_A, 50)]),
        lambda d: d.dune("2025-03", [("2025-03", GUID_A, 50), ("2025-03", "urn:uuid:" + GUID_A, 7)]),
        2, "Podcast GUID: str_matches"),
    "month-outside-the-files-month": BadCase(
        "ember", "2025-03-01",
        lambda d: d.ember("2025-03", [ember_row("2025-03", PODNEWS, "e1", 3)]),
        lambda d: d.ember("2025-03", [ember_row("2025-03", PODNEWS, "e1", 3), ember_row("2025-04", PODNEWS, "e2", 1)]),
        2, "month: in_range(2025-03-01, 2025-04-01)"),
    "missing-column": BadCase(
        "dune", "2025-03-01",
        lambda d: d.dune("2025-03", [("2025-03", GUID_A, 50)]),
        lambda d: d.dune("2025-03", [("2025-03", GUID_A)], header=("Month", "Podcast GUID")),
        None, "missing column 'Listens'"),
    "malformed-json-line": BadCase(
        "ember", "2025-03-01",
        lambda d: d.ember("2025-03", [ember_row("2025-03", PODNEWS, "e1", 3)]),
        lambda d: d.write("ember", "ember_2025-03.jsonl",
                          '{"month": "2025-03", "podcast": {"feed_url": "u"}, "episode": {"guid": "e", "published": "2025-03-01T00:00:00Z"}, "listens": 1}\n'
                          '{"month": "2025-03", "podcast": {"feed_url": "u"}, "episode": {"guid": "e2", "pub\n'),
        2, "not valid JSON"),
}


@pytest.mark.parametrize("case", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_input_quarantined_old_partition_kept_run_fails(instance, lakehouse, settings, drops: Drops, case: BadCase) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    good = case.good(drops)
    first = ingest(instance, lakehouse, case.provider, case.partition, with_directory=case.provider == "boreal")
    assert first.success, failure_messages(first)
    silver_before, bronze_before = silver(settings, case.provider), bronze(settings, case.provider)
    assert silver_before.height > 0

    bad = case.bad(drops)
    result = ingest(instance, lakehouse, case.provider, case.partition)

    # the run fails, naming file, line (a CSV's header is line 1; a JSON document's rows
    # have no line of their own: their index) and rule
    assert not result.success
    (message,) = failure_messages(result)
    line = None if case.row is None else {"csv": case.row + 1, "ndjson": case.row}.get(provider(case.provider).format)
    where = (f"{bad.name}, line {line}:" if line is not None
             else f"{bad.name}, row {case.row}:" if case.row is not None else f"{bad.name}:")
    assert where in message and case.rule in message
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == f"{case.provider}_feed"  # the step of bronze and silver
    assert result.get_asset_materialization_events() == []  # the partition stays failed in Dagster's eyes
    assert failure.step_failure_data.user_failure_data.metadata["quarantined"].value[0]["file"] == bad.name
    # quarantined whole, a machine-readable reason beside it
    (reason,) = quarantine_reasons(settings, case.provider)
    assert (reason["file"], reason["line"], reason["row"]) == (bad.name, line, case.row) and case.rule in reason["rule"]
    assert reason["provider"] == case.provider
    (copy,) = [p for p in (settings.quarantine / case.provider).iterdir() if not p.name.endswith(".reason.json")]
    assert copy.name.endswith("__" + bad.name) and copy.read_bytes() == bad.read_bytes()
    # the partition keeps its last good data, in bronze and silver
    assert_frame_equal(silver(settings, case.provider), silver_before)
    assert_frame_equal(bronze(settings, case.provider), bronze_before)
    # nothing received is deleted: both deliveries archived, both still in landing
    assert good.exists() and bad.exists()
    assert len([p for p in (settings.archive / case.provider).iterdir() if not p.name.endswith("__shows.csv")]) == 2
    # and the rejected delivery is not pending work any more
    assert plan(settings, [case.provider]) == []


def test_a_ranged_run_keeps_the_last_good_data_of_its_bad_day(instance, lakehouse, settings, drops: Drops) -> None:
    """Three days ingested; then all three are re-delivered, the middle one broken. The
    ranged run fails naming it; days 1 and 3 take their new rows, in bronze and silver
    alike, day 2 keeps its old ones (the commits replace only the periods that had a good
    delivery)."""
    days = ["2025-03-05", "2025-03-06", "2025-03-07"]
    for day in days:
        drops.cirrus(day, [(PODNEWS, 1)])
    assert ingest(instance, lakehouse, "cirrus", partition_range=(days[0], days[-1])).success
    drops.cirrus(days[0], [(PODNEWS, 10)])
    drops.cirrus(days[1], [(PODNEWS, -20)])
    drops.cirrus(days[2], [(PODNEWS, 30)])

    result = ingest(instance, lakehouse, "cirrus", partition_range=(days[0], days[-1]))

    assert not result.success and "cirrus-2025-03-06.json, row 1:" in failure_messages(result)[0]
    for table in (bronze(settings, "cirrus"), silver(settings, "cirrus")):
        by_day = dict(table.select(pl.col("period_start").cast(pl.String), "listens").rows())
        assert by_day == {"2025-03-05": 10, "2025-03-06": 1, "2025-03-07": 30}
    # Dagster records the two good days as materialized in both layers, not the bad one
    materialized = {(e.asset_key, e.partition) for e in result.get_asset_materialization_events()}
    assert materialized == {(key, day) for key in CIRRUS_FEED for day in (days[0], days[2])}


def test_bad_aurora_segment_quarantined_good_segments_ingested(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("aurora", {"s1": PODNEWS})
    drops.aurora("seg-000001.ndjson", [event("e1", "2025-03-01T01:00:00Z"), event("e2", "2025-03-01T02:00:00Z")])
    bad = drops.write("aurora", "events/seg-000002.ndjson",
                      '{"event_id": "e3", "show_id": "s1", "episode_guid": "ep-1", "listened_at": "2025-03-01T03:00:00Z"}\n'
                      '{"event_id": "e4", "show_id": "s1", "episode_guid": "ep-1", "listened_at": "2025-03-0\n')

    registered = register_segments(instance, lakehouse)

    assert not registered.success
    (message,) = failure_messages(registered)
    assert "seg-000002.ndjson, line 2: not valid JSON" in message
    (reason,) = quarantine_reasons(settings, "aurora")
    assert (reason["file"], reason["line"], reason["row"]) == (bad.name, 2, 2)
    # the good segment's day still ingests; none of the bad segment's events (not even its good line e3)
    assert ingest(instance, lakehouse, "aurora", "2025-03-01").success
    assert silver_rows(settings, "aurora") == [(PODNEWS_GUID, "ep-1", "2025-03-01", "day", 2, None)]  # e1, e2


def test_bad_show_directory_quarantined_old_directory_kept(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5)])
    assert ingest(instance, lakehouse, "boreal", "2025-03-03", with_directory=True).success
    directory = pl.read_delta(settings.delta("bronze", "show_directory"))

    drops.write("boreal", "shows.csv", "show_id,url\r\ns1,https://elsewhere.example/f\r\n")  # wrong header
    result = ingest(instance, lakehouse, "boreal", "2025-03-03", with_directory=True)

    assert not result.success
    assert "boreal/shows.csv: missing column 'feed_url'" in failure_messages(result)[0]
    (reason,) = quarantine_reasons(settings, "boreal")
    assert reason["rule"] == "missing column 'feed_url'"
    assert_frame_equal(pl.read_delta(settings.delta("bronze", "show_directory")), directory)

    drops.write("boreal", "shows.csv", "show_id,feed_url\r\ns1,https://elsewhere.example/f\r\n ,https://x.example/g\r\n")
    result = ingest(instance, lakehouse, "boreal", "2025-03-03", with_directory=True)
    assert not result.success  # a blank show id on data row 2, the file's line 3
    assert "boreal/shows.csv, line 3: show_id: str_length" in failure_messages(result)[0]
    assert_frame_equal(pl.read_delta(settings.delta("bronze", "show_directory")), directory)
    assert silver_rows(settings, "boreal") == [(PODNEWS_GUID, "ep-1", "2025-03-03", "day", 5, None)]


def test_a_feed_whose_file_left_landing_stays_in_the_catalog(instance, lakehouse, settings, drops: Drops) -> None:
    """Only a newer crawl supersedes a feed: when its file leaves landing (its copy stays
    in the archive), the next crawl of another feed keeps it in the catalog."""
    items = [{"guid": "ep-1", "title": "One", "published_at": datetime(2025, 2, 1, 10)}]
    drops.feed("a.xml", "https://a.example.com/feed", items=items)
    gone = drops.feed("b.xml", "https://b.example.com/feed", podcast_guid=GUID_A, items=items)
    load_catalog(instance, lakehouse)
    gone.unlink()
    drops.feed("c.xml", "https://c.example.com/feed", items=items)
    assert load_catalog(instance, lakehouse).success
    podcasts = pl.read_delta(settings.delta("silver", "podcasts")).sort("feed_url")
    assert podcasts.get_column("feed_url").to_list() == [f"https://{h}.example.com/feed" for h in "abc"]
    assert pl.read_delta(settings.delta("silver", "episodes")).height == 3


def test_bad_catalog_crawl_quarantined_last_good_crawl_stands_in(instance, lakehouse, settings, drops: Drops) -> None:
    items = [{"guid": "ep-1", "title": "One", "published_at": datetime(2025, 2, 1, 10)}]
    drops.feed("show.xml", "https://feeds.example.com/show", podcast_guid=GUID_A, items=items)
    load_catalog(instance, lakehouse)
    before = {name: pl.read_delta(settings.delta("silver", name)) for name in ("podcasts", "episodes", "feed_urls")}

    drops.write("catalog", "show.xml", "<rss><channel><title>cut short")
    result = materialize(instance, lakehouse, CATALOG_KEYS)

    assert not result.success
    assert "show.xml, line 1: malformed XML" in failure_messages(result)[0]
    (reason,) = quarantine_reasons(settings, "catalog")
    assert (reason["file"], reason["line"]) == ("show.xml", 1) and reason["rule"].startswith("malformed XML")
    for name, frame in before.items():
        assert_frame_equal(pl.read_delta(settings.delta("silver", name)), frame)


def test_a_show_that_moved_hosts_keeps_its_old_url_when_its_crawl_file_is_overwritten(
    instance, lakehouse, settings, drops: Drops
) -> None:
    """The crawler keeps one file per show: the crawl from the new host replaces the old
    one in landing. Listens still reported under the old URL (cirrus) keep the show's guid."""
    drops.feed("show.xml", "https://old-host.example/feed", podcast_guid=GUID_A)
    load_catalog(instance, lakehouse)
    drops.feed("show.xml", "https://new-host.example/feed", podcast_guid=GUID_A)
    load_catalog(instance, lakehouse)

    assert sorted(pl.read_delta(settings.delta("silver", "feed_urls")).rows()) == [
        ("new-host.example/feed", GUID_A), ("old-host.example/feed", GUID_A),
    ]
    assert pl.read_delta(settings.delta("silver", "podcasts")).select("podcast_guid", "feed_url").rows() == [
        (GUID_A, "https://new-host.example/feed"),
    ]
    drops.cirrus("2025-03-05", [("https://old-host.example/feed", 4)])
    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    assert silver(settings, "cirrus").select("podcast_guid", "listens").rows() == [(GUID_A, 4)]


def test_an_unchanged_feed_crawled_again_is_the_newest_crawl(instance, lakehouse, settings, drops: Drops) -> None:
    """The show moved to a new host; the old host still serves its stale feed (same guid).
    new.xml is crawled (day 1), old.xml (day 2), then new.xml again, unchanged (day 3): its
    bytes are archived already, with day 1's mtime, yet day 3 is its crawl time, so the
    new host's crawl is the newest and the podcast's URL is the new one."""
    day = lambda n: datetime(2025, 3, n, tzinfo=timezone.utc)  # noqa: E731
    drops.feed("new.xml", "https://new-host.example/feed", podcast_guid=GUID_A, mtime=day(1))
    load_catalog(instance, lakehouse)
    drops.feed("old.xml", "https://old-host.example/feed", podcast_guid=GUID_A, mtime=day(2))
    load_catalog(instance, lakehouse)
    assert pl.read_delta(settings.delta("silver", "podcasts"))["feed_url"].to_list() == ["https://old-host.example/feed"]
    drops.feed("new.xml", "https://new-host.example/feed", podcast_guid=GUID_A, mtime=day(3))
    load_catalog(instance, lakehouse)
    podcasts = pl.read_delta(settings.delta("silver", "podcasts"))
    assert podcasts.select("feed_url", "crawled_at").rows() == [("https://new-host.example/feed", day(3))]
    # day 4: new.xml arrives broken; its last good crawl stands in, with the time it came
    drops.write("catalog", "new.xml", "<rss><channel><title>cut short")
    assert not materialize(instance, lakehouse, CATALOG_KEYS).success
    assert_frame_equal(pl.read_delta(settings.delta("silver", "podcasts")), podcasts)


# ---- one step for bronze and silver ---------------------------------------------------------
def test_a_delivery_counts_as_ingested_only_once_both_layers_committed(instance, lakehouse, settings, drops: Drops) -> None:
    """The feed step commits bronze and silver at once and records the delivery after both:
    a silver commit that fails leaves the delivery pending (the run fails, nothing is
    quarantined), and the next run writes both layers from it."""
    drops.cirrus("2025-03-05", [(PODNEWS, 7), (PODNEWS, 2), ("https://feeds.example.com/show", 3)])
    blocker = block_table(settings, "silver", "listens")

    failed = ingest(instance, lakehouse, "cirrus", "2025-03-05")

    assert not failed.success and quarantine_reasons(settings, "cirrus") == []
    assert bronze(settings, "cirrus").get_column("listens").to_list() == [7, 2, 3]  # its commit went through
    (pending,) = plan(settings, ["cirrus"])
    assert pending.first_partition == "2025-03-05" and pending.assets == CIRRUS_FEED

    blocker.unlink()
    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    assert_rows(silver_rows(settings, "cirrus"), [
        (PODNEWS_GUID, None, "2025-03-05", "day", 9, None),  # two rows of one podcast, summed
        (FEEDS_SHOW, None, "2025-03-05", "day", 3, None),
    ])
    assert plan(settings, ["cirrus"]) == []


def test_a_layer_left_behind_by_a_failed_commit_is_rebuilt_though_its_delivery_is_never_retried(
    instance, lakehouse, settings, drops: Drops
) -> None:
    """Bronze took the new delivery, silver's commit failed; before a retry, a broken file
    replaces the delivery (quarantined: nothing of the day is pending any more). The step
    had recorded that it set out to commit the day, so its silver is rebuilt from bronze,
    and the layers agree again."""
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    drops.cirrus("2025-03-05", [(PODNEWS, 70)])
    blocker = block_table(settings, "silver", "listens")
    assert not ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    blocker.unlink()
    drops.cirrus("2025-03-05", [(PODNEWS, -1)])
    assert not ingest(instance, lakehouse, "cirrus", "2025-03-05").success  # quarantined

    (rebuild,) = plan(settings, ["cirrus"])
    assert rebuild.assets == CIRRUS_FEED[1:] and rebuild.first_partition == "2025-03-05"
    assert materialize(instance, lakehouse, list(rebuild.assets), rebuild.first_partition).success
    assert bronze(settings, "cirrus").get_column("listens").to_list() == [70]
    assert silver(settings, "cirrus").get_column("listens").to_list() == [70]
    assert plan(settings, ["cirrus"]) == []


def test_feed_steps_of_one_provider_run_one_at_a_time(settings, drops: Drops, caplog) -> None:
    """Runs started by hand (the UI, refresh) are not queued per provider as the sensors'
    are: a step of a provider waits while another holds the provider's lock, so two
    deliveries of one day are never read and committed at once. Other providers go on."""
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    drops.dune("2025-03", [("2025-03", GUID_A, 50)])
    log = logging.getLogger("test_feed_lock")
    caplog.set_level(logging.INFO, logger=log.name)
    day = date(2025, 3, 5)
    with lock.held(settings, "cirrus_feed", log):  # another cirrus step is under way
        waiting = threading.Thread(target=ingest_feed, args=(settings, provider("cirrus"), day, day + timedelta(days=1), log))
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and not Path(settings.delta("bronze", "cirrus")).exists()
        ingest_feed(settings, provider("dune"), date(2025, 3, 1), date(2025, 4, 1), log)  # not held back
        assert silver(settings, "dune").get_column("listens").to_list() == [50]
    waiting.join(timeout=60)
    assert not waiting.is_alive()
    assert silver(settings, "cirrus").get_column("listens").to_list() == [7]
    assert "waiting for another cirrus_feed step to finish" in caplog.text


def test_each_layer_of_the_feed_step_can_run_alone(instance, lakehouse, settings, drops: Drops) -> None:
    """Bronze alone (the UI) leaves silver as it was, and silver then rebuilds from the
    bronze table alone (what a changed show mapping or the catch-up run asks for)."""
    drops.cirrus("2025-03-05", [(PODNEWS, 7)])
    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    drops.cirrus("2025-03-05", [(PODNEWS, 70)])

    bronze_only = materialize(instance, lakehouse, [CIRRUS_FEED[0]], "2025-03-05")
    assert bronze_only.success and [e.asset_key for e in bronze_only.get_asset_materialization_events()] == [CIRRUS_FEED[0]]
    assert bronze(settings, "cirrus").get_column("listens").to_list() == [70]
    assert silver(settings, "cirrus").get_column("listens").to_list() == [7]

    silver_only = materialize(instance, lakehouse, [CIRRUS_FEED[1]], "2025-03-05")
    assert silver_only.success and [e.asset_key for e in silver_only.get_asset_materialization_events()] == [CIRRUS_FEED[1]]
    assert silver(settings, "cirrus").get_column("listens").to_list() == [70]


# ---- restatements and idempotence -----------------------------------------------------------------
def test_restatement_replaces_the_day(instance, lakehouse, settings, drops: Drops) -> None:
    drops.shows("boreal", {"s1": PODNEWS})
    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 5), ("2025-03-03", "s1", "ep-2", "t", 3)])
    drops.boreal("2025-03-04", [("2025-03-04", "s1", "ep-1", "t", 1)])  # a neighbour that must not move
    assert ingest(instance, lakehouse, "boreal", partition_range=("2025-03-03", "2025-03-04"), with_directory=True).success

    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-1", "t", 8)])  # same day again: ep-2 gone, ep-1 is 8
    assert ingest(instance, lakehouse, "boreal", "2025-03-03").success
    assert_rows(silver_rows(settings, "boreal"), [
        (PODNEWS_GUID, "ep-1", "2025-03-03", "day", 8, None),  # not 5 + 8
        (PODNEWS_GUID, "ep-1", "2025-03-04", "day", 1, None),
    ])
    assert bronze(settings, "boreal").height == 2

    drops.boreal("2025-03-03", [("2025-03-03", "s1", "ep-3", "t", 11)], gz=True)  # a newer .csv.gz wins
    assert ingest(instance, lakehouse, "boreal", "2025-03-03").success
    assert_rows(silver_rows(settings, "boreal"), [
        (PODNEWS_GUID, "ep-3", "2025-03-03", "day", 11, None),
        (PODNEWS_GUID, "ep-1", "2025-03-04", "day", 1, None),
    ])


def test_monthly_restatement_replaces_the_month(instance, lakehouse, settings, drops: Drops) -> None:
    drops.dune("2025-03", [("2025-03", PODNEWS_GUID, 100), ("2025-03", GUID_A, 50)])
    drops.dune("2025-04", [("2025-04", GUID_A, 9)])
    assert ingest(instance, lakehouse, "dune", partition_range=("2025-03-01", "2025-04-01")).success
    drops.dune("2025-03", [("2025-03", PODNEWS_GUID, 40)])
    assert ingest(instance, lakehouse, "dune", "2025-03-01").success
    assert_rows(silver_rows(settings, "dune"), [
        (PODNEWS_GUID, None, "2025-03-01", "month", 40, None),
        (GUID_A, None, "2025-04-01", "month", 9, None),
    ])


def test_rerunning_a_partition_leaves_identical_contents(instance, lakehouse, settings, drops: Drops) -> None:
    drops.cirrus("2025-03-05", [(PODNEWS, 7), ("https://feeds.example.com/show", 3)])
    drops.cirrus("2025-03-06", [(PODNEWS, 1)])
    assert ingest(instance, lakehouse, "cirrus", partition_range=("2025-03-05", "2025-03-06")).success
    silver_1, bronze_1 = silver(settings), bronze(settings, "cirrus")

    assert ingest(instance, lakehouse, "cirrus", "2025-03-05").success
    assert ingest(instance, lakehouse, "cirrus", partition_range=("2025-03-05", "2025-03-06")).success

    assert_frame_equal(silver(settings), silver_1)
    # bronze is the same rows from the same delivery; only the ingest time moves on
    assert_frame_equal(bronze(settings, "cirrus").drop("ingested_at"), bronze_1.drop("ingested_at"))
    assert len(list((settings.archive / "cirrus").iterdir())) == 2  # the same bytes are archived once


# ---- properties ----------------------------------------------------------------------------
# Each example runs real Delta writes through a real Dagster run, so examples are few.
SHOWS = {"boreal": ["s1", "s2", "s404"],  # s404 is not in shows.csv: kept as unmapped
         "cirrus": [PODNEWS, "HTTP://PodNews.net/rss/", "https://feeds.example.com/show", "feeds.example.com/Show//"],
         "dune": [PODNEWS_GUID, GUID_A, GUID_A.upper()],
         "ember": [PODNEWS, "podnews.net/rss/", "https://feeds.example.com/show"]}
PARTITION = {"boreal": "2025-03-03", "cirrus": "2025-03-03", "dune": "2025-03-01", "ember": "2025-03-01"}

drops_strategy = st.sampled_from(sorted(SHOWS)).flatmap(lambda p: st.tuples(st.just(p), st.lists(
    st.tuples(st.sampled_from(SHOWS[p]), st.sampled_from(["e1", "e2", "e3"]),
              st.text(alphabet='ab ,"\n', max_size=6), st.integers(0, 10_000)),
    min_size=1, max_size=8)))


def deliver(drops: Drops, provider_name: str, rows: list[tuple[str, str, str, int]]) -> None:
    if provider_name == "boreal":
        drops.boreal("2025-03-03", [("2025-03-03", show, ep, title, n) for show, ep, title, n in rows])
    elif provider_name == "cirrus":
        drops.cirrus("2025-03-03", [(show, n) for show, _, _, n in rows])
    elif provider_name == "dune":
        drops.dune("2025-03", [("2025-03", show, n) for show, _, _, n in rows])
    else:
        drops.ember("2025-03", [ember_row("2025-03", show, ep, n) | {"note": title} for show, ep, title, n in rows])


class Scratch:
    """A fresh lakehouse per hypothesis example (function fixtures live across examples)."""

    def __init__(self, base: Path) -> None:
        self._dir = tempfile.TemporaryDirectory(dir=base)
        self.settings = Settings(lakehouse_dir=self._dir.name)
        self.lakehouse = LakehouseResource(lakehouse_dir=self._dir.name)
        self.drops = Drops(self.settings)
        self.drops.shows("boreal", {"s1": PODNEWS, "s2": "https://feeds.example.com/show"})

    def ingest(self, instance: dg.DagsterInstance, provider_name: str) -> None:
        result = ingest(instance, self.lakehouse, provider_name, PARTITION[provider_name],
                        with_directory=provider_name == "boreal", with_checks=False)
        assert result.success, failure_messages(result)

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


PROPERTY = hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def memory_instance() -> dg.DagsterInstance:
    """One in-memory instance for every example (hypothesis reuses function fixtures)."""
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@PROPERTY
@given(drop=drops_strategy, seed=st.integers(0, 2**32 - 1))
def test_property_row_order_does_not_matter_and_totals_are_kept(tmp_path: Path, memory_instance, drop, seed: int) -> None:
    """Silver listens total == what the provider delivered; the same rows shuffled and
    re-delivered (a restatement) leave silver exactly as it was."""
    provider_name, rows = drop
    with Scratch(tmp_path) as s:
        deliver(s.drops, provider_name, rows)
        s.ingest(memory_instance, provider_name)
        first = silver(s.settings)
        assert first.get_column("listens").sum() == sum(n for *_, n in rows)
        assert set(first.get_column("provider")) == {provider_name}

        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        deliver(s.drops, provider_name, shuffled)
        s.ingest(memory_instance, provider_name)
        assert_frame_equal(silver(s.settings), first)


@PROPERTY
@given(drop=drops_strategy, other=st.lists(st.integers(0, 10_000), min_size=1, max_size=3))
def test_property_restating_twice_changes_nothing(tmp_path: Path, memory_instance, drop, other: list[int]) -> None:
    """Deliver A, restate with B, restate with B again: silver is what B alone gives, and the
    second restatement changes nothing; the total is B's total, never A's + B's."""
    provider_name, rows_b = drop
    rows_a = [(SHOWS[provider_name][0], "e1", "a", n) for n in other]
    with Scratch(tmp_path) as s:
        deliver(s.drops, provider_name, rows_a)
        s.ingest(memory_instance, provider_name)
        deliver(s.drops, provider_name, rows_b)
        s.ingest(memory_instance, provider_name)
        once = silver(s.settings)
        assert once.get_column("listens").sum() == sum(n for *_, n in rows_b)
        deliver(s.drops, provider_name, rows_b)
        s.ingest(memory_instance, provider_name)
        assert_frame_equal(silver(s.settings), once)
