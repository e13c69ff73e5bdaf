"""The podcast catalog: crawled RSS feeds (``landing/catalog/*.xml``) as polars frames.

Pure parsing, no I/O besides reading the given files. One file is one crawl of one feed
(CONTRACT.md section 3, "catalog (RSS)"):

- the feed URL is the channel's ``<atom:link rel="self">`` href;
- ``podcast_guid`` is the feed's own ``<podcast:guid>`` when present (``guid_source``
  ``'feed'``), else derived from the feed URL (``'derived'``, see ``identity``);
- an episode is an ``<item>``: ``<guid>`` text verbatim, ``<title>``, ``<pubDate>``;
- credits come from ``<podcast:person role="host|guest" href="…">Name</podcast:person>``:
  an item's own persons, or, for an item without any, the channel's persons.

A file that breaks these rules raises ``CatalogError`` so the caller can quarantine it;
``build_catalog`` collects those errors and keeps the good files.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Literal, NamedTuple, NotRequired, TypedDict
from xml.parsers.expat import ErrorString
from xml.sax.saxutils import escape, quoteattr

import polars as pl

from podcast_assets import identity

ATOM_NS = "http://www.w3.org/2005/Atom"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
# The namespace's first URI, still declared by many feeds: the same elements.
_PODCAST_NAMESPACES = (PODCAST_NS, "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md")
_ATOM_LINK = f"{{{ATOM_NS}}}link"
DEFAULT_ROLE = "host"  # Podcasting 2.0: a <podcast:person> without a role is a host.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PODCASTS_SCHEMA = pl.Schema(
    {
        "podcast_guid": pl.String,
        "feed_url": pl.String,  # the self href as written in the feed
        "feed_url_normalized": pl.String,  # identity.normalize_feed_url(feed_url)
        "title": pl.String,  # null when the channel has no <title>
        "guid_source": pl.String,  # 'feed' (own <podcast:guid>) or 'derived' (from the URL)
        "source_file": pl.String,  # the crawl this row comes from
        "crawled_at": pl.Datetime("us", "UTC"),  # when it was crawled (its landed file's mtime)
    }
)
EPISODES_SCHEMA = pl.Schema(
    {
        "podcast_guid": pl.String,
        "episode_guid": pl.String,
        "title": pl.String,  # null when the item has no <title>
        "published_at": pl.Datetime("us", "UTC"),
    }
)
EPISODE_CREDITS_SCHEMA = pl.Schema(
    {
        "podcast_guid": pl.String,
        "episode_guid": pl.String,
        "creator_id": pl.String,
        "creator_name": pl.String,
        "role": pl.String,  # lower-cased <podcast:person role>, 'host' when missing
        "is_guest": pl.Boolean,  # role == 'guest'
        "credit_level": pl.String,  # 'item' (the item's own person) or 'channel'
    }
)
FEED_URLS_SCHEMA = pl.Schema({"feed_url_normalized": pl.String, "podcast_guid": pl.String})


class CatalogError(ValueError):
    """A crawled feed that cannot enter the catalog: ``file`` breaks ``rule``, at ``line``
    when the XML parser knows it. ``str(error)`` is ``file[:line]: rule``."""

    def __init__(self, file: Path, rule: str, line: int | None = None) -> None:
        super().__init__(file, rule, line)  # args match __init__, so errors pickle
        self.file = Path(file)
        self.rule = rule
        self.line = line

    def __str__(self) -> str:
        where = str(self.file) if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.rule}"


class Episode(NamedTuple):
    """One ``<item>``: ``published_at`` is its ``<pubDate>`` in UTC."""

    episode_guid: str
    title: str | None
    published_at: datetime


class Credit(NamedTuple):
    """One person credited on one episode; ``credit_level`` says where the person was listed."""

    episode_guid: str
    creator_id: str
    creator_name: str
    role: str
    credit_level: Literal["item", "channel"]


@dataclass(frozen=True)
class Feed:
    """One parsed crawl. ``episodes`` are unique by ``episode_guid`` (a repeated item is
    dropped with its persons, the first one wins); ``credits`` are unique by
    ``(episode_guid, creator_id, role)``."""

    feed_url: str
    podcast_guid: str
    guid_source: Literal["feed", "derived"]
    title: str | None
    episodes: tuple[Episode, ...]
    credits: tuple[Credit, ...]

    @property
    def feed_url_normalized(self) -> str:
        return identity.normalize_feed_url(self.feed_url)


@dataclass(frozen=True)
class Catalog:
    """The catalog built from many crawls; see the ``*_SCHEMA`` constants for columns.

    - ``podcasts``: one row per ``podcast_guid``, from the surviving crawl of that show.
      A crawl survives when no newer crawl has the same ``podcast_guid`` or the same
      normalized URL ("a newer crawl of the same feed supersedes the older one").
    - ``episodes`` / ``episode_credits``: from surviving crawls only, so episodes that
      vanished from a feed are gone.
    - ``feed_urls``: every normalized self URL of every crawl, superseded ones included
      (a show that moved hosts keeps its guid for the old URL); where one URL was seen
      with two guids the newest crawl wins. It is ``identity.resolve_feed_urls``'s ``feed_map``.
    - ``failures``: the files that were rejected, one ``CatalogError`` each, in input order.
    """

    podcasts: pl.DataFrame
    episodes: pl.DataFrame
    episode_credits: pl.DataFrame
    feed_urls: pl.DataFrame
    failures: tuple[CatalogError, ...]

    def keeping_urls_of(self, earlier: pl.DataFrame) -> Catalog:
        """This catalog with ``earlier``'s ``feed_urls`` rows for URLs these crawls do not
        mention: a show's crawl file overwritten by its next crawl, from a new host, must
        still leave its old URL mapped to its guid."""
        forgotten = earlier.join(self.feed_urls, on="feed_url_normalized", how="anti")
        return replace(self, feed_urls=pl.concat([self.feed_urls, forgotten]).sort("feed_url_normalized"))

    def tables(self) -> dict[str, pl.DataFrame]:
        """The silver tables, by name."""
        return {
            "podcasts": self.podcasts,
            "episodes": self.episodes,
            "episode_credits": self.episode_credits,
            "feed_urls": self.feed_urls,
        }


def _text(element: ET.Element | None) -> str | None:
    """Stripped text of an element; None when the element is missing or blank."""
    text = (element.text or "").strip() if element is not None else ""
    return text or None


def _podcast_elements(parent: ET.Element, name: str) -> list[ET.Element]:
    """``parent``'s ``<podcast:name>`` children, under either URI of the namespace, in
    document order."""
    tags = {f"{{{ns}}}{name}" for ns in _PODCAST_NAMESPACES}
    return [element for element in parent if element.tag in tags]


def _persons(parent: ET.Element, file: Path, where: str) -> list[tuple[str, str, str]]:
    """``(creator_id, creator_name, role)`` of ``parent``'s ``<podcast:person>`` children."""
    out: list[tuple[str, str, str]] = []
    for person in _podcast_elements(parent, "person"):
        name = _text(person)
        if name is None:
            raise CatalogError(file, f"{where} has a <podcast:person> without a name")
        role = (person.get("role") or "").strip().lower() or DEFAULT_ROLE
        out.append((identity.creator_id(name, person.get("href")), name, role))
    return out


