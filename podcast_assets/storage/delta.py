"""Delta Lake IO: overwrites of a time window or of periods, and filtered reads.

We write through ``deltalake.write_deltalake`` with ``mode="overwrite"`` and a predicate
``col >= start AND col < end [AND key = value]``: one atomic commit replaces exactly the
rows of the window being (re)written, so a restated file or a ranged backfill never adds
on top of earlier data. Tables stay within what delta-rs writes by default, so any Delta
reader (polars, DuckDB, Spark) can read them.

The provider feeds write through ``overwrite_periods``, which has a faster way to the same
commit: each period's rows go to a Parquet file of their own, written by polars (on every
core; delta-rs encodes on one), and one Delta transaction adds those files and removes the
files of the periods replaced. That needs no reading of old files, because every file it
writes holds one period of one slice (``where``): a file's statistics then say whether all
of its rows are replaced. A file that also holds other rows (written by a predicate
overwrite) sends the write the predicate way.
"""

from __future__ import annotations

import json
import time
import uuid
from bisect import bisect_left
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import polars as pl
from deltalake import DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, CommitProperties, RemoveAction, Transaction

COMMIT_RETRIES = 5


def exists(path: str) -> bool:
    return DeltaTable.is_deltatable(path)


def version(path: str) -> int | None:
    return DeltaTable(path).version() if exists(path) else None


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _all(parts: list[str], where: Mapping[str, str] | None) -> str:
    """``parts`` and ``key = value`` for each of ``where``, joined with AND."""
    return " AND ".join(parts + [f"{key} = {_literal(value)}" for key, value in (where or {}).items()])


def window_predicate(column: str, start: date, end: date, where: Mapping[str, str] | None = None) -> str:
    return _all([f"{column} >= {_literal(start)}", f"{column} < {_literal(end)}"], where)


def _retrying(commit: Callable[[], None]) -> None:
    """Run ``commit`` with a few retries: concurrent writers of one table conflict at
    commit time, and the loser starts again from the table as the winner left it."""
    for attempt in range(COMMIT_RETRIES):
        try:
            return commit()
        except CommitFailedError:
            if attempt == COMMIT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def _create_if_missing(path: str, df: pl.DataFrame) -> None:
    """A missing table is created empty, with ``df``'s schema, before any rows are written:
    had the first write created it with its rows, writers racing to create it would each
    append theirs (two deliveries of one day both kept), because creating a table cannot
    conflict with another creation the way two overwrites of one slice do."""
    if not exists(path):
        write_deltalake(path, df.clear(), mode="append")


def _write(path: str, df: pl.DataFrame, predicate: str | None, mode: str = "overwrite",
           slice_id: str | None = None) -> None:
    def commit() -> None:
        _create_if_missing(path, df)
        properties = _naming(DeltaTable(path), slice_id) if slice_id else None
        write_deltalake(path, df, mode=mode, predicate=predicate, commit_properties=properties)

    _retrying(commit)


def overwrite_window(
    path: str, df: pl.DataFrame, column: str, start: date, end: date, where: Mapping[str, str] | None = None
) -> None:
    """Replace the rows with ``start <= column < end`` (and ``where``) by ``df`` in one commit."""
    _write(path, df, window_predicate(column, start, end, where))


def overwrite_periods(
    path: str, df: pl.DataFrame, column: str, periods: list[date], where: Mapping[str, str] | None = None
) -> None:
    """Replace the rows whose ``column`` is one of ``periods`` (and ``where``) by ``df`` in
    one commit (the periods of a ranged run that had a good delivery; the others keep
    their data). ``df`` must hold only rows of ``periods`` and ``where``.

    Written as one Parquet file per period and committed as a transaction (module
    docstring), unless a file of the table holds rows of these periods and others too.
    The commit names its slice (a Delta application id per ``where``), so two writers of
    one slice conflict and the loser retries, whichever way each of them writes."""
    predicate = _all([f"{column} IN ({', '.join(_literal(p) for p in periods)})"], where)
    where = dict(where or {})
    _retrying(lambda: _create_if_missing(path, df))
    if Schema.from_arrow(df.clear().to_arrow().schema) != DeltaTable(path).schema():
        return _write(path, df, predicate)  # delta-rs refuses it, naming the difference
    slice_id = "overwrite_periods " + json.dumps(where, sort_keys=True)
    added: list[AddAction] = []

    def commit() -> None:
        table = DeltaTable(path)
        replaced = _replaced_files(table, column, periods, where)
        if replaced is None:
            raise _NotOnlyThesePeriods
        removed = [RemoveAction(file, True, _now_ms(), size) for file, size in replaced]
        table.create_write_transaction([*added, *removed], mode="append", schema=table.schema(),
                                       commit_properties=_naming(table, slice_id))

    try:
        for add in _period_files(path, df, column, periods, where):
            added.append(add)
        _retrying(commit)
    except BaseException as exc:
        for add in added:  # never committed: no reader knows them
            Path(path, add.path).unlink(missing_ok=True)
        if not isinstance(exc, _NotOnlyThesePeriods):
            raise
        _write(path, df, predicate, slice_id=slice_id)


