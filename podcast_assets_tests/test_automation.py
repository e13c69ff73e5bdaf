"""Gold follows silver by itself: a restated *old* daily file re-requests exactly the gold
months that depend on it, through the same automation conditions the automation sensor
evaluates (``dg.evaluate_automation_conditions`` on a real instance)."""

import json
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from podcast_assets.assets.gold import CREATORS, ESTIMATES, FIRST30, TRENDS, podcast_monthly_estimates
from podcast_assets.checks import estimates_consistent
from podcast_assets.definitions import materializable
from podcast_assets.refresh import refresh
from podcast_assets.resources import LakehouseResource, all_resources
from podcast_assets.settings import Settings
from podcast_assets_tests.conftest import block_table


def _drop_cirrus(settings: Settings, day: str, downloads: int) -> None:
    folder = settings.landing("cirrus")
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"date": day, "rows": [{"feed_url": "https://example.com/feed", "downloads": downloads}]}
    (folder / f"cirrus-{day}.json").write_text(json.dumps(doc))


@pytest.fixture
def env(tmp_path: Path):
    settings = Settings(lakehouse_dir=str(tmp_path / "lakehouse"))
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield settings, instance


def _observed(settings: Settings, month: str) -> int:
    estimates = pl.read_delta(settings.delta("gold", "podcast_monthly_estimates"))
    return estimates.filter(pl.col("month").cast(pl.String) == month).get_column("observed_listens").sum()


def test_restated_old_day_requests_its_month_and_the_months_that_read_it(env) -> None:
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    _drop_cirrus(settings, "2025-03-10", 50)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    assert _observed(settings, "2025-01-01") == 100

    defs = dg.Definitions(assets=materializable, resources=all_resources(LakehouseResource(lakehouse_dir=settings.lakehouse_dir)))
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert baseline.total_requested == 0  # nothing changed since refresh

    # cirrus restates 10 January; only that day's partition is re-ingested
    _drop_cirrus(settings, "2025-01-10", 130)
    result = dg.materialize(
        materializable,
        selection=[dg.AssetKey(["bronze", "cirrus"]), dg.AssetKey(["silver", "cirrus_listens"])],
        partition_key="2025-01-10",
        instance=instance,
        resources=all_resources(LakehouseResource(lakehouse_dir=settings.lakehouse_dir)),
    )
    assert result.success

    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    # January's estimate and the first 30 days of January's episodes read 10 January ...
    assert after.get_requested_partitions(ESTIMATES) == {"2025-01-01"}
    assert after.get_requested_partitions(FIRST30) == {"2025-01-01"}
    # ... and trends/creators read January's gold as history for the next months too
    # (their windows are TREND_MONTHS / CREATOR_MONTHS long), but never March alone
    # without January in it: every request includes the restated month.
    assert "2025-01-01" in after.get_requested_partitions(TRENDS)
    assert "2025-01-01" in after.get_requested_partitions(CREATORS)
    assert "2025-03-01" not in after.get_requested_partitions(ESTIMATES)


def test_refresh_rematerializes_the_restated_month(env) -> None:
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    _drop_cirrus(settings, "2025-01-11", 20)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    assert _observed(settings, "2025-01-01") == 120  # 100 + 20

    _drop_cirrus(settings, "2025-01-10", 130)
    lines: list[str] = []
    assert refresh(settings, instance, materializable, echo=lines.append).ok
    assert _observed(settings, "2025-01-01") == 150  # 130 replaces 100: 130 + 20, not 250
    assert any("rematerialize" in line for line in lines)


