"""Shared fixtures for the backbone tests: a temp lakehouse, a real Dagster instance in a
temp ``DAGSTER_HOME``, helpers that drop provider files the way providers deliver them,
and helpers that run the real assets and read the real Delta tables back.

Nothing of ours is mocked: runs go through ``dg.materialize`` (or ``refresh``, or the CLI)
against a real ``DagsterInstance`` (sqlite in a temp ``DAGSTER_HOME``; ``test_ingest`` uses
Dagster's in-memory instance, see there), tables are Delta tables under ``tmp_path``.

The Dagster home lives on ``/dev/shm`` when the machine has it: Dagster's sqlite storage
commits (and fsyncs) every event, which costs ~1.5 s a run on this VM's disk and ~0.4 s
on tmpfs. It is still a real on-disk instance, as ``DAGSTER_HOME`` would give.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from podcast_assets.assets.bronze import bronze_assets
from podcast_assets.assets.catalog import catalog_assets
from podcast_assets.assets.feeds import feed_assets
from podcast_assets.assets.keys import CATALOG_TABLES, SHOW_DIRECTORY, bronze_key, segments_key, silver_key
from podcast_assets.catalog import FeedItem, rss_feed_xml
from podcast_assets.checks import asset_checks
from podcast_assets.providers.specs import provider
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import Settings

# ---- identities the tests compute by hand --------------------------------------------------
NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")  # CONTRACT.md section 1
PODNEWS = "https://podnews.net/rss"
PODNEWS_GUID = "9b024349-ccf0-5f69-a609-6b82873eab3c"  # the contract's own example
GUID_A = "aaaaaaaa-0000-4000-8000-00000000000a"  # a feed's own <podcast:guid>


def derived(normalized_url: str) -> str:
    """The derived podcast:guid of an already-normalised feed URL (the contract's recipe,
    computed here without our identity module)."""
    return str(uuid.uuid5(NAMESPACE, normalized_url))


# The backbone's assets (landing -> bronze -> silver, and the catalog) with their asset
# checks. Runs here materialize out of these; gold and serving, downstream, have their own
# tests (the CLI test in test_refresh runs the whole code location).
_BACKBONE = [*bronze_assets, *catalog_assets, *feed_assets]
_BACKBONE_KEYS = {key for asset in _BACKBONE for key in asset.keys}
BACKBONE_CHECKS = [c for c in asset_checks if all(k.asset_key in _BACKBONE_KEYS for k in c.check_keys)]
BACKBONE_ASSETS = [*_BACKBONE, *BACKBONE_CHECKS]

SILVER_ORDER = ["provider", "period_start", "podcast_guid", "episode_guid", "unmapped_show"]
CATALOG_KEYS = [dg.AssetKey(["silver", name]) for name in CATALOG_TABLES]


# ---- fixtures ----------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(lakehouse_dir=str(tmp_path / "lakehouse"))


@pytest.fixture
def lakehouse(settings: Settings) -> LakehouseResource:
    return LakehouseResource(lakehouse_dir=settings.lakehouse_dir)


@pytest.fixture
def dagster_home(tmp_path: Path) -> Iterator[Path]:
    """An empty ``DAGSTER_HOME`` (default sqlite storage), telemetry off."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="dagster_home_", dir=shm) as home:
            (Path(home) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            yield Path(home)
    else:
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        yield home


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(dagster_home)) as inst:
        yield inst


@pytest.fixture
def drops(settings: Settings) -> "Drops":
    return Drops(settings)


