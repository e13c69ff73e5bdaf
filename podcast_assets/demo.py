"""What the demo prints at the end: the lakehouse as a reader would see it."""

from __future__ import annotations

import polars as pl

from podcast_assets.settings import Settings
from podcast_assets.storage import delta


def summary(settings: Settings) -> str:
    listens = delta.read(settings.delta("silver", "listens"))
    if listens.is_empty():
        return "no listens in silver yet"
    per_provider = (
        listens.group_by("provider")
        .agg(
            pl.col("listens").sum().alias("listens"),
            pl.col("listens").filter(pl.col("podcast_guid").is_null()).sum().alias("unmapped"),
            pl.col("period_start").min().alias("from"),
            pl.col("period_start").max().alias("to"),
        )
        .sort("provider")
    )
    lines = ["silver/listens by provider:"]
    lines += [f"  {p:8s} {n:>10,d} listens ({u:,d} unmapped), {a} .. {b}" for p, n, u, a, b in per_provider.iter_rows()]
    return "\n".join(lines)
