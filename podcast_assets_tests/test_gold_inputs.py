"""What the gold estimators read from the real silver table (``gold_inputs``)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from podcast_assets import gold_inputs
from podcast_assets.providers.specs import PROVIDERS
from podcast_assets.settings import Settings
from podcast_assets.silver import LISTENS
from podcast_assets.storage import delta
from podcast_assets_tests.conftest import GUID_A

MARCH = date(2025, 3, 1)


def _all_of_march_landed() -> pl.DataFrame:
    days = [MARCH + timedelta(days=i) for i in range(31)]
    rows = [(s.name, d, "day") for s in PROVIDERS if s.cadence != "monthly" for d in days]
    rows += [(s.name, MARCH, "month") for s in PROVIDERS if s.cadence == "monthly"]
    return pl.DataFrame(rows, schema=gold_inputs.COVERAGE_SCHEMA, orient="row")


def _dune_march(settings: Settings, guid: str | None) -> None:
    """dune's March in silver: 100 listens of one show, mapped to ``guid`` (None: not yet)."""
    frame = pl.DataFrame(
        {"provider": "dune", "podcast_guid": guid, "episode_guid": None, "period_start": MARCH, "period_grain": "month",
         "listens": 100, "unmapped_show": None if guid else "https://example.com/unknown"},
        schema={"provider": pl.String, "podcast_guid": pl.String, "episode_guid": pl.String, "period_start": pl.Date,
                "period_grain": pl.String, "listens": pl.Int64, "unmapped_show": pl.String},
    )
    delta.overwrite_periods(settings.delta(*LISTENS), frame, "period_start", [MARCH], {"provider": "dune"})


def test_a_month_with_unmapped_listens_stays_preliminary_until_they_are_mapped(settings: Settings) -> None:
    """March has landed for every provider and is over; dune's listens are at first
    unmapped (no estimate, and the month preliminary), then mapped (final)."""
    coverage, providers = _all_of_march_landed(), gold_inputs.provider_infos(settings)
    delta.overwrite_periods(settings.delta(*LISTENS), pl.DataFrame(
        {"provider": "boreal", "podcast_guid": GUID_A, "episode_guid": "e1", "period_start": MARCH, "period_grain": "day",
         "listens": 10, "unmapped_show": None}, schema_overrides={"unmapped_show": pl.String}),
        "period_start", [MARCH], {"provider": "boreal"})
    _dune_march(settings, None)
    waiting = gold_inputs.month_estimates(settings, MARCH, date(2025, 4, 10), coverage, providers)
    assert waiting.select("podcast_guid", "observed_listens", "status").rows() == [(GUID_A, 10, "preliminary")]

    _dune_march(settings, GUID_A)  # the directory landed and silver was re-resolved
    mapped = gold_inputs.month_estimates(settings, MARCH, date(2025, 4, 10), coverage, providers)
    assert mapped.select("podcast_guid", "observed_listens", "status").rows() == [(GUID_A, 110, "final")]
