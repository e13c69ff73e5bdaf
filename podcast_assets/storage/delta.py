"""Delta Lake IO: predicate overwrites of one time window, and filtered reads.

We write through ``deltalake.write_deltalake`` with ``mode="overwrite"`` and a predicate
``col >= start AND col < end [AND key = value]``: one atomic commit replaces exactly the
rows of the window being (re)written, so a restated file or a ranged backfill never adds
on top of earlier data. Tables stay within what delta-rs writes by default, so any Delta
reader (polars, DuckDB, Spark) can read them.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Mapping

import polars as pl
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

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


def _write(path: str, df: pl.DataFrame, predicate: str | None, mode: str = "overwrite") -> None:
    """Write with a few retries: concurrent writers of one table conflict at commit time.

    A missing table is first created empty, with this frame's schema, and then written like
    any other: had the first write created it with its rows, writers racing to create it
    would each append theirs (two deliveries of one day both kept), because creating a
    table cannot conflict with another creation the way two predicate overwrites do."""
    for attempt in range(COMMIT_RETRIES):
        try:
            if not exists(path):
                write_deltalake(path, df.clear(), mode="append")
            write_deltalake(path, df, mode=mode, predicate=predicate)
            return
        except CommitFailedError:
            if attempt == COMMIT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)


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
    their data)."""
    _write(path, df, _all([f"{column} IN ({', '.join(_literal(p) for p in periods)})"], where))


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
