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


def table_metadata(df: pl.DataFrame, path: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "dagster/row_count": df.height,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()]
        ),
        "preview": dg.MetadataValue.md(markdown_preview(df)),
    }
    if path:
        meta["path"] = dg.MetadataValue.path(path)
    meta.update(extra)
    return meta
