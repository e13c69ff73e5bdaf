"""catalog: crawled RSS files -> podcasts, episodes, episode_credits, feed_urls."""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from podcast_assets.catalog import (
    EPISODE_CREDITS_SCHEMA,
    EPISODES_SCHEMA,
    FEED_URLS_SCHEMA,
    PODCASTS_SCHEMA,
    CatalogError,
    Credit,
    Episode,
    Feed,
    build_catalog,
    parse_feed,
    rss_feed_xml,
)
from podcast_assets.identity import podcast_guid_for_url, resolve_feed_urls

GUID_A = "aaaaaaaa-0000-5000-8000-000000000001"
PODNEWS_GUID = "9b024349-ccf0-5f69-a609-6b82873eab3c"  # derived from podnews.net/rss
T0 = datetime(2025, 3, 1, tzinfo=UTC)
NS = "xmlns:atom='http://www.w3.org/2005/Atom' xmlns:podcast='https://podcastindex.org/namespace/1.0'"


def write(directory: Path, name: str, xml: str, mtime: datetime = T0) -> Path:
    """Write a crawl file with a chosen mtime (the crawl time)."""
    path = directory / name
    path.write_text(xml, encoding="utf-8")
    ns = int(mtime.timestamp()) * 10**9
    os.utime(path, ns=(ns, ns))
    return path