# ---- dropping files ----------------------------------------------------------------------
class Drops:
    """Writes provider deliveries into ``landing/`` in the contract's formats.

    Every write gets a strictly newer mtime than the file it replaces (a provider's
    re-delivery comes later; the kernel's coarse file clock could otherwise give two
    quick test writes the same mtime)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def write(self, folder: str, name: str, data: str | bytes) -> Path:
        path = self.settings.landing(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.stat().st_mtime_ns if path.exists() else 0
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        if path.stat().st_mtime_ns <= before:
            os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
        return path

    # boreal: report_date,show_id,episode_guid,episode_title,plays (RFC 4180 quoting)
    def boreal(self, day: str, rows: Iterable[Sequence[Any]], *, gz: bool = False,
               header: Sequence[str] = ("report_date", "show_id", "episode_guid", "episode_title", "plays")) -> Path:
        text = csv_text(header, rows)
        name = f"boreal_plays_{day}.csv" + (".gz" if gz else "")
        return self.write("boreal", name, gzip.compress(text.encode()) if gz else text)

    # cirrus: {"date": ..., "rows": [{"feed_url": ..., "downloads": ...}]}
    def cirrus(self, day: str, rows: Iterable[tuple[str, int]], *, date: str | None = None) -> Path:
        doc = {"date": date or day, "rows": [{"feed_url": url, "downloads": n} for url, n in rows]}
        return self.write("cirrus", f"cirrus-{day}.json", json.dumps(doc, indent=1))

    # dune: BOM, semicolons, Month;Podcast GUID;Listens
    def dune(self, month: str, rows: Iterable[Sequence[Any]],
             header: Sequence[str] = ("Month", "Podcast GUID", "Listens")) -> Path:
        return self.write("dune", f"dune_{month}.csv", b"\xef\xbb\xbf" + csv_text(header, rows, ";").encode())

    # ember: one object a line, nested podcast/episode
    def ember(self, month: str, rows: Iterable[dict[str, Any]]) -> Path:
        return self.write("ember", f"ember_{month}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    # aurora: NDJSON segments under landing/aurora/events/
    def aurora(self, name: str, events: Iterable[dict[str, Any]]) -> Path:
        return self.write("aurora", f"events/{name}", "".join(json.dumps(e) + "\n" for e in events))

    def shows(self, provider_name: str, mapping: dict[str, str]) -> Path:
        return self.write(provider_name, "shows.csv", csv_text(("show_id", "feed_url"), mapping.items()))

    def feed(self, name: str, feed_url: str, *, podcast_guid: str | None = None,
             items: Sequence[FeedItem] = (), mtime: datetime | None = None) -> Path:
        path = self.write("catalog", name, rss_feed_xml(feed_url, name, items, podcast_guid=podcast_guid))
        if mtime is not None:  # the crawl time orders crawls of the same feed
            ns = int(mtime.timestamp() * 1e9)
            os.utime(path, ns=(ns, ns))
        return path


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], separator: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator)  # RFC 4180: CRLF, quotes doubled
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def ember_row(month: str, feed_url: str, guid: str, listens: Any, published: str = "2025-02-20T08:00:00Z") -> dict[str, Any]:
    return {"month": month, "podcast": {"feed_url": feed_url}, "episode": {"guid": guid, "published": published},
            "listens": listens}


def event(event_id: str, listened_at: str, show_id: str = "s1", episode_guid: str = "ep-1") -> dict[str, Any]:
    return {"event_id": event_id, "show_id": show_id, "episode_guid": episode_guid, "listened_at": listened_at}


# ---- running the real assets ---------------------------------------------------------------
def materialize(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    selection: Sequence[dg.AssetKey],
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    checks: dg.AssetSelection | None = None,
    with_checks: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize ``selection`` out of the backbone's assets (one partition, a ranged
    run, or unpartitioned; their asset checks run too), without raising on failure.
    ``checks`` adds asset checks to run on their own; ``with_checks=False`` leaves the
    checks out (property tests, where each example is a few runs)."""
    tags = dict(tags or {})
    if partition_range is not None:
        tags |= {"dagster/asset_partition_range_start": partition_range[0],
                 "dagster/asset_partition_range_end": partition_range[1]}
    target = dg.AssetSelection.assets(*selection)
    return dg.materialize(
        BACKBONE_ASSETS if with_checks else _BACKBONE,
        selection=target | checks if checks is not None else list(selection),
        partition_key=partition_key,
        instance=instance,
        resources={"lakehouse": lakehouse},
        tags=tags,
        raise_on_error=False,
    )


