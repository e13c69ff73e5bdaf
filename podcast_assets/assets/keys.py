"""Asset keys shared across layers (so modules can depend on each other's assets)."""

import dagster as dg

from podcast_assets.providers.specs import ProviderSpec

SHOW_DIRECTORY = dg.AssetKey(["bronze", "show_directory"])
CATALOG_TABLES = ("podcasts", "episodes", "episode_credits", "feed_urls")
FEED_URLS = dg.AssetKey(["silver", "feed_urls"])


def bronze_key(spec: ProviderSpec) -> dg.AssetKey:
    return dg.AssetKey(["bronze", spec.name])


def silver_key(spec: ProviderSpec) -> dg.AssetKey:
    return dg.AssetKey(["silver", f"{spec.name}_listens"])


def segments_key(spec: ProviderSpec) -> dg.AssetKey:
    """Instant feeds: the registry of sealed event segments."""
    return dg.AssetKey(["bronze", f"{spec.name}_segments"])
