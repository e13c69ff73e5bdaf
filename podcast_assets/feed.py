"""One provider feed, landing -> bronze -> silver, in one step, free of Dagster.

A run that ingests new drops writes both layers: the rows it read, validated, go to
bronze and (mapped to podcast guids and summed) to silver without being read back.
Bronze's commit starts as soon as its rows are validated and runs while silver is built
and committed (polars writes the Parquet files with the GIL released, so the two layers
share the cores). The ledger records the deliveries, and which identity silver was
resolved under, only once both commits have happened: a run stopped half way leaves its
files pending, and the next run redoes both layers. Before the commits it records that
they are under way, so if only one of them happened (or silver failed to build) and the
delivery is never retried (a newer one replaced it), the period's silver is still
rebuilt from bronze as it is (``identity_sync``).

Either layer can also run alone (the Dagster UI, a silver rebuild after a show mapping
changed): bronze alone leaves silver stale until it is rebuilt (``identity_sync``).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import polars as pl

from podcast_assets.identity_sync import resolution_entries, writing_entries
from podcast_assets.ingest import Outcome, read_events, read_files, write_bronze
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.settings import Settings
from podcast_assets.silver import load_identity, rebuild_silver, silver_rows, write_silver
from podcast_assets.storage import ledger, lock


@dataclass
class FeedRun:
    """What one step wrote: bronze's outcome and silver's rows (None: not selected)."""

    bronze: Outcome | None = None
    silver: pl.DataFrame | None = None


def ingest_feed(
    settings: Settings, spec: ProviderSpec, start: date, end: date, log: logging.Logger,
    *, bronze: bool = True, silver: bool = True,
) -> FeedRun:
    """Bring ``spec``'s partitions ``[start, end)`` up to date in the selected layers, one
    step of a provider at a time (``storage.lock``). Rejected files are quarantined and
    listed in ``bronze.failures``; the caller fails."""
    with lock.held(settings, f"{spec.name}_feed", log):
        if not bronze:
            return FeedRun(silver=rebuild_silver(settings, spec, start, end)) if silver else FeedRun()
        return _ingest(settings, spec, start, end, log, silver)


def _ingest(settings: Settings, spec: ProviderSpec, start: date, end: date, log: logging.Logger,
            silver: bool) -> FeedRun:
    read = read_events if spec.cadence == "instant" else read_files
    with ThreadPoolExecutor(max_workers=1) as pool:
        # silver's identity (read, and a directory's shows resolved: Python) while the
        # drops are read (parsing and hashing release the GIL)
        identity = pool.submit(load_identity, settings, spec) if silver else None
        out = read(settings, spec, start, end, log)
        entries, listens = out.entries, None
        if out.periods:
            ledger.record(settings, writing_entries(spec, out.periods))
        bronze_written = pool.submit(write_bronze, settings, spec, out)  # (the worker's identity read first)
        if identity is not None:
            listens, used = silver_rows(settings, spec, out.rows, (start, end), identity.result())
            write_silver(settings, spec, listens, out.periods)
            entries = entries + resolution_entries(spec, used, out.periods)
        bronze_written.result()
    ledger.record(settings, entries)
    return FeedRun(out, listens)
