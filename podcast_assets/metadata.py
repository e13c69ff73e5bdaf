"""Materialization metadata a person can read in the Dagster UI: row counts, the column
schema, where the table lives, and a markdown preview of the first rows."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

PREVIEW_ROWS = 10


def markdown_preview(df: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    head = df.head(rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |")
    return "\n".join(lines)


def table_metadata(
    df: pl.DataFrame, path: str | None = None, context: dg.AssetExecutionContext | None = None, **extra: Any
) -> dict[str, Any]:
    """``df`` is what the run wrote. A ranged run (``context`` with several partitions)
    records one materialization per partition, all with this metadata, so there the
    figures say they are the whole run's, and the row count is ``rows_in_run`` rather
    than each partition's ``dagster/row_count``."""
    keys = context.partition_keys if context is not None and context.has_partition_key_range else []
    counts: dict[str, Any] = (
        {"rows_in_run": df.height, "figures_cover": f"the whole ranged run {keys[0]}..{keys[-1]} ({len(keys)} partitions)"}
        if len(keys) > 1 else {"dagster/row_count": df.height}
    )
    meta: dict[str, Any] = {
        **counts,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()]
        ),
        "preview": dg.MetadataValue.md(markdown_preview(df)),
    }
    if path:
        meta["path"] = dg.MetadataValue.path(path)
    meta.update(extra)
    return meta
