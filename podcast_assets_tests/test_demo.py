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


def test_summary_shows_only_podcasts_with_an_estimate(tmp_path: Path) -> None:
    """F has listens in March but no estimate yet (null, as gold leaves it): it is not
    listed, and its null figures do not break the summary."""
    settings = Settings(lakehouse_dir=str(tmp_path))
    tables = {
        ("gold", "podcast_monthly_estimates"): pl.DataFrame(
            [(MARCH, A, 100, 200.0, 150.0, 260.0, 2, "preliminary"), (MARCH, F, 3, None, None, None, 0, "preliminary")],
            schema=["month", "podcast_guid", "observed_listens", "estimated_listens", "estimate_low", "estimate_high",
                    "providers_reporting", "status"], orient="row"),
        ("gold", "podcast_trends"): pl.DataFrame(
            [(MARCH, A, 200.0, 0.5, 1, True), (MARCH, F, None, None, None, False)],
            schema=["month", "podcast_guid", "estimated_listens", "trend_score", "trend_rank", "is_rising"], orient="row"),
        ("gold", "creator_popularity"): pl.DataFrame(
            [(MARCH, "ann", "Ann Host", 2, 0, 200.0, 1.2, 1)],
            schema=["month", "creator_id", "creator_name", "appearances", "guest_appearances", "estimated_listens",
                    "lift", "popularity_rank"], orient="row"),
        ("silver", "podcasts"): pl.DataFrame({"podcast_guid": [A], "title": ["Podnews"]}),
    }
    for (layer, name), frame in tables.items():
        delta.replace(settings.delta(layer, name), frame)

    assert summary(settings).splitlines() == [
        "Top podcasts, March 2025 (market-wide estimate, 90% interval):",
        f"  {'Podnews':<40s}        200  [150 – 260]  preliminary",
        "Trending, March 2025 (growth a month, shrunk for noise; * = clearly rising):",
        f"  #1   {'Podnews':<40s} +50% *",
        "Top creators, March 2025:",
        "  #1   Ann Host                       2 episodes, 200 listens, lift 1.20",
    ]
