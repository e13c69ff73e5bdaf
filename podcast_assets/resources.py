"""Dagster resources: the lakehouse root every asset, check and sensor reads and writes."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import dagster as dg
from dagster_duckdb import DuckDBResource

from podcast_assets.settings import Settings, get_settings


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse root (``PODCAST_LAKEHOUSE_DIR``): landing, archive, quarantine and the
    Delta tables under it. Other settings (market shares, ...) come from the environment."""

    lakehouse_dir: str

    @cached_property
    def settings(self) -> Settings:
        return replace(get_settings(), lakehouse_dir=self.lakehouse_dir)


SERVING_DUCKDB = "serving_duckdb"


def serving_duckdb_resource() -> DuckDBResource:
    """The build engine for the serving store: in-memory, because the store itself is
    built in a fresh temporary file and swapped in (see ``assets/serving.py``)."""
    return DuckDBResource(database=":memory:")


def all_resources(lakehouse: LakehouseResource | None = None) -> dict[str, object]:
    """Every resource the assets need; the lakehouse from the environment by default."""
    return {
        "lakehouse": lakehouse or LakehouseResource(lakehouse_dir=get_settings().lakehouse_dir),
        SERVING_DUCKDB: serving_duckdb_resource(),
    }