def test_a_gold_step_failing_for_a_passing_reason_is_retried_in_its_run(env) -> None:
    """A file sits where ``gold/podcast_trends`` goes until the step has failed once: the
    step is tried again in the same run, and the run succeeds. (Without the retry the
    month would wait for an upstream change, which for a closed month may never come.)"""
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    trends = block_table(settings, "gold", "podcast_trends")

    def up_for_retry() -> bool:
        runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
        return bool(runs) and bool(
            instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
        )

    def clear_the_way_after_the_first_failure() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not up_for_retry():
            time.sleep(0.02)
        trends.unlink()

    watcher = threading.Thread(target=clear_the_way_after_the_first_failure)
    watcher.start()
    result = dg.materialize(
        materializable,
        selection=[TRENDS],
        partition_key="2025-01-01",
        instance=instance,
        resources=all_resources(LakehouseResource(lakehouse_dir=settings.lakehouse_dir)),
        raise_on_error=False,
    )
    watcher.join()

    assert result.success
    retried = (dg.DagsterEventType.STEP_UP_FOR_RETRY, dg.DagsterEventType.STEP_RESTARTED)
    # (had the watcher been slow to clear the way, a second retry would follow: no matter)
    assert [e.event_type for e in result.all_events if e.event_type in retried][:2] == list(retried)
    rows = pl.read_delta(str(trends)).filter(pl.col("month").cast(pl.String) == "2025-01-01")
    assert rows.height == 1  # the one podcast cirrus delivered


def test_refresh_requests_again_the_gold_months_whose_run_failed(env) -> None:
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    trends = block_table(settings, "gold", "podcast_trends")  # every attempt at trends fails, retries included

    _drop_cirrus(settings, "2025-01-10", 130)
    assert not refresh(settings, instance, materializable, echo=lambda _: None).ok
    assert _observed(settings, "2025-01-01") == 130  # estimates, in the same run, made it

    trends.unlink()
    lines: list[str] = []
    assert refresh(settings, instance, materializable, echo=lines.append).ok
    assert any("rematerialize" in line for line in lines)
    months = pl.read_delta(str(trends)).get_column("month").cast(pl.String).to_list()
    assert months == ["2025-01-01"]


def test_automation_requests_a_gold_month_once_more_after_its_run_failed(env) -> None:
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    resources = all_resources(LakehouseResource(lakehouse_dir=settings.lakehouse_dir))
    defs = dg.Definitions(assets=materializable, resources=resources)
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    trends = block_table(settings, "gold", "podcast_trends")  # every attempt at trends fails, step retries included

    failed = dg.materialize(materializable, selection=[TRENDS], partition_key="2025-01-01", instance=instance,
                            resources=resources, raise_on_error=False)
    assert not failed.success
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    assert after.get_requested_partitions(TRENDS) == {"2025-01-01"}
    assert after.get_requested_partitions(ESTIMATES) == set()  # nothing failed or changed there

    trends.unlink()
    assert dg.materialize(materializable, selection=[TRENDS], partition_key="2025-01-01", instance=instance,
                          resources=resources).success
    last = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert last.get_requested_partitions(TRENDS) == set()  # done: not requested again
    assert last.get_requested_partitions(dg.AssetKey(["serving", "serving_store"])) == {None}  # follows it


def test_gold_metadata_and_the_estimates_check_catch_a_changed_table(env) -> None:
    """After refresh (one ranged gold run from January on), the estimates' materializations
    say what the run wrote and preview it, and the estimates check passes; an estimate
    pushed under what was observed (someone writing the table by hand) makes it fail."""
    settings, instance = env
    _drop_cirrus(settings, "2025-01-10", 100)
    assert refresh(settings, instance, materializable, echo=lambda _: None).ok
    meta = instance.get_latest_materialization_event(ESTIMATES).asset_materialization.metadata
    assert meta["rows_in_run"].value == 1 and "| 2025-01-01 |" in meta["preview"].value
    assert meta["figures_cover"].value.startswith("the whole ranged run 2025-01-01..")

    resources = all_resources(LakehouseResource(lakehouse_dir=settings.lakehouse_dir))

    def check() -> dg.AssetCheckEvaluation:
        result = dg.materialize([podcast_monthly_estimates, estimates_consistent],
                                selection=dg.AssetSelection.checks_for_assets(ESTIMATES),
                                instance=instance, resources=resources)
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    assert check().passed
    path = settings.delta("gold", "podcast_monthly_estimates")
    pl.read_delta(path).with_columns(pl.col("estimated_listens") * 0 + 1.0).write_delta(path, mode="overwrite")
    failed = check()
    assert not failed.passed and failed.metadata["estimate_below_observed"].value == 1
