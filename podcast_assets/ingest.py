"""Landing -> archive -> bronze: the work behind the bronze assets, free of Dagster.

Every function archives what it reads, validates the collected DataFrame with the
pandera schema *before* any Delta commit, quarantines a bad file whole (its periods keep
their last good data), and returns an ``Outcome`` the asset turns into metadata, a
failure, or both. The provider feeds' ``read_files`` and ``read_events`` leave the bronze
commit (``write_bronze``) and the ledger to the feed step (``feed.py``), which commits
silver beside it; the others commit and record what happened themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from podcast_assets import landing
from podcast_assets.catalog import FEED_URLS_SCHEMA, Catalog, build_catalog
from podcast_assets.estimators.common import add_months
from podcast_assets.partitions import periods_in
from podcast_assets.providers.reader import UTC, DropError, read_drop, with_line
from podcast_assets.providers.specs import ProviderSpec
from podcast_assets.schemas import SHOW_DIRECTORY, bronze_schema, empty_frame, provider_names, validate
from podcast_assets.settings import Settings
from podcast_assets.storage import delta, ledger
from podcast_assets.storage.archive import Delivery, archive, fingerprint, landed_mtime_ns, quarantine, read_landed


@dataclass
class Outcome:
    """What one ingestion step read: its good rows and their periods, the rejected files,
    and the ledger entries to record."""

    rows: pl.DataFrame = field(default_factory=pl.DataFrame)
    periods: list[date] = field(default_factory=list)
    failures: list[DropError] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)  # ledger rows, recorded once the rows are committed


def bronze_table(settings: Settings, spec: ProviderSpec) -> str:
    return settings.delta("bronze", spec.name)


def _with_lineage(df: pl.DataFrame, delivery: Delivery, ingested_at: datetime) -> pl.DataFrame:
    return df.with_columns(
        pl.lit(delivery.file_name).alias("source_file"),
        pl.lit(delivery.delivery_id).alias("delivery_id"),
        pl.lit(ingested_at, UTC).alias("ingested_at"),
    )


def _next_period(spec: ProviderSpec, period: date) -> date:
    if spec.period_grain == "day":
        return date.fromordinal(period.toordinal() + 1)
    return add_months(period, 1)


def _reject(settings: Settings, delivery: Delivery, err: DropError, log: logging.Logger,
            file_format: str | None = None, separator: str = ",", **where: Any) -> dict[str, Any]:
    """Quarantine a rejected delivery (its rows in ``file_format``: the reason names the
    line), log it, and return its ledger row."""
    if file_format:
        err = with_line(err, delivery.archive_path.read_bytes(), file_format, separator)
    quarantine(settings, delivery, err.reason())
    log.error("quarantined %s: %s", delivery.file_name, err)
    return ledger.entry(delivery, "quarantined", reason=err.reason(), **where)


def _archive_and_read(settings: Settings, spec: ProviderSpec, path: Path) -> tuple[Delivery, Future[pl.DataFrame]]:
    """Read a landed file once, and archive it (hash and copy, which release the GIL)
    while a thread parses it. The future raises the parse's ``DropError``."""
    content = read_landed(path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        parsed = pool.submit(read_drop, spec, path, data=content[1])
        return archive(settings, spec.name, path, content), parsed


def read_files(settings: Settings, spec: ProviderSpec, start: date, end: date, log: logging.Logger) -> Outcome:
    """Bronze rows for a daily or monthly provider: each period in ``[start, end)`` with a
    delivery gets that delivery's rows, which will replace the period's (a restatement
    replaces, never adds). A bad file is quarantined and its period left as it is."""
    now = datetime.now(timezone.utc)
    deliveries = landing.current_deliveries(settings, spec)
    periods = [p for p in periods_in(spec, start, end) if p in deliveries]
    frames, out = [], Outcome()
    for i, period in enumerate(periods, start=1):
        path = deliveries[period]
        delivery, parsed = _archive_and_read(settings, spec, path)
        where = {"period_start": period, "period_grain": spec.period_grain}
        try:
            df = _with_lineage(parsed.result(), delivery, now)
            df = validate(bronze_schema(spec, (period, _next_period(spec, period))), df, path.name, provider_names(spec))
        except DropError as err:
            out.entries.append(_reject(settings, delivery, err, log, spec.format, spec.csv_separator, **where))
            out.failures.append(err)
            continue
        frames.append(df)
        out.periods.append(period)
        out.entries.append(ledger.entry(delivery, "ingested", rows=df.height, **where))
        log.info("%s %s: %d rows from %s (%d/%d)", spec.name, period, df.height, path.name, i, len(periods))
    out.rows = pl.concat(frames) if frames else empty_frame(bronze_schema(spec))
    return out


def register_segments(settings: Settings, spec: ProviderSpec, log: logging.Logger) -> Outcome:
    """Instant feeds: index every sealed segment not seen before by the days its events
    fall on (ledger rows ``registered``), so a day's partition finds its segments without
    re-reading old ones. A segment that breaks the schema is quarantined whole."""
    done = ledger.handled(ledger.read(settings, spec.name))
    entries, out = [], Outcome()
    new = [p for p in landing.landed_files(settings, spec) if (p.name, fingerprint(p)) not in done]
    counts: list[pl.DataFrame] = []
    for i, path in enumerate(new, start=1):
        delivery, parsed = _archive_and_read(settings, spec, path)
        try:
            df = parsed.result()
            validate(bronze_schema(spec).remove_columns(["source_file", "delivery_id", "ingested_at"]), df, path.name,
                     provider_names(spec))
        except DropError as err:
            entries.append(_reject(settings, delivery, err, log, spec.format))
            out.failures.append(err)
            continue
        days = df.group_by("period_start").agg(pl.len().cast(pl.Int64).alias("rows")).sort("period_start")
        counts.append(days)
        entries += [
            ledger.entry(delivery, "registered", period_start=d, period_grain="day", rows=n)
            for d, n in days.iter_rows()
        ] or [ledger.entry(delivery, "registered")]
        log.info("registered %s: %d events over %d days (%d/%d)", path.name, df.height, days.height, i, len(new))
    ledger.record(settings, entries)
    if counts:
        out.rows = pl.concat(counts).group_by("period_start").agg(pl.col("rows").sum()).sort("period_start")
        out.periods = out.rows.get_column("period_start").to_list()
    out.notes = {"segments": len(new) - len(out.failures)}
    return out


def read_events(settings: Settings, spec: ProviderSpec, start: date, end: date, log: logging.Logger) -> Outcome:
    """Bronze rows for an instant feed: the events of ``[start, end)`` from every
    registered segment, each ``event_id`` once (delivery is at least once). They replace
    the whole window: every day of it is rebuilt from all its segments."""
    now = datetime.now(timezone.utc)
    entries_ = ledger.read(settings, spec.name)
    bad = set(entries_.filter(pl.col("status") == "quarantined").get_column("delivery_id"))
    segments = (
        entries_.filter(
            (pl.col("status") == "registered")
            & delta.in_window("period_start", start, end)
            & ~pl.col("delivery_id").is_in(list(bad))
        )
        .select("file_name", "fingerprint", "delivery_id", "archive_path", "period_start")
    )
    frames, out = [], Outcome()
    files = segments.select("file_name", "fingerprint", "delivery_id", "archive_path").unique().sort("file_name")
    for i, (name, fprint, delivery_id, archived) in enumerate(files.iter_rows(), start=1):
        delivery = Delivery(spec.name, name, fprint, delivery_id, Path(archived))
        df = read_drop(spec, delivery.archive_path, name).filter(delta.in_window("period_start", start, end))
        frames.append(_with_lineage(df, delivery, now))
        log.info("%s: %d events in [%s, %s) from %s (%d/%d)", spec.name, df.height, start, end, name, i, files.height)
    schema = bronze_schema(spec, (start, end))
    rows = pl.concat(frames) if frames else empty_frame(schema)
    total = rows.height
    rows = rows.sort("source_file", "source_row").unique("event_id", keep="first", maintain_order=True)
    out.rows = validate(schema, rows.select(list(schema.columns)), f"{spec.name} events")
    out.notes = {"duplicate_events_dropped": total - rows.height, "segments": files.height}
    out.periods = list(periods_in(spec, start, end))
    out.entries = [
        ledger.entry(Delivery(spec.name, n, f, d, Path(a)), "ingested", period_start=p, period_grain="day")
        for n, f, d, a, p in segments.iter_rows()
    ]
    return out


def write_bronze(settings: Settings, spec: ProviderSpec, out: Outcome) -> None:
    """Commit ``out.rows`` in place of the rows of ``out.periods``, in one Delta commit
    (periods without a good delivery keep their data)."""
    if out.periods:
        delta.overwrite_periods(bronze_table(settings, spec), out.rows, "period_start", out.periods)


def ingest_show_directories(settings: Settings, specs: list[ProviderSpec], log: logging.Logger) -> Outcome:
    """``landing/<provider>/shows.csv`` (a full snapshot each time) into
    ``delta/bronze/show_directory``; a bad snapshot is quarantined and the old one kept."""
    now = datetime.now(timezone.utc)
    table = settings.delta("bronze", "show_directory")
    entries_ = ledger.read(settings)
    entries, frames, out = [], [], Outcome()
    for spec in specs:
        path = landing.show_directory_file(settings, spec)
        done = ledger.handled(entries_.filter(pl.col("provider") == spec.name))  # every provider's is shows.csv
        if not path.exists() or (path.name, fingerprint(path)) in done and delta.exists(table):
            continue
        delivery = archive(settings, spec.name, path)
        try:
            df = _read_show_directory(spec, delivery, now)
        except DropError as err:
            entries.append(_reject(settings, delivery, err, log, "csv"))
            out.failures.append(err)
            continue
        delta.overwrite_where(table, df, {"provider": spec.name})
        frames.append(df)
        entries.append(ledger.entry(delivery, "ingested", rows=df.height))
        log.info("%s show directory: %d shows from %s", spec.name, df.height, path.name)
    ledger.record(settings, entries)
    out.rows = pl.concat(frames) if frames else empty_frame(SHOW_DIRECTORY)
    return out


def _read_show_directory(spec: ProviderSpec, delivery: Delivery, now: datetime) -> pl.DataFrame:
    file = f"{spec.name}/{landing.SHOW_DIRECTORY_FILE}"
    try:
        raw = pl.read_csv(delivery.archive_path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise DropError(file, f"not valid CSV: {str(exc).splitlines()[0]}") from None
    for column in ("show_id", "feed_url"):
        if column not in raw.columns:
            raise DropError(file, f"missing column {column!r}")
    df = raw.select(
        pl.lit(spec.name).alias("provider"),
        pl.col("show_id").str.strip_chars(),
        pl.col("feed_url").str.strip_chars(),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"),
        pl.lit(delivery.delivery_id).alias("delivery_id"),
        pl.lit(now, UTC).alias("ingested_at"),
    )
    return validate(SHOW_DIRECTORY, df, file)


CATALOG = "catalog"


def _crawl_times(crawls: list[tuple[Path, str, str]]) -> dict[Path, tuple[int, str]]:
    """Archived crawl (its path, fingerprint, landed name) -> its crawl time and name: the
    landed file's mtime its delivery's fingerprint recorded (an unchanged feed crawled
    again shares its archived copy, and that copy's older mtime, with the first crawl of
    those bytes), the latest where crawls share a copy; the landed name breaks ties of
    time (an archived copy's own name starts with a hash of its content)."""
    times: dict[Path, tuple[int, str]] = {}
    for archived, landed, name in crawls:
        times[archived] = max((landed_mtime_ns(landed), name), times.get(archived, (0, "")))
    return times


def ingest_catalog(settings: Settings, log: logging.Logger) -> tuple[Catalog, Outcome]:
    """Every crawled feed in ``landing/catalog/`` into the catalog frames, and the last
    ingested crawl of each feed file no longer there (a feed is not dropped because its
    file left landing). A feed file that does not parse is quarantined and its last good
    crawl (from the archive) stands in. Feed URLs mapped before keep their guid unless a
    crawl now maps them otherwise."""
    entries_ = ledger.read(settings, CATALOG)
    done = ledger.handled(entries_)
    delivered = [archive(settings, CATALOG, p) for p in landing.catalog_files(settings)]
    deliveries = {d.archive_path: d for d in delivered}
    crawls = [(d.archive_path, d.fingerprint, d.file_name) for d in delivered]
    last_good = (
        entries_.filter(pl.col("status") == "ingested")
        .sort("recorded_at")
        .unique("file_name", keep="last")
        .select("archive_path", "fingerprint", "file_name")
    )

    def last_crawls(names: Iterable[str], keep: bool = True) -> list[tuple[Path, str, str]]:
        chosen = pl.col("file_name").is_in(list(names))
        return [(Path(a), f, n) for a, f, n in last_good.filter(chosen if keep else ~chosen).iter_rows()]

    gone = last_crawls((d.file_name for d in delivered), keep=False)
    catalog = build_catalog([*deliveries, *(p for p, _, _ in gone)], _crawl_times(crawls + gone))
    bad = {err.file: err for err in catalog.failures if err.file in deliveries}
    if bad:
        stand_ins = gone + last_crawls(deliveries[p].file_name for p in bad)
        catalog = build_catalog([p for p in deliveries if p not in bad] + [p for p, _, _ in stand_ins],
                                _crawl_times(crawls + stand_ins))
    catalog = catalog.keeping_urls_of(delta.read(settings.delta("silver", "feed_urls"), schema=FEED_URLS_SCHEMA))
    out, entries = Outcome(), []
    for path, delivery in deliveries.items():
        if (delivery.file_name, delivery.fingerprint) in done:
            continue  # a crawl rejected earlier was reported then; its last good crawl stands in
        if path in bad:
            err = DropError(delivery.file_name, bad[path].rule, line=bad[path].line)
            entries.append(_reject(settings, delivery, err, log))
            out.failures.append(err)
        else:
            entries.append(ledger.entry(delivery, "ingested", rows=1))
    for name, frame in catalog.tables().items():
        delta.replace(settings.delta("silver", name), frame)
    ledger.record(settings, entries)
    log.info("catalog: %d podcasts, %d episodes from %d feeds", catalog.podcasts.height, catalog.episodes.height, len(deliveries))
    return catalog, out
