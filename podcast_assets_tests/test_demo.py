"""The demo's closing summary: what the website would show, read from the gold tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from podcast_assets.demo import summary
from podcast_assets.settings import Settings
from podcast_assets.storage import delta

MARCH = date(2025, 3, 1)
A, F = "9b024349-ccf0-5f69-a609-6b82873eab3c", "1f2e3d4c-5b6a-5978-8877-665544332211"


def write_gold(settings: Settings, estimates: list[tuple], trends: list[tuple], creators: list[tuple]) -> None:
    """The three gold tables the summary reads (contract columns), and A's title."""
    tables = {
        ("gold", "podcast_monthly_estimates"): pl.DataFrame(estimates, orient="row", schema={
            "month": pl.Date, "podcast_guid": pl.String, "observed_listens": pl.Int64, "estimated_listens": pl.Float64,
            "estimate_low": pl.Float64, "estimate_high": pl.Float64, "providers_reporting": pl.Int32,
            "status": pl.String}),
        ("gold", "podcast_trends"): pl.DataFrame(trends, orient="row", schema={
            "month": pl.Date, "podcast_guid": pl.String, "estimated_listens": pl.Float64, "trend_score": pl.Float64,
            "trend_rank": pl.Int32, "is_rising": pl.Boolean}),
        ("gold", "creator_popularity"): pl.DataFrame(creators, orient="row", schema={
            "month": pl.Date, "creator_id": pl.String, "creator_name": pl.String, "appearances": pl.Int32,
            "guest_appearances": pl.Int32, "estimated_listens": pl.Float64, "lift": pl.Float64,
            "popularity_rank": pl.Int32}),
        ("silver", "podcasts"): pl.DataFrame({"podcast_guid": [A], "title": ["Podnews"]}),
    }
    for (layer, name), frame in tables.items():
        delta.replace(settings.delta(layer, name), frame)


def test_summary_shows_only_podcasts_with_an_estimate(tmp_path: Path) -> None:
    """F has listens in March but no estimate yet (null, as gold leaves it): it is not
    listed, and its null figures do not break the summary."""
    settings = Settings(lakehouse_dir=str(tmp_path))
    write_gold(settings,
               [(MARCH, A, 100, 200.0, 150.0, 260.0, 2, "preliminary"), (MARCH, F, 3, None, None, None, 0, "preliminary")],
               [(MARCH, A, 200.0, 0.5, 1, True), (MARCH, F, None, None, None, False)],
               [(MARCH, "ann", "Ann Host", 2, 0, 200.0, 1.2, 1)])

    assert summary(settings).splitlines() == [
        "Top podcasts, March 2025 (market-wide estimate, 90% interval):",
        f"  {'Podnews':<40s}        200  [150 – 260]  preliminary",
        "Trending, March 2025 (growth a month, shrunk for noise; * = clearly rising):",
        f"  #1   {'Podnews':<40s} +50.0% *",
        "Top creators, March 2025 (ranked by their episodes' listens x lift):",
        "  #1   Ann Host                       2 episodes, 200 listens, lift 1.20",
    ]


def test_the_latest_month_with_an_estimate_and_empty_sections(tmp_path: Path) -> None:
    """April has begun with listens but no estimate yet: the summary stays on March, as
    the website's charts do. March's trends are not scored and no creator appeared."""
    settings = Settings(lakehouse_dir=str(tmp_path))
    april = date(2025, 4, 1)
    write_gold(settings,
               [(MARCH, A, 100, 200.0, 150.0, 260.0, 2, "final"), (april, F, 3, None, None, None, 0, "preliminary")],
               [(MARCH, A, 200.0, None, None, False)], [])
    assert summary(settings).splitlines() == [
        "Top podcasts, March 2025 (market-wide estimate, 90% interval):",
        f"  {'Podnews':<40s}        200  [150 – 260]  final",
        "Trending, March 2025 (growth a month, shrunk for noise; * = clearly rising):", "  (none yet)",
        "Top creators, March 2025 (ranked by their episodes' listens x lift):", "  (none yet)",
    ]


def test_no_estimate_at_all_says_so(tmp_path: Path) -> None:
    settings = Settings(lakehouse_dir=str(tmp_path))
    write_gold(settings, [(MARCH, F, 3, None, None, None, 0, "preliminary")], [], [])
    assert summary(settings) == "no estimates yet"