def ingest(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    provider_name: str,
    partition_key: str | None = None,
    *,
    partition_range: tuple[str, str] | None = None,
    with_directory: bool = False,
    with_checks: bool = True,
) -> dg.ExecuteInProcessResult:
    """Bronze + silver of one provider for a partition or a range (plus its shows.csv)."""
    spec = provider(provider_name)
    keys = [bronze_key(spec), silver_key(spec)] + ([SHOW_DIRECTORY] if with_directory else [])
    return materialize(instance, lakehouse, keys, partition_key, partition_range, with_checks=with_checks)


def register_segments(instance: dg.DagsterInstance, lakehouse: LakehouseResource, *, with_directory: bool = True) -> dg.ExecuteInProcessResult:
    keys = [segments_key(provider("aurora"))] + ([SHOW_DIRECTORY] if with_directory else [])
    return materialize(instance, lakehouse, keys)


def load_catalog(instance: dg.DagsterInstance, lakehouse: LakehouseResource) -> dg.ExecuteInProcessResult:
    result = materialize(instance, lakehouse, CATALOG_KEYS)
    assert result.success, failure_messages(result)
    return result


def run_request(instance: dg.DagsterInstance, lakehouse: LakehouseResource, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Execute a sensor's run request the way the daemon would launch it."""
    return dg.materialize(
        BACKBONE_ASSETS,
        selection=list(request.asset_selection or []),
        partition_key=request.partition_key,
        instance=instance,
        resources={"lakehouse": lakehouse},
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
        raise_on_error=False,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [event.step_failure_data.error.message for event in result.get_step_failure_events()]


# ---- reading the tables back ---------------------------------------------------------------
def silver(settings: Settings, provider_name: str | None = None) -> pl.DataFrame:
    path = settings.delta("silver", "listens")
    if not Path(path).exists():
        return pl.DataFrame()
    df = pl.read_delta(path)
    if provider_name:
        df = df.filter(pl.col("provider") == provider_name)
    return df.sort(SILVER_ORDER, nulls_last=True)


def silver_rows(settings: Settings, provider_name: str | None = None) -> list[tuple]:
    """(podcast_guid, episode_guid, period_start iso, period_grain, listens, unmapped_show)."""
    df = silver(settings, provider_name)
    if df.is_empty():
        return []
    return [
        (r["podcast_guid"], r["episode_guid"], r["period_start"].isoformat(), r["period_grain"], r["listens"], r["unmapped_show"])
        for r in df.iter_rows(named=True)
    ]


def bronze(settings: Settings, provider_name: str) -> pl.DataFrame:
    return pl.read_delta(settings.delta("bronze", provider_name)).sort("period_start", "source_file", "source_row")


def delta_versions(settings: Settings) -> dict[str, int]:
    """Every Delta table under ``delta/`` and its current version."""
    from deltalake import DeltaTable

    root = settings.root / "delta"
    return {
        str(log.parent.relative_to(root)): DeltaTable(str(log.parent)).version()
        for log in sorted(root.glob("*/*/_delta_log"))
    }


def block_table(settings: Settings, layer: str, table: str) -> Path:
    """A passing fault: a plain file sits where a Delta table goes (the table, if any, is
    gone), so writing it fails; not a bad drop, so nothing is quarantined. Unlink the
    returned path to clear the way."""
    blocker = Path(settings.delta(layer, table))
    if blocker.is_dir():
        shutil.rmtree(blocker)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("in the way")
    return blocker


def quarantine_reasons(settings: Settings, provider_name: str) -> list[dict[str, Any]]:
    folder = settings.quarantine / provider_name
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.reason.json"))] if folder.is_dir() else []


def runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """All runs, oldest first."""
    return list(reversed(instance.get_runs()))