class _NotOnlyThesePeriods(Exception):
    """A file of the table holds rows of the periods being replaced and others too."""


def _naming(table: DeltaTable, slice_id: str) -> CommitProperties:
    """Commit properties carrying the next version of ``slice_id``: Delta's conflict check
    fails a commit when one naming the same application id landed since its snapshot."""
    return CommitProperties(app_transactions=[Transaction(slice_id, (table.transaction_version(slice_id) or 0) + 1)])


def _now_ms() -> int:
    return int(time.time() * 1000)


def _replaced_files(table: DeltaTable, column: str, periods: list[date], where: dict[str, str]) -> list[tuple[str, int]] | None:
    """The files (path, size) that may hold rows of ``periods`` and ``where``, by their
    statistics; None if one of them may hold other rows too, or has no statistics."""
    files = pl.DataFrame(table.get_add_actions(flatten=True))
    keys = [column, *where]
    stats = [f"{stat}.{key}" for key in keys for stat in ("min", "max", "null_count")]
    if not files.height:
        return []
    if not set(stats) <= set(files.columns):
        return None
    wanted, replaced = sorted(periods), []
    for path, size, rows, *flat in files.select("path", "size_bytes", "num_records", *stats).iter_rows():
        bounds = [flat[i:i + 3] for i in range(0, len(flat), 3)]  # min, max, nulls of each key
        if rows is None or any(n is None or (lo is None and n < rows) for lo, _, n in bounds):
            return None  # no statistics for a key (bounds are missing where not all rows are null)
        (low, high, nulls), *slices = bounds
        first = bisect_left(wanted, low) if low is not None else len(wanted)  # all null: matches no period
        may_match = first < len(wanted) and wanted[first] <= high and all(
            lo is not None and lo <= value <= hi for (lo, hi, _), value in zip(slices, where.values())
        )
        if not may_match:
            continue
        if low != high or nulls or any(lo != hi or n for lo, hi, n in slices):
            return None
        replaced.append((path, size))
    return replaced


def _period_files(path: str, df: pl.DataFrame, column: str, periods: list[date], where: dict[str, str]) -> Iterator[AddAction]:
    """Write ``df`` as one Parquet file per ``column`` value, yielding the Delta add action
    of each as it is written; raises before writing any if a row is outside ``periods``
    and ``where``."""
    values = df.get_column(column)
    one_value = not values.null_count() and values.min() == values.max()
    parts = [df] if one_value else df.partition_by(column, maintain_order=True)
    parts = [(part, _stats(part, [column, *where])) for part in parts if part.height]
    for part, stats in parts:
        if part.item(0, column) not in periods:
            raise ValueError(f"overwrite_periods of {path}: rows of {part.item(0, column)}, not one of the periods")
        if any((stats["minValues"].get(k), stats["maxValues"].get(k), stats["nullCount"][k]) != (v, v, 0)
               for k, v in where.items()):
            raise ValueError(f"overwrite_periods of {path}: rows outside {where}")
    for part, stats in parts:
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        # no row-group bounds: the file's Delta statistics say what readers skip by (its one
        # period), and bounds of unsorted text would skip nothing
        part.write_parquet(Path(path, name), compression="snappy", statistics=False)
        yield AddAction(name, Path(path, name).stat().st_size, {}, _now_ms(), True, json.dumps(stats))


def _stats(part: pl.DataFrame, keys: list[str]) -> dict[str, Any]:
    """Delta file statistics: rows, nulls per column, bounds of the integer and date
    columns and of ``keys`` (the text of other columns can be long, and timestamps carry
    more precision than readers parse: they get none, as readers allow)."""
    bounded = [c for c, dtype in part.schema.items() if dtype.is_integer() or dtype == pl.Date or c in keys]
    low = part.select(bounded).min().row(0, named=True)
    high = part.select(bounded).max().row(0, named=True)

    def bounds(values: dict[str, Any]) -> dict[str, Any]:
        return {c: v.isoformat() if isinstance(v, date) else v for c, v in values.items() if v is not None}

    return {"numRecords": part.height, "minValues": bounds(low), "maxValues": bounds(high),
            "nullCount": dict(zip(part.columns, part.null_count().row(0)))}


def overwrite_where(path: str, df: pl.DataFrame, where: Mapping[str, str]) -> None:
    """Replace the rows matching ``key = value`` for all of ``where`` (a snapshot slice)."""
    _write(path, df, _all([], where))


def replace(path: str, df: pl.DataFrame) -> None:
    """Replace the whole table (full snapshots such as the catalog)."""
    _write(path, df, None)


def append(path: str, df: pl.DataFrame) -> None:
    _write(path, df, None, mode="append")


def read(path: str, predicate: pl.Expr | None = None, schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
    """Read a table (optionally filtered, pushed down to the Delta scan). A table that does
    not exist yet reads as empty with ``schema``."""
    if not exists(path):
        return pl.DataFrame(schema=dict(schema or {}))
    lf = pl.scan_delta(path)
    if predicate is not None:
        lf = lf.filter(predicate)
    return lf.collect()


def in_window(column: str, start: date, end: date) -> pl.Expr:
    return (pl.col(column) >= start) & (pl.col(column) < end)
