"""The Dagster ``serving_store`` asset: gold Delta tables in, serving store out."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from podcast_assets.assets.serving import serving_store
from podcast_assets.resources import SERVING_DUCKDB, serving_duckdb_resource
from podcast_assets.resources import LakehouseResource
from podcast_assets.serving import store_path

from .conftest import gold_tables, lakehouse


def test_materializing_publishes_the_delta_tables(tmp_path: Path) -> None:
    settings = lakehouse(tmp_path)
    for name, frame in gold_tables().items():
        frame.write_delta(settings.delta("silver" if name == "podcasts" else "gold", name))

    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(tmp_path)), SERVING_DUCKDB: serving_duckdb_resource()}
    result = dg.materialize([serving_store], resources=resources)

    assert result.success
    metadata = result.asset_materializations_for_node(serving_store.op.name)[0].metadata
    assert metadata["rows/podcast_monthly_estimates"].value == 10
    counts = {name: frame.height for name, frame in gold_tables().items()}
    assert metadata["dagster/row_count"].value == sum(counts.values())
    assert "| podcast_monthly_estimates | 10 |" in metadata["preview"].value
    with duckdb.connect(str(store_path(settings.serving_dir)), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM latest_month_top_podcasts").fetchone() == (4,)
    assert {dep.to_user_string() for dep in serving_store.asset_deps[serving_store.key]} == {
        "gold/podcast_monthly_estimates", "gold/episode_first_30_days", "gold/podcast_trends",
        "gold/creator_popularity", "silver/podcasts",
    }
    assert serving_store.group_names_by_key[serving_store.key] == "serving"
