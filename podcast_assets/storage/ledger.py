"""The delivery ledger, ``delta/bronze/deliveries``: one row per thing that happened to a
landed file (registered, ingested, quarantined), per period it touches.

It is how the sensors and ``refresh`` know what is new (a file whose name and fingerprint
have no ``ingested``/``quarantined`` row), how instant segments are found by day without
re-reading them, and what data has landed for the gold layer's preliminary/final status.
Rows of the file ``(silver/listens)`` say when a period's bronze commit was set out
(``writing``) and its silver resolved (``resolved``), which keeps silver in step with
bronze (``identity_sync``). It is append-only, like the archive.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any, Iterable, Literal

import polars as pl

from podcast_assets.settings import Settings
from podcast_assets.storage import delta
from podcast_assets.storage.archive import Delivery

Status = Literal["registered", "ingested", "quarantined", "resolved", "writing"]
TABLE = ("bronze", "deliveries")

SCHEMA: dict[str, pl.DataType] = {
    "provider": pl.String(),
    "file_name": pl.String(),
    "fingerprint": pl.String(),
    "delivery_id": pl.String(),
    "archive_path": pl.String(),
    "period_start": pl.Date(),
    "period_grain": pl.String(),
    "rows": pl.Int64(),
    "status": pl.String(),
    "reason": pl.String(),
    "recorded_at": pl.Datetime("us", "UTC"),
}


def entry(
    delivery: Delivery,
    status: Status,
    *,
    period_start: date | None = None,
    period_grain: str | None = None,
    rows: int = 0,
    reason: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "provider": delivery.provider,
        "file_name": delivery.file_name,
        "fingerprint": delivery.fingerprint,
        "delivery_id": delivery.delivery_id,
        "archive_path": str(delivery.archive_path),
        "period_start": period_start,
        "period_grain": period_grain,
        "rows": rows,
        "status": status,
        "reason": json.dumps(reason, default=str) if reason else None,
        "recorded_at": datetime.now(timezone.utc),
    }


def record(settings: Settings, entries: Iterable[dict[str, Any]]) -> None:
    frame = pl.DataFrame(list(entries), schema=SCHEMA)
    if frame.height:
        delta.append(settings.delta(*TABLE), frame)


def read(settings: Settings, provider: str | None = None) -> pl.DataFrame:
    predicate = pl.col("provider") == provider if provider else None
    return delta.read(settings.delta(*TABLE), predicate, SCHEMA)


def handled(ledger: pl.DataFrame) -> set[tuple[str, str]]:
    """(file name, fingerprint) pairs that were ingested or quarantined: done."""
    done = ledger.filter(pl.col("status").is_in(["ingested", "quarantined", "registered"]))
    return set(done.select("file_name", "fingerprint").iter_rows())
