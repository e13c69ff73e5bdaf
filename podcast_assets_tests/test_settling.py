"""Statuses that change with time alone: a month whose instant-feed days were still inside
the late-event grace period is ``preliminary``; once the grace period has passed it must
become ``final`` without any new data arriving."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from podcast_assets import sample_data
from podcast_assets.assets.gold import ESTIMATES
from podcast_assets.definitions import defs, materializable
from podcast_assets.refresh import refresh
from podcast_assets.resources import LakehouseResource
from podcast_assets.settings import get_settings
from podcast_assets.settling import settling_work


def _statuses(settings) -> dict[str, set[str]]:
    estimates = pl.read_delta(settings.delta("gold", "podcast_monthly_estimates"))
    return {m.isoformat(): set(s) for m, s in estimates.group_by("month").agg(pl.col("status").unique()).iter_rows()}


@pytest.fixture
def lakehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PODCAST_LAKEHOUSE_DIR", str(tmp_path / "lakehouse"))
    return tmp_path


def test_a_month_becomes_final_once_the_grace_period_has_passed(lakehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every provider delivered January and February 2025 (the tiny sample market).
    market = sample_data.generate_market("tiny", seed=3)
    monkeypatch.setenv("PODCAST_AS_OF", "2025-03-01")
    settings = get_settings()
    sample_data.write_drops(market, settings, as_of=date(2025, 3, 1))
    (lakehouse / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(lakehouse / "dagster_home")) as instance:
        assert refresh(settings, instance, materializable, echo=lambda _: None).ok
        # On 1 March, aurora's 27 and 28 February are inside the 2-day grace period.
        assert _statuses(settings) == {"2025-01-01": {"final"}, "2025-02-01": {"preliminary"}}
        assert settling_work(settings) == []  # nothing has changed yet

        # Five days later nothing new has arrived, but February is complete now.
        monkeypatch.setenv("PODCAST_AS_OF", "2025-03-05")
        later = get_settings()
        work = settling_work(later)
        assert [(w.assets, w.first_partition) for w in work if w.assets == (ESTIMATES,)] == [((ESTIMATES,), "2025-02-01")]
        # the gold_settling sensor asks for exactly that work, as the daemon would
        context = dg.build_sensor_context(instance=instance, definitions=defs,
                                          resources={"lakehouse": LakehouseResource(lakehouse_dir=later.lakehouse_dir)})
        tick = defs.resolve_sensor_def("gold_settling").evaluate_tick(context)
        assert [(r.asset_selection, r.partition_key) for r in tick.run_requests] == [
            (list(w.assets), w.first_partition) for w in work
        ]
        assert refresh(later, instance, materializable, echo=lambda _: None).ok
        assert _statuses(later) == {"2025-01-01": {"final"}, "2025-02-01": {"final"}}
        assert [w for w in settling_work(later) if w.assets == (ESTIMATES,)] == []  # settled once
