"""What the demo prints at the end: what the website would show, from the gold tables."""

from __future__ import annotations

import polars as pl

from podcast_assets.settings import Settings
from podcast_assets.storage import delta

TOP = 5


def _titles(settings: Settings) -> pl.DataFrame:
    return delta.read(settings.delta("silver", "podcasts"), schema={"podcast_guid": pl.String, "title": pl.String}).select(
        "podcast_guid", "title"
    )


def _gold(settings: Settings, table: str) -> pl.DataFrame:
    return delta.read(settings.delta("gold", table))


def _section(title: str, rows: list[str]) -> list[str]:
    return [title, *(rows or ["  (none yet)"])]


def summary(settings: Settings) -> str:
    estimates = _gold(settings, "podcast_monthly_estimates")
    month = estimates.filter(pl.col("estimated_listens").is_not_null()).get_column("month").max() if estimates.height else None
    if month is None:  # the latest month with an estimate, as the website's charts show
        return "no estimates yet"
    titles = _titles(settings)
    top = (
        estimates.filter(pl.col("month") == month, pl.col("estimated_listens").is_not_null())
        .join(titles, on="podcast_guid", how="left")
        .sort("estimated_listens", descending=True)
        .head(TOP)
    )
    trends = _gold(settings, "podcast_trends").filter(pl.col("month") == month).join(titles, on="podcast_guid", how="left")
    risers = trends.filter(pl.col("trend_rank").is_not_null()).sort("trend_rank").head(TOP)
    creators = _gold(settings, "creator_popularity").filter(pl.col("month") == month).sort("popularity_rank").head(TOP)
    lines = _section(f"Top podcasts, {month:%B %Y} (market-wide estimate, 90% interval):", [
        f"  {r['title'] or r['podcast_guid']:<40.40s} {r['estimated_listens']:>10,.0f}  "
        f"[{r['estimate_low']:,.0f} – {r['estimate_high']:,.0f}]  {r['status']}"
        for r in top.iter_rows(named=True)
    ])
    lines += _section(f"Trending, {month:%B %Y} (growth a month, shrunk for noise; * = clearly rising):", [
        f"  #{r['trend_rank']:<3d} {r['title'] or r['podcast_guid']:<40.40s} {r['trend_score']:+.1%}"
        f"{' *' if r['is_rising'] else ''}"
        for r in risers.iter_rows(named=True)
    ])
    lines += _section(f"Top creators, {month:%B %Y} (ranked by their episodes' listens x lift):", [
        f"  #{r['popularity_rank']:<3d} {r['creator_name']:<30.30s} {r['appearances']} episodes, "
        f"{r['estimated_listens']:,.0f} listens, lift {'n/a' if r['lift'] is None else format(r['lift'], '.2f')}"
        for r in creators.iter_rows(named=True)
    ])
    return "\n".join(lines)
