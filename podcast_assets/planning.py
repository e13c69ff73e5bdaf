"""What needs doing: landed files not yet ingested, and silver periods whose show mapping
is out of date. The sensors turn this plan into run requests; ``podcast-assets refresh``
executes it in-process. One code path, so both see the same work.

A unit of ``Work`` names the assets to materialize, the partition (or range) and a
``run_key`` that changes whenever the input changes (file name + size, mtime and ctime), so a
re-delivered file is new work and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from podcast_assets import landing
from podcast_assets.assets.keys import CATALOG_TABLES, SHOW_DIRECTORY, bronze_key, segments_key, silver_key
from podcast_assets.identity_sync import CHANGES, identity_stamp, stale_periods
from podcast_assets.ingest import CATALOG
from podcast_assets.partitions import partition_key, partitions_for
from podcast_assets.providers.specs import PROVIDERS, ProviderSpec
from podcast_assets.settings import Settings
from podcast_assets.storage import ledger
from podcast_assets.storage.archive import fingerprint

CATALOG_KEYS = tuple(dg.AssetKey(["silver", name]) for name in CATALOG_TABLES)
SOURCE_TAG = "podcast_assets/source"  # on every run of planned work: the provider, "catalog" or "settling"
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]  # runs not finished yet


@dataclass(frozen=True)
class Work:
    source: str  # the provider or "catalog" whose sensor owns this work
    description: str
    assets: tuple[dg.AssetKey, ...]
    run_key: str
    first_partition: str | None = None
    last_partition: str | None = None  # == first_partition for a single partition
    parts: tuple["Work", ...] = ()  # the single-partition work a ranged run was folded from
    # rebuilds silver from bronze and the identity tables as they are: never urgent, and
    # a sensor holds it back while the source has runs in flight (they may be doing it)
    catch_up: bool = False

    @property
    def partitioned(self) -> bool:
        return self.first_partition is not None

    def run_request(self, tags: dict[str, str] | None = None) -> dg.RunRequest:
        tags = {**(tags or {}), SOURCE_TAG: self.source}
        if self.partitioned and self.first_partition != self.last_partition:
            tags |= {"dagster/asset_partition_range_start": self.first_partition,
                     "dagster/asset_partition_range_end": self.last_partition}
        return dg.RunRequest(
            run_key=self.run_key,
            asset_selection=list(self.assets),
            partition_key=self.first_partition if self.first_partition == self.last_partition else None,
            tags=tags,
        )


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def _new_files(paths: list[Path], done: set[tuple[str, str]]) -> list[str]:
    """``name:fingerprint`` of the files the ledger has not seen in this version."""
    return [f"{p.name}:{fingerprint(p)}" for p in paths if (p.name, fingerprint(p)) not in done]


def plan_catalog(settings: Settings, entries: pl.DataFrame) -> list[Work]:
    done = ledger.handled(entries.filter(pl.col("provider") == CATALOG))
    new = _new_files(landing.catalog_files(settings), done)
    if not new:
        return []
    return [Work(CATALOG, f"catalog: {len(new)} new or changed feeds", CATALOG_KEYS, f"catalog:{_digest(new)}")]


def plan_provider(settings: Settings, spec: ProviderSpec, entries: pl.DataFrame) -> list[Work]:
    """Everything pending for one provider, in the order it should run. Re-resolving
    stale periods waits while the catalog or this provider's directory is pending."""
    mine = entries.filter(pl.col("provider") == spec.name)
    done = ledger.handled(mine)
    # periods without a partition (before PODCAST_DATA_START, in the future) wait
    existing = set(partitions_for(spec).get_partition_keys())
    work: list[Work] = []
    directory = landing.show_directory_file(settings, spec)
    if spec.has_show_directory and directory.exists() and (changed := _new_files([directory], done)):
        work.append(Work(spec.name, f"{spec.name}: new show directory", (SHOW_DIRECTORY,),
                         f"{spec.name}:{changed[0]}"))
    ingest = (bronze_key(spec), silver_key(spec))
    if spec.cadence == "instant":
        new = _new_files(landing.landed_files(settings, spec), done)
        if new:
            work.append(Work(spec.name, f"{spec.name}: {len(new)} new segments", (segments_key(spec),),
                             f"{spec.name}:segments:{_digest(new)}"))
        for day, files in _registered_not_ingested(mine):
            if (key := partition_key(spec, day)) in existing:
                work.append(Work(spec.name, f"{spec.name} {key}: events from {len(files)} segments", ingest,
                                 f"{spec.name}:{key}:{_digest(files)}", key, key))
    else:
        for period, path in sorted(landing.current_deliveries(settings, spec).items()):
            if (key := partition_key(spec, period)) in existing and _new_files([path], done):
                work.append(Work(spec.name, f"{spec.name} {key}: {path.name}", ingest,
                                 f"{spec.name}:{path.name}:{fingerprint(path)}", key, key))
    identity_pending = bool(plan_catalog(settings, entries)) or any(w.assets == (SHOW_DIRECTORY,) for w in work)
    pending = {w.first_partition for w in work if w.partitioned}
    stamp = identity_stamp(settings, spec)
    stale = [p for p in stale_periods(mine, stamp) if partition_key(spec, p) in existing - pending]
    if stale and not identity_pending:
        first, last = partition_key(spec, stale[0]), partition_key(spec, stale[-1])
        # (the last resolution too: a mapping that flips back to an earlier one is new work)
        changed = mine.filter(pl.col("status").is_in([*CHANGES, "resolved"]) & pl.col("period_start").is_in(stale))
        version = _digest([stamp, str(changed.get_column("recorded_at").max())])
        work.append(Work(spec.name, f"{spec.name} {first}..{last}: rebuild silver (show mapping or bronze changed)",
                         (silver_key(spec),), f"{spec.name}:resolve:{version}:{first}:{last}", first, last,
                         catch_up=True))
    return work


