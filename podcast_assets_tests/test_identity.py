"""identity: feed-URL normalisation, podcast_guid derivation, creator ids, URL resolution."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from podcast_assets.identity import creator_id, normalize_feed_url, podcast_guid_for_url, resolve_feed_urls

PODNEWS_GUID = "9b024349-ccf0-5f69-a609-6b82873eab3c"  # CONTRACT.md section 1


def test_contract_example() -> None:
    assert podcast_guid_for_url("https://podnews.net/rss") == PODNEWS_GUID


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://podnews.net/rss", "podnews.net/rss"),
        ("HTTP://PodNews.NET/rss//", "podnews.net/rss"),
        ("  https://example.com/Feed/  ", "example.com/Feed"),
        ("example.com/feed", "example.com/feed"),
        ("https://example.com/", "example.com"),
        ("https://Example.COM?id=ABC", "example.com?id=ABC"),  # no path: the query is not host
        ("https://Example.COM#Top", "example.com#Top"),
    ],
)
def test_normalize_feed_url(url: str, normalized: str) -> None:
    assert normalize_feed_url(url) == normalized


def test_path_case_is_significant() -> None:
    assert podcast_guid_for_url("https://example.com/Feed") != podcast_guid_for_url("https://example.com/feed")


_hosts = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
_paths = st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,8}", fullmatch=True), max_size=4).map("/".join)


@given(host=_hosts, path=_paths, data=st.data())
def test_url_variants_give_one_guid(host: str, path: str, data: st.DataObject) -> None:
    canonical = f"{host}/{path}" if path else host
    scheme = data.draw(st.sampled_from(["http://", "https://", "HTTPS://", "Http://", ""]))
    upper = data.draw(st.lists(st.booleans(), min_size=len(host), max_size=len(host)))
    cased_host = "".join(c.upper() if up else c for c, up in zip(host, upper, strict=True))
    slashes = "/" * data.draw(st.integers(0, 3))
    variant = f"{scheme}{cased_host}{'/' + path if path else ''}{slashes}"

    assert normalize_feed_url(variant) == canonical
    assert podcast_guid_for_url(variant) == podcast_guid_for_url(f"https://{canonical}")


@pytest.mark.parametrize(
    ("name", "href", "expected"),
    [
        ("Jane Doe", "https://example.com/jane", "https://example.com/jane"),
        ("Jane Doe", "  https://example.com/jane ", "https://example.com/jane"),
        ("Dr. Jane  O'Neil!", None, "dr-jane-o-neil-"),  # the contract's rule, to the letter
        ("Ünal Çelik", None, "ünal-çelik"),
        (" Jane Doe ", "   ", "jane-doe"),
    ],
)
def test_creator_id(name: str, href: str | None, expected: str) -> None:
    assert creator_id(name, href) == expected


def test_resolve_feed_urls_prefers_catalog_then_derives() -> None:
    feed_map = pl.DataFrame(
        {"feed_url_normalized": ["old.example.com/show"], "podcast_guid": ["11111111-1111-1111-1111-111111111111"]}
    )
    urls = pl.Series(
        ["https://OLD.example.com/show/", "https://podnews.net/rss", None, "http://old.example.com/show"]
    )
    assert resolve_feed_urls(urls, feed_map).to_list() == [
        "11111111-1111-1111-1111-111111111111",
        PODNEWS_GUID,
        None,
        "11111111-1111-1111-1111-111111111111",
    ]
