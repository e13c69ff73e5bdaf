"""The gold-layer estimators as pure polars functions (no Dagster, no IO).

Each computes one month (a Dagster partition) from DataFrames handed in; how much
history each needs is a module constant. The method is in ``docs/methodology.md``.
"""

from podcast_assets.estimators.common import ProviderInfo
from podcast_assets.estimators.creators import CREATOR_MONTHS, CREATOR_SCHEMA, creator_popularity
from podcast_assets.estimators.first_30_days import FIRST30_MONTHS, FIRST30_SCHEMA, estimate_first_30_days
from podcast_assets.estimators.monthly import MONTHLY_SCHEMA, estimate_monthly
from podcast_assets.estimators.trends import TREND_MONTHS, TREND_SCHEMA, score_trends

__all__ = [
    "CREATOR_MONTHS",
    "CREATOR_SCHEMA",
    "FIRST30_MONTHS",
    "FIRST30_SCHEMA",
    "MONTHLY_SCHEMA",
    "TREND_MONTHS",
    "TREND_SCHEMA",
    "ProviderInfo",
    "creator_popularity",
    "estimate_first_30_days",
    "estimate_monthly",
    "score_trends",
]
