"""Asset checks, shown beside each asset in the Dagster UI. The pandera schemas that guard
every commit also check the whole table here; the sums checks prove that no listen is
lost or invented between layers."""

import dagster as dg
import polars as pl

from podcast_assets.assets.gold import ESTIMATES
from podcast_assets.assets.keys import bronze_key, silver_key
from podcast_assets.estimators.common import add_months
from podcast_assets.gold_inputs import silver_listens
from podcast_assets.ingest import bronze_table
from podcast_assets.providers.specs import PROVIDERS, ProviderSpec
from podcast_assets.resources import LakehouseResource
from podcast_assets.schemas import bronze_schema, check_result, silver_listens_schema
from podcast_assets.silver import LISTENS
from podcast_assets.storage import delta


def _result(passed: bool, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=passed, metadata=metadata)


def build_provider_checks(spec: ProviderSpec) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(asset=bronze_key(spec), name="bronze_schema", description=f"delta/bronze/{spec.name} passes its pandera schema.")
    def _bronze_schema(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
        table = delta.read(bronze_table(lakehouse.settings, spec))
        return _result(*check_result(bronze_schema(spec), table)) if table.height else _result(True, {"rows": 0})

    @dg.asset_check(asset=silver_key(spec), name="silver_schema", description=f"{spec.name}'s rows of delta/silver/listens pass the silver schema.")
    def _silver_schema(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
        rows = delta.read(lakehouse.settings.delta(*LISTENS), pl.col("provider") == spec.name)
        return _result(*check_result(silver_listens_schema(), rows)) if rows.height else _result(True, {"rows": 0})

    @dg.asset_check(
        asset=silver_key(spec),
        name="silver_sums_match_bronze",
        description="Per period, silver holds exactly the listens bronze holds (nothing lost, nothing added).",
    )
    def _sums(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
        settings = lakehouse.settings
        bronze = delta.read(bronze_table(settings, spec), schema={"period_start": pl.Date, "listens": pl.Int64})
        silver = delta.read(settings.delta(*LISTENS), pl.col("provider") == spec.name,
                            {"period_start": pl.Date, "listens": pl.Int64})
        per = lambda df: df.group_by("period_start").agg(pl.col("listens").sum())  # noqa: E731
        diff = per(bronze).join(per(silver), on="period_start", how="full", suffix="_silver", coalesce=True).filter(
            pl.col("listens").fill_null(0) != pl.col("listens_silver").fill_null(0)
        )
        return _result(diff.is_empty(), {"periods_differing": diff.height, "first": str(diff.head(5).to_dicts())})

    return [_bronze_schema, _silver_schema, _sums]


@dg.asset_check(
    asset=ESTIMATES,
    name="estimates_consistent",
    description="observed_listens equals silver's sum per podcast and month; "
    "estimate_low <= estimated_listens <= estimate_high; estimated_listens >= observed_listens.",
)
def estimates_consistent(lakehouse: LakehouseResource) -> dg.AssetCheckResult:
    settings = lakehouse.settings
    estimates = delta.read(settings.delta(*ESTIMATES.path))
    if estimates.is_empty():
        return _result(True, {"rows": 0})
    start, end = estimates.get_column("month").min(), estimates.get_column("month").max()
    observed = (
        silver_listens(settings, start, add_months(end, 1))
        .with_columns(pl.col("period_start").dt.truncate("1mo").alias("month"))
        .group_by("month", "podcast_guid")
        .agg(pl.col("listens").sum().alias("silver_listens"))
    )
    joined = estimates.join(observed, on=["month", "podcast_guid"], how="full", coalesce=True)
    bad_sum = joined.filter(pl.col("observed_listens").fill_null(0) != pl.col("silver_listens").fill_null(0))
    valid = estimates.filter(pl.col("estimated_listens").is_not_null())
    bad_interval = valid.filter(
        (pl.col("estimate_low") > pl.col("estimated_listens")) | (pl.col("estimated_listens") > pl.col("estimate_high"))
    )
    below_observed = valid.filter(pl.col("estimated_listens") < pl.col("observed_listens"))
    return _result(
        bad_sum.is_empty() and bad_interval.is_empty() and below_observed.is_empty(),
        {"observed_differs_from_silver": bad_sum.height, "interval_out_of_order": bad_interval.height,
         "estimate_below_observed": below_observed.height},
    )


asset_checks = [*(check for spec in PROVIDERS for check in build_provider_checks(spec)), estimates_consistent]