_ZONE = re.compile(r"[+-]\d{4}|[A-Za-z]+|\d{1,2}:\d{2}(?::\d{2})?")
"""The last word of an RFC 2822 date: a numeric zone, a named one (unknown names mean
``-0000``), or the time (no zone at all)."""


def _published_at(text: str | None, file: Path, where: str) -> datetime:
    """An RFC 2822 date in UTC; a date without a zone (``-0000``) is taken as UTC, and a
    zone written ``+05:30`` is read as ``+0530``. Any other zone (``-05``, ``GMT+0100``)
    is refused: Python's parser would read it as another offset, or none."""
    if text is None:
        raise CatalogError(file, f"{where} has no <pubDate>")
    stamp = re.sub(r"([+-]\d{2}):(\d{2})$", r"\1\2", text.strip())
    try:
        if not _ZONE.fullmatch(stamp.rsplit(None, 1)[-1]):
            raise ValueError
        parsed = parsedate_to_datetime(stamp)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, IndexError):
        raise CatalogError(file, f"{where} has a bad <pubDate> {text!r} (want RFC 2822)") from None


def parse_feed(path: Path) -> Feed:
    """Parse one crawled feed file; raise ``CatalogError`` when it breaks the contract."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        line, column = err.position  # expat counts columns from 0; people count from 1
        raise CatalogError(path, f"malformed XML: {ErrorString(err.code)} (column {column + 1})", line) from None
    except (LookupError, ValueError) as err:  # an encoding expat does not know, or a multi-byte one
        raise CatalogError(path, f"unreadable XML: {err}") from None
    channel = root.find("channel") if root.tag == "rss" else None
    if channel is None:
        raise CatalogError(path, f"not an RSS 2.0 feed: no <rss><channel> (root element is <{root.tag}>)")
    feed_url = next(
        (
            href.strip()
            for link in channel.iterfind(_ATOM_LINK)
            if (link.get("rel") or "").strip().lower() == "self" and (href := link.get("href") or "").strip()
        ),
        None,
    )
    if feed_url is None:
        raise CatalogError(path, 'feed has no <atom:link rel="self"> href')
    if not identity.is_absolute_url(feed_url):  # "/rss" would make every such show one podcast
        raise CatalogError(path, f'the <atom:link rel="self"> href {feed_url!r} is not an absolute URL')
    own_guid = _text(next(iter(_podcast_elements(channel, "guid")), None))
    guid_source: Literal["feed", "derived"] = "derived" if own_guid is None else "feed"
    if own_guid is None:
        podcast_guid = identity.podcast_guid_for_url(feed_url)
    else:
        try:
            podcast_guid = str(uuid.UUID(own_guid))  # canonical form: lower case, no braces
        except ValueError:
            raise CatalogError(path, f"<podcast:guid> {own_guid!r} is not a UUID") from None
    channel_persons = _persons(channel, path, "channel")

    episodes: dict[str, Episode] = {}
    credits: dict[tuple[str, str, str], Credit] = {}
    for number, item in enumerate(channel.iterfind("item"), start=1):
        guid_element = item.find("guid")
        guid = guid_element.text if guid_element is not None else None
        if guid is None or not guid.strip():
            raise CatalogError(path, f"item {number} has no <guid>")
        if guid in episodes:
            continue  # the first item with a guid is the episode; a repeat is not read
        where = f"item {number} (guid {guid!r})"
        published_at = _published_at(_text(item.find("pubDate")), path, where)
        persons = _persons(item, path, where)
        episodes[guid] = Episode(guid, _text(item.find("title")), published_at)
        level: Literal["item", "channel"] = "item" if persons else "channel"
        for creator, name, role in persons or channel_persons:
            credits.setdefault((guid, creator, role), Credit(guid, creator, name, role, level))
    return Feed(
        feed_url=feed_url,
        podcast_guid=podcast_guid,
        guid_source=guid_source,
        title=_text(channel.find("title")),
        episodes=tuple(episodes.values()),
        credits=tuple(credits.values()),
    )


class _Crawl(NamedTuple):
    """A parsed file, its crawl time and name (which order crawls of the same feed)."""

    path: Path
    mtime_ns: int
    name: str
    feed: Feed


def build_catalog(paths: Iterable[Path], crawled: Mapping[Path, tuple[int, str]] | None = None) -> Catalog:
    """Parse every crawl in ``paths`` into a ``Catalog``. A file that raises
    ``CatalogError`` goes to ``Catalog.failures`` and does not block the others.

    Crawls are ordered by crawl time, ties broken by file name (then full path); the
    later one is the newer crawl. Time and name are ``crawled[path]`` (ns since the
    epoch; the name it was delivered under) when given, else the file's mtime and name;
    ``crawled_at`` is the time in UTC.
    """
    crawls: list[_Crawl] = []
    failures: list[CatalogError] = []
    for path in map(Path, paths):
        try:
            feed = parse_feed(path)
        except CatalogError as err:
            failures.append(err)
            continue
        when, name = (crawled or {}).get(path) or (path.stat().st_mtime_ns, path.name)
        crawls.append(_Crawl(path, when, name, feed))
    crawls.sort(key=lambda crawl: (crawl.mtime_ns, crawl.name, str(crawl.path)))

    newest_by_guid: dict[str, int] = {}
    newest_by_url: dict[str, int] = {}
    feed_urls: dict[str, str] = {}
    for index, crawl in enumerate(crawls):
        newest_by_guid[crawl.feed.podcast_guid] = index
        newest_by_url[crawl.feed.feed_url_normalized] = index
        feed_urls[crawl.feed.feed_url_normalized] = crawl.feed.podcast_guid
    survivors = [
        crawl
        for index, crawl in enumerate(crawls)
        if newest_by_guid[crawl.feed.podcast_guid] == index == newest_by_url[crawl.feed.feed_url_normalized]
    ]

    podcasts = [
        (
            feed.podcast_guid,
            feed.feed_url,
            feed.feed_url_normalized,
            feed.title,
            feed.guid_source,
            str(path),
            _EPOCH + timedelta(microseconds=mtime_ns // 1000),
        )
        for path, mtime_ns, _, feed in survivors
    ]
    episodes = [(feed.podcast_guid, *episode) for *_, feed in survivors for episode in feed.episodes]
    credits = [
        (feed.podcast_guid, c.episode_guid, c.creator_id, c.creator_name, c.role, c.role == "guest", c.credit_level)
        for *_, feed in survivors
        for c in feed.credits
    ]
    return Catalog(
        podcasts=pl.DataFrame(podcasts, schema=PODCASTS_SCHEMA, orient="row").sort("podcast_guid"),
        episodes=pl.DataFrame(episodes, schema=EPISODES_SCHEMA, orient="row").sort(
            "podcast_guid", "published_at", "episode_guid"
        ),
        episode_credits=pl.DataFrame(credits, schema=EPISODE_CREDITS_SCHEMA, orient="row").sort(
            "podcast_guid", "episode_guid", "creator_id", "role"
        ),
        feed_urls=pl.DataFrame(list(feed_urls.items()), schema=FEED_URLS_SCHEMA, orient="row").sort(
            "feed_url_normalized"
        ),
        failures=tuple(failures),
    )


Person = tuple[str, str | None, str | None]
"""``(name, role, href)`` of a ``<podcast:person>``; a None role or href is left out."""


class FeedItem(TypedDict):
    """One ``<item>`` for ``rss_feed_xml``; a naive ``published_at`` is taken as UTC."""

    guid: str
    title: str
    published_at: datetime
    persons: NotRequired[Sequence[Person]]


def _person_xml(person: Person, indent: str) -> str:
    name, role, href = person
    attrs = "".join(f" {key}={quoteattr(value)}" for key, value in (("role", role), ("href", href)) if value)
    return f"{indent}<podcast:person{attrs}>{escape(name)}</podcast:person>\n"


def rss_feed_xml(
    feed_url: str,
    title: str,
    items: Sequence[FeedItem],
    podcast_guid: str | None = None,
    channel_persons: Sequence[Person] = (),
) -> str:
    """Render an RSS 2.0 + Podcasting 2.0 feed that ``parse_feed`` accepts; write it as UTF-8.

    ``published_at`` keeps its UTC offset in ``<pubDate>``; ``podcast_guid`` None leaves
    ``<podcast:guid>`` out, so the catalog derives it from ``feed_url``.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<rss version="2.0" xmlns:atom="{ATOM_NS}" xmlns:podcast="{PODCAST_NS}">\n',
        "  <channel>\n",
        f"    <title>{escape(title)}</title>\n",
        f'    <atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>\n',
    ]
    if podcast_guid is not None:
        lines.append(f"    <podcast:guid>{escape(podcast_guid)}</podcast:guid>\n")
    lines.extend(_person_xml(person, "    ") for person in channel_persons)
    for item in items:
        lines += [
            "    <item>\n",
            f"      <title>{escape(item['title'])}</title>\n",
            f'      <guid isPermaLink="false">{escape(item["guid"])}</guid>\n',
            f"      <pubDate>{format_datetime(item['published_at'])}</pubDate>\n",
        ]
        lines.extend(_person_xml(person, "      ") for person in item.get("persons", ()))
        lines.append("    </item>\n")
    lines.append("  </channel>\n</rss>\n")
    return "".join(lines)