def test_parse_feed_hand_written(tmp_path: Path) -> None:
    """podcast:guid wins (canonical UUID form), roles default to host and are lower-cased,
    creator_id from href or name, pubDate offsets converted to UTC, channel persons only
    for items without persons of their own."""
    path = write(
        tmp_path,
        "show.xml",
        f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" {NS}>
  <channel>
    <title> The Show </title>
    <atom:link rel="alternate" href="https://example.com/show.html"/>
    <atom:link rel="self" href="https://Feeds.Example.com/show/"/>
    <podcast:guid>AAAAAAAA-0000-5000-8000-000000000001</podcast:guid>
    <podcast:person href="https://people.example/ann">Ann Host</podcast:person>
    <item>
      <title>One</title>
      <guid isPermaLink="false"> ep-1 </guid>
      <pubDate>Tue, 04 Mar 2025 01:30:00 +0200</pubDate>
      <podcast:person role="GUEST">Bob O'Brien</podcast:person>
      <podcast:person role="host" href="https://people.example/cy">Cy</podcast:person>
    </item>
    <item>
      <guid>ep-2</guid>
      <pubDate>Wed, 05 Mar 2025 10:00:00 -0000</pubDate>
    </item>
  </channel>
</rss>
""",
    )
    assert parse_feed(path) == Feed(
        feed_url="https://Feeds.Example.com/show/",
        podcast_guid=GUID_A,
        guid_source="feed",
        title="The Show",
        episodes=(
            Episode(" ep-1 ", "One", datetime(2025, 3, 3, 23, 30, tzinfo=UTC)),
            Episode("ep-2", None, datetime(2025, 3, 5, 10, 0, tzinfo=UTC)),
        ),
        credits=(
            Credit(" ep-1 ", "bob-o-brien", "Bob O'Brien", "guest", "item"),
            Credit(" ep-1 ", "https://people.example/cy", "Cy", "host", "item"),
            Credit("ep-2", "https://people.example/ann", "Ann Host", "host", "channel"),
        ),
    )
    assert parse_feed(path).feed_url_normalized == "feeds.example.com/show"


def test_parse_feed_derives_guid_without_podcast_guid(tmp_path: Path) -> None:
    path = write(tmp_path, "podnews.xml", rss_feed_xml("https://podnews.net/rss", "Podnews", []))
    feed = parse_feed(path)
    assert (feed.podcast_guid, feed.guid_source) == (PODNEWS_GUID, "derived")
    assert feed.podcast_guid == podcast_guid_for_url("https://podnews.net/rss")


def test_repeated_items_and_persons_keep_the_first(tmp_path: Path) -> None:
    items = [
        {"guid": "e", "title": "first", "published_at": T0, "persons": [("Ann", "host", None), ("Ann", None, None)]},
        {"guid": "e", "title": "again", "published_at": T0, "persons": [("Zed", "guest", None)]},
    ]
    feed = parse_feed(write(tmp_path, "f.xml", rss_feed_xml("https://x.example/f", "F", items)))
    assert feed.episodes == (Episode("e", "first", T0),)
    assert feed.credits == (Credit("e", "ann", "Ann", "host", "item"),)


def test_a_repeated_item_is_not_read_at_all(tmp_path: Path) -> None:
    """Only the first item with a guid is the episode: a repeat with a broken pubDate
    does not reject the feed."""
    feed = parse_feed(write(tmp_path, "f.xml", _channel(
        "<item><guid>e</guid><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>"
        "<item><guid>e</guid><pubDate>garbage</pubDate></item>"
    )))
    assert [e.episode_guid for e in feed.episodes] == ["e"]


def test_the_namespace_first_uri_is_read_too(tmp_path: Path) -> None:
    """Feeds that declare the Podcasting 2.0 namespace by its first URI keep their
    podcast:guid and credits (they were read as derived and uncredited)."""
    legacy = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
    xml = rss_feed_xml("https://x.example/f", "F", [{"guid": "e", "title": "E", "published_at": T0,
                                                     "persons": [("Ann", "guest", None)]}], podcast_guid=GUID_A)
    feed = parse_feed(write(tmp_path, "f.xml", xml.replace("https://podcastindex.org/namespace/1.0", legacy)))
    assert (feed.podcast_guid, feed.guid_source) == (GUID_A, "feed")
    assert feed.credits == (Credit("e", "ann", "Ann", "guest", "item"),)


def test_self_link_relation_is_case_insensitive(tmp_path: Path) -> None:
    feed = parse_feed(write(tmp_path, "f.xml", _channel('<atom:link rel="SELF" href="https://x.example/f"/>',
                                                        self_link=False)))
    assert feed.feed_url == "https://x.example/f"


def test_rss_feed_xml_round_trips_awkward_text(tmp_path: Path) -> None:
    tricky = "Q&A <live> \"quoted\" 'single' ünïcode"
    href = 'https://p/?a=1&b="2"'
    item = {"guid": tricky, "title": tricky, "published_at": T0, "persons": [(tricky, "guest", href)]}
    xml = rss_feed_xml("https://x.example/feed?a=1&b=2", tricky, [item], podcast_guid=GUID_A)
    feed = parse_feed(write(tmp_path, "f.xml", xml))
    assert feed == Feed(
        feed_url="https://x.example/feed?a=1&b=2",
        podcast_guid=GUID_A,
        guid_source="feed",
        title=tricky,
        episodes=(Episode(tricky, tricky, T0),),
        credits=(Credit(tricky, href, tricky, "guest", "item"),),
    )


def _show_a_old() -> str:
    return rss_feed_xml(
        "https://old-host.example/a/feed",
        "Show A (old)",
        [
            {"guid": "a1", "title": "A1", "published_at": T0 - timedelta(days=20)},
            {"guid": "a2", "title": "A2 draft", "published_at": T0 - timedelta(days=10)},
        ],
        podcast_guid=GUID_A,
        channel_persons=[("Old Host", "host", None)],
    )


def _show_a_new() -> str:
    return rss_feed_xml(
        "https://new-host.example/a",
        "Show A",
        [
            {"guid": "a2", "title": "A2", "published_at": T0 - timedelta(days=10)},
            {
                "guid": "a3",
                "title": "A3",
                "published_at": datetime(2025, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=9))),
                "persons": [("Gus Guest", "guest", "https://people.example/gus"), ("Ann", "host", None)],
            },
        ],
        podcast_guid=GUID_A,
        channel_persons=[("Ann", "host", None)],
    )


def test_build_catalog_moved_host_and_newer_crawl_supersedes(tmp_path: Path) -> None:
    old = write(tmp_path, "a_old.xml", _show_a_old(), T0)
    new = write(tmp_path, "a_new.xml", _show_a_new(), T0 + timedelta(days=1))
    podnews = write(
        tmp_path,
        "podnews.xml",
        rss_feed_xml(
            "http://PodNews.net/rss/",
            "Podnews",
            [{"guid": "p1", "title": "P1", "published_at": T0, "persons": [("Sam", None, None)]}],
        ),
        T0 + timedelta(hours=1),
    )
    catalog = build_catalog([new, podnews, old])  # input order does not matter

    assert catalog.failures == ()
    assert_frame_equal(
        catalog.podcasts,
        pl.DataFrame(
            [
                (
                    PODNEWS_GUID,
                    "http://PodNews.net/rss/",
                    "podnews.net/rss",
                    "Podnews",
                    "derived",
                    str(podnews),
                    T0 + timedelta(hours=1),
                ),
                (
                    GUID_A,
                    "https://new-host.example/a",
                    "new-host.example/a",
                    "Show A",
                    "feed",
                    str(new),
                    T0 + timedelta(days=1),
                ),
            ],
            schema=PODCASTS_SCHEMA,
            orient="row",
        ),
    )
    assert_frame_equal(
        catalog.episodes,  # a1 vanished with the old crawl; a2 has the new title
        pl.DataFrame(
            [
                (PODNEWS_GUID, "p1", "P1", T0),
                (GUID_A, "a3", "A3", datetime(2025, 2, 28, 23, 0, tzinfo=UTC)),
                (GUID_A, "a2", "A2", T0 - timedelta(days=10)),
            ],
            schema=EPISODES_SCHEMA,
            orient="row",
        ).sort("podcast_guid", "published_at"),
    )
    assert_frame_equal(
        catalog.episode_credits,  # "Old Host" went with the old crawl
        pl.DataFrame(
            [
                (PODNEWS_GUID, "p1", "sam", "Sam", "host", False, "item"),
                (GUID_A, "a2", "ann", "Ann", "host", False, "channel"),
                (GUID_A, "a3", "ann", "Ann", "host", False, "item"),
                (GUID_A, "a3", "https://people.example/gus", "Gus Guest", "guest", True, "item"),
            ],
            schema=EPISODE_CREDITS_SCHEMA,
            orient="row",
        ),
    )
    assert_frame_equal(
        catalog.feed_urls,  # the old host's URL still maps to the show's guid
        pl.DataFrame(
            [
                ("new-host.example/a", GUID_A),
                ("old-host.example/a/feed", GUID_A),
                ("podnews.net/rss", PODNEWS_GUID),
            ],
            schema=FEED_URLS_SCHEMA,
            orient="row",
        ),
    )
    resolved = resolve_feed_urls(
        pl.Series(["https://OLD-HOST.example/a/feed/", "https://podnews.net/rss", "https://new.example/x"]),
        catalog.feed_urls,
    )
    assert resolved.to_list() == [GUID_A, PODNEWS_GUID, podcast_guid_for_url("new.example/x")]


def test_same_url_newer_crawl_with_own_guid_supersedes_derived(tmp_path: Path) -> None:
    """Same URL, equal mtimes: the later file name is the newer crawl, and its guid replaces
    the derived one everywhere."""
    url = "https://x.example/feed"
    item = {"guid": "x1", "title": "X1", "published_at": T0}
    first = write(tmp_path, "x_2025-03-01.xml", rss_feed_xml(url, "X", [item]))
    second = write(tmp_path, "x_2025-03-02.xml", rss_feed_xml(url, "X", [item], podcast_guid=GUID_A))
    catalog = build_catalog([second, first])

    assert catalog.podcasts.select("podcast_guid", "guid_source", "source_file").rows() == [
        (GUID_A, "feed", str(second))
    ]
    assert catalog.episodes.select("podcast_guid", "episode_guid").rows() == [(GUID_A, "x1")]
    assert catalog.feed_urls.rows() == [("x.example/feed", GUID_A)]


def test_empty_input_gives_empty_frames_with_schemas() -> None:
    catalog = build_catalog([])
    assert catalog.podcasts.schema == PODCASTS_SCHEMA
    assert catalog.episodes.schema == EPISODES_SCHEMA
    assert catalog.episode_credits.schema == EPISODE_CREDITS_SCHEMA
    assert catalog.feed_urls.schema == FEED_URLS_SCHEMA
    assert [catalog.podcasts.height, catalog.episodes.height, catalog.episode_credits.height] == [0, 0, 0]
    assert (catalog.feed_urls.height, catalog.failures) == (0, ())


def _channel(body: str, self_link: bool = True) -> str:
    link = '<atom:link rel="self" href="https://x.example/f"/>' if self_link else ""
    return f'<rss version="2.0" {NS}>\n<channel>\n{link}\n{body}\n</channel>\n</rss>\n'


@pytest.mark.parametrize(
    ("xml", "rule", "line"),
    [
        (_channel("<item>\n<guid>g</guid>\n</itm>"), "malformed XML: mismatched tag (column 3)", 6),
        ("", "malformed XML: no element found (column 1)", 1),
        ("<feed/>", "not an RSS 2.0 feed: no <rss><channel> (root element is <feed>)", None),
        ("<rss/>", "not an RSS 2.0 feed: no <rss><channel> (root element is <rss>)", None),
        (_channel("<title>t</title>", self_link=False), 'feed has no <atom:link rel="self"> href', None),
        (
            _channel('<atom:link rel="self" href=" "/>', self_link=False),
            'feed has no <atom:link rel="self"> href',
            None,
        ),
        (_channel("<podcast:guid>not-a-uuid</podcast:guid>"), "<podcast:guid> 'not-a-uuid' is not a UUID", None),
        (
            _channel(
                "<item><guid>g</guid><pubDate>Mon, 03 Mar 2025 10:00:00 GMT</pubDate></item>"
                "<item><title>no guid</title></item>"
            ),
            "item 2 has no <guid>",
            None,
        ),
        (_channel("<item><guid>g</guid></item>"), "item 1 (guid 'g') has no <pubDate>", None),
        (
            _channel("<item><guid>g</guid><pubDate>2025-03-01T10:00:00Z</pubDate></item>"),
            "item 1 (guid 'g') has a bad <pubDate> '2025-03-01T10:00:00Z' (want RFC 2822)",
            None,
        ),
        (
            _channel("<podcast:person role='host' href='https://p/x'> </podcast:person>"),
            "channel has a <podcast:person> without a name",
            None,
        ),
        ('<?xml version="1.0" encoding="x-mac-roman"?><rss/>', "unreadable XML: unknown encoding: x-mac-roman", None),
        ('<?xml version="1.0" encoding="utf-32"?><rss/>', "unreadable XML: multi-byte encodings are not supported",
         None),
        (  # two shows both saying "/rss" would become one podcast
            _channel('<atom:link rel="self" href="/rss"/>', self_link=False),
            "the <atom:link rel=\"self\"> href '/rss' is not an absolute URL",
            None,
        ),
        (
            _channel('<atom:link rel="self" href="//cdn.example.com/rss"/>', self_link=False),
            "the <atom:link rel=\"self\"> href '//cdn.example.com/rss' is not an absolute URL",
            None,
        ),
    ],
)
def test_bad_feed_raises_catalog_error(tmp_path: Path, xml: str, rule: str, line: int | None) -> None:
    path = write(tmp_path, "bad.xml", xml)
    with pytest.raises(CatalogError) as caught:
        parse_feed(path)
    assert (caught.value.file, caught.value.rule, caught.value.line) == (path, rule, line)
    assert str(caught.value) == (f"{path}: {rule}" if line is None else f"{path}:{line}: {rule}")


def test_bad_file_does_not_block_the_others(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.xml", "<rss><channel><title>cut off")
    good = write(tmp_path, "podnews.xml", rss_feed_xml("https://podnews.net/rss", "Podnews", []))
    catalog = build_catalog([bad, good])

    assert catalog.podcasts.select("podcast_guid", "source_file").rows() == [(PODNEWS_GUID, str(good))]
    [failure] = catalog.failures
    assert (failure.file, failure.line, failure.rule) == (bad, 1, "malformed XML: no element found (column 29)")
    assert str(pickle.loads(pickle.dumps(failure))) == str(failure)


@pytest.mark.parametrize(
    ("pub_date", "utc"),
    [
        ("Mon, 06 Jan 2025 10:00:00 +0530", datetime(2025, 1, 6, 4, 30)),
        ("Mon, 06 Jan 2025 10:00:00 +05:30", datetime(2025, 1, 6, 4, 30)),  # as some feeds write it
        ("Mon, 06 Jan 2025 10:00:00 EST", datetime(2025, 1, 6, 15, 0)),
        ("Mon, 06 Jan 2025 10:00:00 XYZ", datetime(2025, 1, 6, 10, 0)),  # an unknown name means -0000
        ("Mon, 06 Jan 2025 10:00:00", datetime(2025, 1, 6, 10, 0)),  # no zone at all: UTC
        ("Mon, 06 Jan 2025 10:00:00 -05", None),  # Python would read -5 minutes
        ("Mon, 06 Jan 2025 10:00:00 GMT+0100", None),  # and this as UTC
    ],
)
def test_pub_date_zones(tmp_path: Path, pub_date: str, utc: datetime | None) -> None:
    path = write(tmp_path, "f.xml", _channel(f"<item><guid>g</guid><pubDate>{pub_date}</pubDate></item>"))
    if utc is None:
        with pytest.raises(CatalogError, match="has a bad <pubDate>"):
            parse_feed(path)
    else:
        (episode,) = parse_feed(path).episodes
        assert episode.published_at == utc.replace(tzinfo=UTC)
