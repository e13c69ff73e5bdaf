"""The RSS catalog: which podcasts and episodes exist, when episodes came out, and who
is credited on them. Built from the crawled feeds in ``landing/catalog/``."""

import dagster as dg

from podcast_assets.assets.bronze import LAKEHOUSE_POOL, fail_if_rejected
from podcast_assets.assets.keys import CATALOG_TABLES
from podcast_assets.ingest import ingest_catalog
from podcast_assets.metadata import table_metadata
from podcast_assets.resources import LakehouseResource

_DESCRIPTIONS = {
    "podcasts": "One row per podcast (podcast_guid) from its newest crawl: feed URL, title, and whether "
    "the guid came from the feed's <podcast:guid> or was derived from its URL.",
    "episodes": "One row per episode (podcast_guid, episode_guid) in the newest crawl of its feed, with "
    "its UTC publication time.",
    "episode_credits": "Who is credited on each episode (<podcast:person>): creator_id, name, role; "
    "channel-level persons credited on items without persons of their own.",
    "feed_urls": "Every normalised feed URL ever seen in a crawl and the podcast_guid it maps to (a show "
    "that moved hosts keeps its guid for its old URL). Providers' feed URLs resolve through it.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["silver", name], group_name="catalog", description=_DESCRIPTIONS[name], kinds={"polars", "deltalake"})
        for name in CATALOG_TABLES
    ],
    pool=LAKEHOUSE_POOL,
)
def catalog(context: dg.AssetExecutionContext, lakehouse: LakehouseResource):
    """Parse every crawled feed; a feed that does not parse is quarantined and its last
    good crawl stands in; the run then fails, naming the file, line and rule."""
    settings = lakehouse.settings
    built, out = ingest_catalog(settings, context.log)
    for name, frame in built.tables().items():
        yield dg.MaterializeResult(asset_key=["silver", name], metadata=table_metadata(frame, settings.delta("silver", name)))
    fail_if_rejected(out)


catalog_assets = [catalog]
