"""The gold-layer estimators as pure polars functions (no Dagster, no IO).

Each computes one month (a Dagster partition) from DataFrames handed in; how much
history each needs is a module constant. The method is in ``docs/methodology.md``.
"""

from podcast_assets.estimators.common import ProviderInfo
from podcast_assets.estimators.creators import CREATOR_COLUMNS, CREATOR_MONTHS, creator_popularity
from podcast_assets.estimators.first_30_days import FIRST30_COLUMNS, FIRST30_MONTHS, estimate_first_30_days
from podcast_assets.estimators.monthly import MONTHLY_COLUMNS, estimate_monthly
from podcast_assets.estimators.trends import TREND_COLUMNS, TREND_MONTHS, score_trends

__all__ = [
    "CREATOR_COLUMNS",
    "CREATOR_MONTHS",
    "FIRST30_COLUMNS",
    "FIRST30_MONTHS",
    "MONTHLY_COLUMNS",
    "TREND_COLUMNS",
    "TREND_MONTHS",
    "ProviderInfo",
    "creator_popularity",
    "estimate_first_30_days",
    "estimate_monthly",
    "score_trends",
]
