"""Who is who: canonical podcast ids, feed-URL normalisation and creator ids.

``podcast_guid`` follows Podcasting 2.0 (``podcast:guid``): UUIDv5 in the namespace
``ead4c236-bf58-58c6-a2c6-a6b28d128cb6`` of the feed URL without its scheme and trailing
slashes. We also lower-case the host, so that URL variants that differ only in scheme,
trailing slash or host case are one podcast (CONTRACT.md section 1).
"""

from __future__ import annotations

import re
import uuid

import polars as pl

PODCAST_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ABSOLUTE = re.compile(_SCHEME.pattern + r"[^/?#\s]+")  # a scheme and a host
_HOST = re.compile(r"[^/?#]*")  # up to the path, query or fragment
_NON_ALNUM = re.compile(r"[\W_]+")  # Unicode-aware: letters and digits of any script stay


def normalize_feed_url(url: str) -> str:
    """``HTTPS://Example.COM/Feed/`` -> ``example.com/Feed``: no scheme, no trailing
    slashes, host lower-cased (path and query case is kept: they are case-sensitive)."""
    rest = _SCHEME.sub("", url.strip()).rstrip("/")
    host = _HOST.match(rest).group()  # type: ignore[union-attr]  (it matches any text)
    return host.lower() + rest[len(host):]


def is_absolute_url(url: str) -> bool:
    """``scheme://host...``: a URL that names its host."""
    return _ABSOLUTE.match(url.strip()) is not None


def podcast_guid_for_url(url: str) -> str:
    """The derived ``podcast:guid`` of a feed URL (used when the catalog does not know it)."""
    return str(uuid.uuid5(PODCAST_NAMESPACE, normalize_feed_url(url)))


def creator_id(name: str, href: str | None) -> str:
    """A person's ``href`` when given, else the name lower-cased with runs of
    non-alphanumerics turned into ``-``, to the letter of CONTRACT.md section 1 (``Dr. Ann.``
    is ``dr-ann-``), so anyone can compute it; the blanks around the name are XML layout."""
    if href and href.strip():
        return href.strip()
    return _NON_ALNUM.sub("-", name.strip().lower())


def resolve_feed_urls(urls: pl.Series, feed_map: pl.DataFrame) -> pl.Series:
    """Map feed URLs to ``podcast_guid``: the catalog's guid for a URL it knows
    (``feed_map`` has ``feed_url_normalized``, ``podcast_guid``), else the derived one.

    Work is done once per distinct URL, so millions of rows cost what their shows cost.
    """
    distinct = (
        pl.DataFrame({"feed_url": urls.unique()})
        .filter(pl.col("feed_url").is_not_null())
        .with_columns(
            pl.col("feed_url").map_elements(normalize_feed_url, return_dtype=pl.String).alias("feed_url_normalized")
        )
        .join(feed_map.select("feed_url_normalized", "podcast_guid"), on="feed_url_normalized", how="left")
        .with_columns(
            pl.coalesce(
                "podcast_guid",
                pl.col("feed_url_normalized").map_elements(
                    lambda u: str(uuid.uuid5(PODCAST_NAMESPACE, u)), return_dtype=pl.String
                ),
            ).alias("podcast_guid")
        )
    )
    return (
        pl.DataFrame({"feed_url": urls})
        .join(distinct.select("feed_url", "podcast_guid"), on="feed_url", how="left", maintain_order="left")
        .get_column("podcast_guid")
    )
