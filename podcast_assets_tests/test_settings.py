"""Configuration comes from the environment, with the defaults the README lists."""

from __future__ import annotations

from datetime import date

import pytest

from podcast_assets.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.lakehouse_dir, settings.data_start) == ("./lakehouse", date(2025, 1, 1))
    assert set(settings.market_shares.values()) == {0.10}


def test_data_start_must_begin_a_month() -> None:
    """Daily partitions would start mid-month and the monthly ones (and gold) a month later."""
    assert Settings.from_env({"PODCAST_DATA_START": "2024-06-01"}).data_start == date(2024, 6, 1)
    with pytest.raises(ValueError, match="PODCAST_DATA_START must be the first day of a month, got 2025-01-15"):
        Settings.from_env({"PODCAST_DATA_START": "2025-01-15"})


@pytest.mark.parametrize("root", ["s3://bucket/prefix", "gs://b/p", "file:///tmp/lakehouse"])
def test_an_object_store_root_is_refused_not_taken_for_a_folder(root: str) -> None:
    """Every path of ours is local: ``s3://b/p`` would silently become ``./s3:/b/p``."""
    with pytest.raises(ValueError, match="object-store roots .* are not supported yet"):
        Settings.from_env({"PODCAST_LAKEHOUSE_DIR": root})