def _registered_not_ingested(entries: pl.DataFrame) -> list[tuple[date, list[str]]]:
    keys = ["file_name", "fingerprint", "period_start"]
    registered = entries.filter((pl.col("status") == "registered") & pl.col("period_start").is_not_null())
    ingested = entries.filter(pl.col("status") == "ingested").select(keys).unique()
    quarantined = entries.filter(pl.col("status") == "quarantined").select("file_name", "fingerprint").unique()
    todo = (
        registered.select(keys).unique()
        .join(ingested, on=keys, how="anti")
        .join(quarantined, on=["file_name", "fingerprint"], how="anti")
        .group_by("period_start")
        .agg((pl.col("file_name") + ":" + pl.col("fingerprint")).alias("files"))
        .sort("period_start")
    )
    return [(day, files) for day, files in todo.iter_rows()]


def plan(settings: Settings, sources: list[str] | None = None) -> list[Work]:
    """All pending work (or that of ``sources``): catalog first, then each provider."""
    entries = ledger.read(settings)
    work = plan_catalog(settings, entries) if sources is None or CATALOG in sources else []
    for spec in PROVIDERS:
        if sources is None or spec.name in sources:
            work += plan_provider(settings, spec, entries)
    return work


def outside_partitions(settings: Settings) -> list[str]:
    """Landed dated files not ingested whose period has no partition (before
    ``PODCAST_DATA_START`` or in the future), and registered event segments with events
    of such days (a replay file; the collector refuses them). They stay untouched until a
    partition exists for them; this names them so they are not skipped in silence."""
    entries = ledger.read(settings)
    waiting = []
    for spec in PROVIDERS:
        existing = set(partitions_for(spec).get_partition_keys())
        if spec.cadence == "instant":
            days = entries.filter((pl.col("provider") == spec.name) & (pl.col("status") == "registered")
                                  & pl.col("period_start").is_not_null()).sort("file_name", "period_start")
            waiting += [f"{spec.name}/{name}, its events of {day} ({rows})" for name, day, rows
                        in days.select("file_name", "period_start", "rows").iter_rows()
                        if partition_key(spec, day) not in existing]
            continue
        done = ledger.handled(entries.filter(pl.col("provider") == spec.name))
        waiting += [f"{spec.name}/{path.name}" for period, path in sorted(landing.current_deliveries(settings, spec).items())
                    if partition_key(spec, period) not in existing and _new_files([path], done)]
    return waiting


def merge_ranges(work: list[Work]) -> list[Work]:
    """Fold single-partition work on consecutive partitions of the same assets into one
    ranged run (a large backfill becomes a few runs, not hundreds), and repeated work on
    the same unpartitioned assets into one run."""
    merged: list[Work] = []
    for item in work:
        if not item.partitioned and any(m.assets == item.assets for m in merged):
            continue  # one run of an unpartitioned asset does it all (e.g. every directory)
        last = merged[-1] if merged else None
        if (
            last is not None and item.partitioned and last.partitioned and item.assets == last.assets
            and _next_key(item.source, last.last_partition) == item.first_partition
        ):
            merged[-1] = replace(last, last_partition=item.last_partition,
                                 description=f"{item.source} {last.first_partition}..{item.last_partition}: "
                                             f"{len(last.parts) + 1} deliveries",
                                 run_key=_digest([last.run_key, item.run_key]),
                                 parts=(*last.parts, item))
        else:
            merged.append(replace(item, parts=(item,)) if item.partitioned else item)
    return merged


def _next_key(source: str, key: str | None) -> str | None:
    spec = next(s for s in PROVIDERS if s.name == source)
    keys = partitions_for(spec).get_partition_keys()
    index = keys.index(key) if key in keys else -1
    return keys[index + 1] if 0 <= index < len(keys) - 1 else None
