"""Dagster resources: the lakehouse root every asset, check and sensor reads and writes."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import dagster as dg

from podcast_assets.settings import Settings, get_settings


class LakehouseResource(dg.ConfigurableResource):
    """The lakehouse root (``PODCAST_LAKEHOUSE_DIR``): landing, archive, quarantine and the
    Delta tables under it. Other settings (market shares, ...) come from the environment."""

    lakehouse_dir: str

    @cached_property
    def settings(self) -> Settings:
        return replace(get_settings(), lakehouse_dir=self.lakehouse_dir)


def default_lakehouse() -> LakehouseResource:
    return LakehouseResource(lakehouse_dir=get_settings().lakehouse_dir)
