"""Response bodies of the API (they are also its OpenAPI schema) and display rounding."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["final", "preliminary"]
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
NOT_YET = " Null while none of the data it scales from has landed."


def two_significant(value: float | None) -> int | None:
    """Round a listen count for display: two significant figures, halves away from zero,
    never finer than a whole listen (12,345 -> 12,000; 995 -> 1,000; 3.46 -> 3). No
    estimate (None) stays None."""
    if value is None:
        return None
    exact = Decimal(repr(float(value)))
    exponent = max(exact.adjusted() - 1, 0)
    return int(exact.scaleb(-exponent).quantize(Decimal(1), ROUND_HALF_UP).scaleb(exponent))


def month_text(month: date) -> str:
    """``date(2025, 3, 1)`` -> ``"2025-03"``."""
    return f"{month.year:04d}-{month.month:02d}"


class Error(BaseModel):
    detail: str = Field(description="What went wrong, for people; no internals.")


class Page(BaseModel):
    limit: int = Field(description="Most items this page may hold.")
    offset: int = Field(description="Items skipped before this page.")
    total: int = Field(description="Items in the whole list.")


# ---- public (curated) ---------------------------------------------------------------


class DisplayEstimate(BaseModel):
    month: str = Field(description="YYYY-MM")
    listens: int | None = Field(description="Estimated market-wide listens, two significant figures." + NOT_YET)
    status: Status = Field(description="`final` once every provider's data has landed.")


class PodcastEstimates(Page):
    podcast_guid: str
    title: str | None
    items: list[DisplayEstimate] = Field(description="Newest month first.")


class ChartEntry(BaseModel):
    rank: int = Field(description="1 is the most listened podcast of the month.")
    podcast_guid: str
    title: str | None
    listens: int = Field(description="Estimated market-wide listens, two significant figures.")
    status: Status


class TopChart(Page):
    month: str | None = Field(description="YYYY-MM; null when nothing is published yet.")
    items: list[ChartEntry]


class RisingEntry(BaseModel):
    rank: int = Field(description="1 is the fastest riser of the month.")
    podcast_guid: str
    title: str | None
    listens: int = Field(description="Estimated market-wide listens, two significant figures.")


class RisingChart(Page):
    month: str | None = Field(description="YYYY-MM; null when nothing is published yet.")
    items: list[RisingEntry]


# ---- pro (structured) ---------------------------------------------------------------


class Estimate(BaseModel):
    month: str = Field(description="YYYY-MM")
    observed_listens: int = Field(description="Listens our providers reported.")
    estimated_listens: float | None = Field(description="Market-wide estimate." + NOT_YET)
    estimate_low: float | None = Field(description="Lower end of the 90% interval.")
    estimate_high: float | None = Field(description="Upper end of the 90% interval.")
    providers_reporting: int
    status: Status


class ExactEstimates(Page):
    podcast_guid: str
    title: str | None
    items: list[Estimate] = Field(description="Newest month first.")


class EpisodeFirst30Days(BaseModel):
    episode_guid: str
    published_at: datetime | None = Field(description="UTC.")
    estimated_listens_30d: float | None = Field(description="Market-wide listens in the first 30 days." + NOT_YET)
    estimate_low: float | None = Field(description="Lower end of the 90% interval.")
    estimate_high: float | None = Field(description="Upper end of the 90% interval.")
    window_complete: bool = Field(description="The 30 days have ended and their data has landed.")


class Episodes(Page):
    podcast_guid: str
    items: list[EpisodeFirst30Days] = Field(description="Newest episode first.")


class TrendPoint(BaseModel):
    month: str = Field(description="YYYY-MM")
    estimated_listens: float | None = Field(description="Market-wide estimate." + NOT_YET)
    trend_score: float | None = Field(description="Higher is rising faster.")
    trend_rank: int | None = Field(description="1 is the fastest riser that month; null without a score.")
    is_rising: bool


class Trends(Page):
    podcast_guid: str
    items: list[TrendPoint] = Field(description="Newest month first.")


class CreatorEntry(BaseModel):
    creator_id: str
    creator_name: str | None
    appearances: int
    guest_appearances: int
    estimated_listens: float = Field(description="Market-wide listens of their episodes.")
    lift: float | None = Field(description="Their episodes against the same show's others; 1.0 is no effect.")
    popularity_rank: int = Field(description="1 is the most popular.")


class Creators(Page):
    month: str | None = Field(description="YYYY-MM; null when nothing is published yet.")
    items: list[CreatorEntry]


# ---- internal -----------------------------------------------------------------------


class StoreStatus(BaseModel):
    published_at: datetime
    tables: dict[str, int] = Field(description="Rows of each published table.")
