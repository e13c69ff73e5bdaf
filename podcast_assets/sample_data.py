"""A seeded synthetic podcast market with known truth, and the provider drops it produces.

``generate_market`` builds a world; ``write_drops`` writes what the five providers and the
catalog would deliver about it into ``<root>/landing/`` (formats in CONTRACT.md section 3).
The same config and seed give the same world and byte-identical files.

The model
---------
- **Podcasts** have a feed URL (some feeds carry ``<podcast:guid>``: derived from the URL,
  a random UUID, or derived from an *old* URL for shows that moved hosts), a base daily
  audience ``A`` (lognormal), a monthly growth rate ``g`` (most about 0, ``riser_fraction``
  rise 15-40 %/month, ``decliner_fraction`` fall 5-15 %/month; ``true_riser = g >= 0.10``),
  a release cadence (twice weekly to fortnightly, jittered) and one or two hosts
  (channel-level ``<podcast:person>``, constant per show).
- **Creators** each have a true multiplicative ``effect`` (lognormal around 1, some
  "stars" at 1.6-3x). An episode has 0-2 guests drawn from the creator pool (hosts of
  other shows included); its ``multiplier`` is the product of its guests' effects. A
  host's effect applies only where they guest: on their own show it is part of ``A``.
- **Listens.** Episodes live ``lifetime_days`` days and are released from
  ``lifetime_days`` before ``start`` on (the back catalog), so the market is in steady
  state from day one. The expected market-wide listens of episode ``e`` of podcast ``p``
  on day ``d`` at age ``a`` (days since its publication day) are::

      A_p * cadence_p * (1 + g_p) ** (months since start) * decay(a) * weekday(d)
          * multiplier_e * quality_e * noise_{e,d} * exposure

  ``decay`` (exponential head plus power-law tail, summing to 1 over the lifetime, ~85 %
  in the first 30 days for 120-day lifetimes) makes ``A`` the show's daily audience;
  ``quality`` (per episode) and ``noise`` (per episode-day) are mean-1 lognormals;
  ``exposure`` is the part of the day covered: from the publication time on the
  publication day, and day 30 is split at the publication time of day, so that
  ``[published_at, published_at + 30 days)`` is exact.
- **Providers.** Provider ``q`` carries share ``s_{q,p}`` of podcast ``p``: the configured
  share (``Settings.market_shares``, 0.10) times a mean-1 lognormal (sd ``share_sigma``).
  Each provider's count is Poisson(expected * share), the rest of the market is
  Poisson(expected * (1 - sum of shares)), and the true market count is their sum. This
  is the same as drawing the market count and splitting it multinomially, so every
  provider's numbers are a sample of the truth.

Drops and sizes
---------------
``write_drops(market, root, as_of=...)`` writes only what has been delivered by ``as_of``
(complete days and months; aurora events that have arrived, with duplicates and late
arrivals), see its docstring. Presets: ``tiny`` (4 podcasts, 2 months, for tests),
``demo`` (40 podcasts, 3 months, ~120k aurora lines, under a second) and ``accuracy``
(300 podcasts, 6 months, ~600k aurora lines, about ten seconds).

Randomness: entity-level draws use ``random.Random``; the large per-cell draws use
pyarrow's seeded uniform generator, turned into normals (Box-Muller) and Poisson counts
(inverse transform below ``_POISSON_EXACT_BELOW``, rounded normal above) in polars.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
import uuid
import zlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pyarrow.compute as pc

from podcast_assets import identity
from podcast_assets.catalog import FeedItem, rss_feed_xml
from podcast_assets.estimators.common import add_months
from podcast_assets.settings import DEFAULT_MARKET_SHARE, PROVIDERS, Settings

DAILY_PROVIDERS = ("boreal", "cirrus")
MONTHLY_PROVIDERS = ("dune", "ember")
DROP_KINDS = (*PROVIDERS, "catalog")
RISER_THRESHOLD = 0.10  # monthly growth at or above which a podcast is a true riser
_DAYS_PER_MONTH = 30.4375
_WEEKDAY = {1: 1.05, 2: 1.08, 3: 1.08, 4: 1.06, 5: 1.0, 6: 0.85, 7: 0.88}  # Mon..Sun
_WEEKDAY = {k: v * 7 / sum(_WEEKDAY.values()) for k, v in _WEEKDAY.items()}
_DECAY_TAU, _DECAY_TAIL, _DECAY_ALPHA = 4.0, 0.6, 0.9
_POISSON_EXACT_BELOW = 15.0

_FIRST = (
    "Ada Ben Chloé Dev Elif Femi Grace Hiro Inès Jonas Kai Lena Mateo Nia Omar Priya Quinn Rosa Sami Tess Uma "
    "Viktor Wen Xavier Yara Zoë José Ana-Lucía Mary-Kate Tomás"
).split()
_LAST = (
    "Okafor Lindqvist O'Brien Nakamura García Kowalski Haddad Müller Smith Dubois Rossi Ng Petrov Mensah Fischer "
    "Costa Larsen Chen Patel Brennan Ivanova Santos Kim Walsh Adeyemi Moreau Silva Novak"
).split()
_ADJ = "Curious Daily Quiet Bright Hidden Wild Modern Weekly Late-Night Slow Deep Open Little Big Honest".split()
_NOUN = "Science History Money Kitchen Garden Code Football Design Cinema Politics Health Startup Music Space Crime".split()
_TOPICS = [
    "Why the sea is salty", "A brief history of time zones", "Ask us anything", "The year in review",
    "Fermentation, explained", "How to read a balance sheet", "Live from the festival", "Mailbag",
    "Against productivity", "The quiet revolution", "Tiny habits", "Scaling, failing, trying again",
    "What the data says", "A long walk", "Behind the scenes", "Five books, one summer", "The great debate",
    "Small bets", "Off the record", "Rules of thumb", "The comeback", "Everything is a remix",
]
_HOSTS = ("feeds.auroracast.example", "rss.borealhost.example", "feeds.cumulus.example", "podhost.example", "tidewave.example")
_SLUG = re.compile(r"[^0-9a-z]+")


# ---- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class MarketConfig:
    """Size and shape of a synthetic market; see the module docstring for the model."""

    n_podcasts: int = 40
    start: date = date(2025, 1, 1)
    months: int = 3
    seed: int = 7
    lifetime_days: int = 120  # an episode's listening life; also how far back the catalog goes
    audience_median: float = 200.0  # median base daily audience of a show (all its episodes)
    audience_sigma: float = 1.0
    riser_fraction: float = 0.1
    decliner_fraction: float = 0.1
    guest_pool_per_podcast: float = 1.0  # guest-only creators per podcast
    star_fraction: float = 0.12  # creators with a strong effect (1.6-3x)
    effect_sigma: float = 0.15
    quality_sigma: float = 0.25
    daily_sigma: float = 0.15
    share_sigma: float = 0.15  # a provider holds 7.5-13.5% of ~95% of shows (see docs/methodology.md)
    market_shares: Mapping[str, float] = field(default_factory=lambda: {p: DEFAULT_MARKET_SHARE for p in PROVIDERS})

    @property
    def end(self) -> date:
        """First day after the market period (``months`` whole months from ``start``)."""
        return add_months(self.start.replace(day=1), self.months)


PRESETS: dict[str, MarketConfig] = {
    "tiny": MarketConfig(n_podcasts=4, months=2, lifetime_days=40, audience_median=40.0, audience_sigma=0.5),
    "demo": MarketConfig(),
    "accuracy": MarketConfig(n_podcasts=300, months=6, audience_median=60.0),
}


def preset(name: str, **overrides: object) -> MarketConfig:
    """A named preset (``tiny``, ``demo``, ``accuracy``) with fields overridden."""
    return replace(PRESETS[name], **overrides)  # type: ignore[arg-type]


# ---- the market ------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What really happened, market-wide. Frames (all listens are int64):

    - ``podcasts``: podcast_guid, title, feed_url, base_daily_audience, monthly_growth,
      true_riser, cadence_days
    - ``podcast_monthly``: podcast_guid, month (date, 1st), listens; every podcast x month
    - ``episode_daily``: podcast_guid, episode_guid, day (date), listens (only > 0)
    - ``episodes``: podcast_guid, episode_guid, published_at (UTC), listens_30d (null when
      the window is not inside the market period), guest_ids (list), multiplier, quality
    - ``creators``: creator_id, name, href, effect, is_host, guest_appearances
    - ``shares``: provider, podcast_guid, share
    """

    podcasts: pl.DataFrame
    podcast_monthly: pl.DataFrame
    episode_daily: pl.DataFrame
    episodes: pl.DataFrame
    creators: pl.DataFrame
    shares: pl.DataFrame


@dataclass(frozen=True)
class Market:
    """A generated world, as the writers need it (the answers are in ``truth``):

    - ``podcasts``: podcast_guid, title, slug, feed_url, feed_guid_tag (the feed's
      ``<podcast:guid>`` or null), old_feed_url, ``{aurora,boreal}_show_id``,
      ``{aurora,boreal,cirrus,ember}_feed_url`` (the URL, or a variant of it, that each
      provider uses), hosts (creator ids), and the show's true parameters
    - ``episodes``: podcast_guid, episode_guid, title, published_at (UTC), guest_ids
    - ``creators``: creator_id, name, href (null for some), is_host
    - ``observations``: what each provider counted: provider, podcast_guid,
      episode_guid, day, t0, t1 (the part ``[t0, t1)`` of the day, as fractions; day 30
      of an episode is split at its publication time), listens (> 0)
    """

    config: MarketConfig
    podcasts: pl.DataFrame
    episodes: pl.DataFrame
    creators: pl.DataFrame
    observations: pl.DataFrame
    truth: Truth

    def provider_daily(self) -> pl.DataFrame:
        """provider, podcast_guid, episode_guid, day, listens: each provider's true counts."""
        return (
            self.observations.group_by("provider", "podcast_guid", "episode_guid", "day")
            .agg(pl.col("listens").sum())
            .sort("provider", "podcast_guid", "episode_guid", "day")
        )


def generate_market(config: MarketConfig | str = "demo", **overrides: object) -> Market:
    """Build the world for ``config`` (a ``MarketConfig`` or preset name) with fields
    overridden, e.g. ``generate_market("demo", market_shares=settings.market_shares)``."""
    base = PRESETS[config] if isinstance(config, str) else config
    cfg = replace(base, **overrides)  # type: ignore[arg-type]
    if cfg.lifetime_days <= 30:
        raise ValueError("lifetime_days must exceed 30 so first-30-day windows are covered")
    rng = random.Random(cfg.seed)
    creators, hosts_of = _creators(rng, cfg)
    podcasts = _podcasts(rng, cfg, hosts_of)
    episodes = _episodes(rng, cfg, podcasts, creators)
    shares = _shares(rng, cfg, podcasts)
    cells = _cells(cfg, podcasts, episodes, shares)

    key = ["podcast_guid", "episode_guid"]
    observations = (
        cells.filter(pl.col("provider") != "other", pl.col("listens") > 0)
        .select("provider", *key, "day", "t0", "t1", "listens")
        .sort("provider", *key, "day", "t0")
    )
    episode_daily = (
        cells.group_by(*key, "day").agg(pl.col("listens").sum()).filter(pl.col("listens") > 0).sort(*key, "day")
    )
    window = (
        cells.filter((pl.col("age") < 30) | ((pl.col("age") == 30) & (pl.col("t1") <= pl.col("tod"))))
        .group_by(key)
        .agg(pl.col("listens").sum().alias("listens_30d"))
    )
    inside = (pl.col("published_at").dt.date() >= cfg.start) & (
        pl.col("published_at").dt.date().dt.offset_by("30d") < pl.lit(cfg.end)
    )
    truth_episodes = (
        episodes.join(window, on=key, how="left")
        .with_columns(
            pl.when(inside).then(pl.col("listens_30d").fill_null(0)).otherwise(None).alias("listens_30d"),
        )
        .select(*key, "published_at", "listens_30d", "guest_ids", "multiplier", "quality")
        .sort(key)
    )
    months = pl.DataFrame({"month": [add_months(cfg.start.replace(day=1), i) for i in range(cfg.months)]})
    podcast_monthly = (
        podcasts.select("podcast_guid")
        .join(months, how="cross")
        .join(
            episode_daily.group_by("podcast_guid", pl.col("day").dt.truncate("1mo").alias("month")).agg(
                pl.col("listens").sum()
            ),
            on=["podcast_guid", "month"],
            how="left",
        )
        .with_columns(pl.col("listens").fill_null(0))
        .sort("podcast_guid", "month")
    )
    appearances = episodes.select(pl.col("guest_ids").explode().alias("creator_id")).drop_nulls()
    truth_creators = (
        creators.join(appearances.group_by("creator_id").len("guest_appearances"), on="creator_id", how="left")
        .with_columns(pl.col("guest_appearances").fill_null(0).cast(pl.Int64))
        .select("creator_id", "name", "href", "effect", "is_host", "guest_appearances")
        .sort("creator_id")
    )
    truth = Truth(
        podcasts=podcasts.select(
            "podcast_guid", "title", "feed_url", "base_daily_audience", "monthly_growth", "true_riser", "cadence_days"
        ),
        podcast_monthly=podcast_monthly,
        episode_daily=episode_daily,
        episodes=truth_episodes,
        creators=truth_creators,
        shares=shares.filter(pl.col("provider") != "other").sort("provider", "podcast_guid"),
    )
    return Market(
        cfg, podcasts, episodes.drop("multiplier", "quality"), creators.drop("effect"), observations, truth
    )


# ---- entity-level draws ----------------------------------------------------------------


def _creators(rng: random.Random, cfg: MarketConfig) -> tuple[pl.DataFrame, list[list[str]]]:
    """All creators (hosts first, then guest-only ones) and each podcast's host ids."""
    n_hosts = [1 if rng.random() < 0.6 else 2 for _ in range(cfg.n_podcasts)]
    total = sum(n_hosts) + math.ceil(cfg.n_podcasts * cfg.guest_pool_per_podcast)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    while len(rows) < total:
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        slug = identity.creator_id(name, None)
        while slug in seen:  # a clash gets a middle initial
            name = name.replace(" ", f" {rng.choice('ABCDEFGHJKLMNPRSTVW')}. ", 1)
            slug = identity.creator_id(name, None)
        seen.add(slug)
        href = f"https://people.example/{_SLUG.sub('-', name.lower()).strip('-')}" if rng.random() < 0.5 else None
        star = rng.random() < cfg.star_fraction
        effect = rng.uniform(1.6, 3.0) if star else math.exp(rng.gauss(0.0, cfg.effect_sigma))
        rows.append({"creator_id": identity.creator_id(name, href), "name": name, "href": href, "effect": effect})
    hosts_of, i = [], 0
    for n in n_hosts:
        hosts_of.append([str(rows[j]["creator_id"]) for j in range(i, i + n)])
        i += n
    schema = {"creator_id": pl.String, "name": pl.String, "href": pl.String, "effect": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema)
    return frame.with_columns(is_host=pl.int_range(pl.len()) < i), hosts_of


def _podcasts(rng: random.Random, cfg: MarketConfig, hosts_of: list[list[str]]) -> pl.DataFrame:
    """One row per show: identity in every provider's terms plus its true parameters."""
    rows, titles = [], set()
    au_ids = rng.sample(range(10_000, 99_999), cfg.n_podcasts)
    for i in range(cfg.n_podcasts):
        title = f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)} Show"
        if rng.random() < 0.3:
            title = f"{rng.choice(_NOUN)} & {rng.choice(_NOUN)}, {rng.choice(['Unfiltered', 'Weekly', 'Live'])}"
        while title in titles:
            title += " II"
        titles.add(title)
        slug = _SLUG.sub("-", title.lower()).strip("-")
        host = rng.choice(_HOSTS)
        feed_url = rng.choice(
            [f"https://{host}/{slug}/rss", f"https://{host}/feeds/{slug}.xml", f"https://{host}/{slug}"]
        )
        kind = rng.choices(["none", "derived", "random", "moved"], [0.4, 0.3, 0.15, 0.15])[0]
        old_url = f"https://{rng.choice(_HOSTS)}/shows/{slug}/feed" if kind == "moved" else None
        tag = {
            "none": None,
            "derived": identity.podcast_guid_for_url(feed_url),
            "random": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "moved": identity.podcast_guid_for_url(old_url or ""),
        }[kind]
        u = rng.random()
        if u < cfg.riser_fraction:
            growth = rng.uniform(0.15, 0.40)
        elif u < cfg.riser_fraction + cfg.decliner_fraction:
            growth = rng.uniform(-0.15, -0.05)
        else:
            growth = max(-0.04, min(0.04, rng.gauss(0.0, 0.015)))
        rows.append(
            {
                "podcast_guid": tag or identity.podcast_guid_for_url(feed_url),
                "title": title,
                "slug": slug,
                "feed_url": feed_url,
                "feed_guid_tag": tag,  # the feed's <podcast:guid>, None when it has none
                "old_feed_url": old_url,
                "aurora_show_id": f"au_{au_ids[i]}",
                "aurora_feed_url": old_url if old_url and rng.random() < 0.5 else feed_url,
                "boreal_show_id": f"{rng.getrandbits(32):08X}",
                "boreal_feed_url": _variant(rng, feed_url, 0.2),
                "cirrus_feed_url": _variant(rng, feed_url, 0.5),
                "ember_feed_url": _variant(rng, feed_url, 0.2),
                "hosts": hosts_of[i],
                "guid_style": rng.choice(["uuid", "url", "tag"]),
                "base_daily_audience": cfg.audience_median * math.exp(rng.gauss(0.0, cfg.audience_sigma)),
                "monthly_growth": growth,
                "true_riser": growth >= RISER_THRESHOLD,
                "cadence_days": rng.choice([3.5, 7.0, 7.0, 7.0, 7.0, 14.0]),
                "publish_minute": rng.randrange(4 * 60, 17 * 60),
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.col("hosts").cast(pl.List(pl.String)), pl.col("feed_guid_tag", "old_feed_url").cast(pl.String)
    )


def _variant(rng: random.Random, url: str, probability: float) -> str:
    """``url`` or, with ``probability``, a variant that normalises to the same feed."""
    if rng.random() >= probability:
        return url
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    return rng.choice([f"http://{rest}", f"{url}/", f"{scheme}://{host.upper()}/{path}"])


def _episodes(rng: random.Random, cfg: MarketConfig, podcasts: pl.DataFrame, creators: pl.DataFrame) -> pl.DataFrame:
    """Every episode released from ``lifetime_days`` before ``start`` to the period's end."""
    first = datetime.combine(cfg.start - timedelta(days=cfg.lifetime_days), time(), UTC)
    last = datetime.combine(cfg.end, time(), UTC)
    ids = creators["creator_id"].to_list()
    effect = dict(zip(ids, creators["effect"].to_list()))
    weights = [rng.lognormvariate(0.0, 0.8) * (0.4 if host else 1.0) for host in creators["is_host"].to_list()]
    name = dict(zip(ids, creators["name"].to_list()))
    rows, counter = [], 0
    for show in podcasts.iter_rows(named=True):
        cadence, number = show["cadence_days"], rng.randint(1, 150)
        at = first + timedelta(days=rng.randrange(math.ceil(cadence)), minutes=show["publish_minute"])
        while at < last:
            counter += 1
            k = rng.choices([0, 1, 2], [0.5, 0.35, 0.15])[0]
            guests: list[str] = []
            for _ in range(20 * k):  # rejection sampling: not a host of this show, no repeats
                pick = rng.choices(ids, weights)[0]
                if pick not in show["hosts"] and pick not in guests:
                    guests.append(pick)
                if len(guests) == k:
                    break
            rows.append(
                {
                    "podcast_guid": show["podcast_guid"],
                    "episode_guid": _episode_guid(rng, show, number),
                    "title": _episode_title(rng, number, counter, sorted(name[g] for g in guests)),
                    "published_at": at,
                    "guest_ids": guests,
                    "multiplier": math.prod(effect[g] for g in guests),
                    "quality": math.exp(rng.gauss(0.0, cfg.quality_sigma) - cfg.quality_sigma**2 / 2),
                }
            )
            number += 1
            step = 1 if rng.random() < 0.05 else 0  # a week off now and then
            days = round(cadence * (1 + step) * rng.uniform(0.85, 1.15))
            at += timedelta(days=max(1, days), minutes=rng.randint(-20, 20))
    return pl.DataFrame(
        rows,
        schema={
            "podcast_guid": pl.String,
            "episode_guid": pl.String,
            "title": pl.String,
            "published_at": pl.Datetime("us", "UTC"),
            "guest_ids": pl.List(pl.String),
            "multiplier": pl.Float64,
            "quality": pl.Float64,
        },
    )


def _episode_guid(rng: random.Random, show: dict, number: int) -> str:
    if show["guid_style"] == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if show["guid_style"] == "url":
        return f"https://{identity.normalize_feed_url(show['feed_url']).split('/')[0]}/{show['slug']}/episodes/{number}"
    return f"{show['slug']}-ep{number:03d}"


def _episode_title(rng: random.Random, number: int, counter: int, guest_names: list[str]) -> str:
    """Titles with commas, double quotes and (every 11th) a newline, for the CSV writers."""
    topic = rng.choice(_TOPICS)
    if counter % 7 == 3:
        topic = f'The "{topic.split()[-1]}" question, again'
    if counter % 11 == 5:
        topic = f"{topic}\nPart {rng.randint(1, 3)}"
    if guest_names:
        topic = f"{topic}, with {' and '.join(guest_names)}"
    return f"{number}. {topic}"


def _shares(rng: random.Random, cfg: MarketConfig, podcasts: pl.DataFrame) -> pl.DataFrame:
    """provider, podcast_guid, share; provider ``other`` is the rest of the market."""
    rows = []
    sigma = cfg.share_sigma
    for guid in podcasts["podcast_guid"]:
        shares = {}
        for provider in PROVIDERS:
            base = cfg.market_shares.get(provider, DEFAULT_MARKET_SHARE)
            draw = base * math.exp(rng.gauss(0.0, sigma) - sigma**2 / 2)
            shares[provider] = min(max(draw, 0.3 * base), 2.5 * base)
        scale = min(1.0, 0.95 / sum(shares.values()))
        shares = {p: s * scale for p, s in shares.items()}
        shares["other"] = 1.0 - sum(shares.values())
        rows += [(p, guid, s) for p, s in shares.items()]
    schema = {"provider": pl.String, "podcast_guid": pl.String, "share": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


# ---- the daily matrix ------------------------------------------------------------------


def _cells(cfg: MarketConfig, podcasts: pl.DataFrame, episodes: pl.DataFrame, shares: pl.DataFrame) -> pl.DataFrame:
    """One row per episode x day part x provider (``other`` included) with its listens.

    Columns: podcast_guid, episode_guid, age, day, tod (publication time of day as a
    fraction), t0, t1, provider, listens.
    """
    seed = _subseed(cfg.seed, "cells")
    lifetime, start, end = cfg.lifetime_days, cfg.start, cfg.end
    norm = sum(math.exp(-a / _DECAY_TAU) + _DECAY_TAIL * (1 + a) ** -_DECAY_ALPHA for a in range(lifetime))
    pub_day = pl.col("published_at").dt.date()
    tod = (pl.col("published_at") - pl.col("published_at").dt.truncate("1d")).dt.total_seconds() / 86_400
    day30 = pl.col("age") == 30
    cells = (
        episodes.join(
            podcasts.select("podcast_guid", "base_daily_audience", "cadence_days", "monthly_growth"),
            on="podcast_guid",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            tod.alias("tod"),
            pl.int_ranges(
                pl.max_horizontal(0, (pl.lit(start) - pub_day).dt.total_days()),
                pl.min_horizontal(lifetime, (pl.lit(end) - pub_day).dt.total_days()),
            ).alias("age"),
        )
        .explode("age")
        .drop_nulls("age")
        # Day 30 is split at the publication time of day: part 0 is inside the 30-day window.
        .with_columns(pl.when(day30).then(pl.lit([0, 1])).otherwise(pl.lit([0])).alias("part"))
        .explode("part")
        .with_columns(
            (pub_day + pl.duration(days=pl.col("age"))).alias("day"),
            pl.when((pl.col("age") == 0) | (day30 & (pl.col("part") == 1))).then("tod").otherwise(0.0).alias("t0"),
            pl.when(day30 & (pl.col("part") == 0)).then("tod").otherwise(1.0).alias("t1"),
        )
    )
    z = _normal(cells.height, seed)
    age = pl.col("age").cast(pl.Float64)
    expected = (
        pl.col("base_daily_audience")
        * pl.col("cadence_days")
        * (1 + pl.col("monthly_growth")) ** ((pl.col("day") - pl.lit(start)).dt.total_days() / _DAYS_PER_MONTH)
        * ((-age / _DECAY_TAU).exp() + _DECAY_TAIL * (1 + age) ** -_DECAY_ALPHA)
        / norm
        * pl.col("day").dt.weekday().replace_strict(_WEEKDAY, return_dtype=pl.Float64)
        * pl.col("multiplier")
        * pl.col("quality")
        * (z * cfg.daily_sigma - cfg.daily_sigma**2 / 2).exp()
        * (pl.col("t1") - pl.col("t0"))
    )
    cells = (
        cells.with_columns(expected.alias("expected"))
        .select("podcast_guid", "episode_guid", "age", "day", "tod", "t0", "t1", "expected")
        .join(shares, on="podcast_guid", how="left", maintain_order="left")
    )
    listens = _poisson(cells["expected"] * cells["share"], _subseed(seed, "poisson"))
    return cells.with_columns(listens.alias("listens")).drop("expected", "share")


def _subseed(seed: int, tag: str) -> int:
    """A seed for one purpose, independent of call order."""
    return zlib.crc32(f"{seed}:{tag}".encode())


def _uniform(n: int, seed: int) -> pl.Series:
    """``n`` seeded uniforms in [0, 1)."""
    return pl.Series("u", pc.random(n, initializer=seed), dtype=pl.Float64)


def _normal(n: int, seed: int) -> pl.Series:
    """``n`` seeded standard normals (Box-Muller)."""
    u1, u2 = _uniform(n, _subseed(seed, "u1")), _uniform(n, _subseed(seed, "u2"))
    return ((1.0 - u1).log() * -2.0).sqrt() * (u2 * 2 * math.pi).cos()


def _poisson(lam: pl.Series, seed: int) -> pl.Series:
    """Poisson counts (int64) for rates ``lam``: exact inverse transform for small rates,
    a rounded normal for large ones."""
    n = len(lam)
    frame = pl.DataFrame({"lam": lam, "u": _uniform(n, seed), "z": _normal(n, _subseed(seed, "z"))}).with_row_index("i")
    big = frame.filter(pl.col("lam") >= _POISSON_EXACT_BELOW).select(
        "i", (pl.col("lam") + pl.col("lam").sqrt() * pl.col("z") + 0.5).floor().clip(0).cast(pl.Int64).alias("k")
    )
    done = [big]
    active = frame.filter(pl.col("lam") < _POISSON_EXACT_BELOW).select(
        "i", "lam", "u", (-pl.col("lam")).exp().alias("p"), pl.lit(0, pl.Int64).alias("k")
    ).with_columns(pl.col("p").alias("cdf"))
    while active.height:
        stop = (pl.col("u") < pl.col("cdf")) | (pl.col("k") >= 100)
        done.append(active.filter(stop).select("i", "k"))
        active = active.filter(~stop).with_columns(
            (pl.col("p") * pl.col("lam") / (pl.col("k") + 1)).alias("p"), pl.col("k") + 1
        ).with_columns(pl.col("cdf") + pl.col("p"))
    return pl.concat(done).sort("i")["k"]


# ---- drops -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DropSummary:
    """What ``write_drops`` wrote, per drop kind (providers and ``catalog``): ``files``;
    ``rows`` (lines/rows/items, aurora duplicates included); ``listens`` (the counts in
    those rows, aurora as distinct events)."""

    root: Path
    as_of: date
    files: dict[str, int]
    rows: dict[str, int]
    listens: dict[str, int]


def write_drops(
    market: Market,
    target: Settings | str | Path,
    *,
    as_of: date | None = None,
    providers: Iterable[str] = DROP_KINDS,
    skip: Mapping[str, Collection[date]] | None = None,
    boreal_gzip_fraction: float = 0.2,
    aurora_segment_hours: int = 24,
    aurora_duplicate_rate: float = 0.005,
    aurora_late_rate: float = 0.005,
    late_max_days: float | None = None,
) -> DropSummary:
    """Write what the providers have delivered by ``as_of`` (a date, midnight UTC;
    default: the end of the market period) under ``<root>/landing/``.

    Daily files cover days before ``as_of``, monthly files only months that ended by then
    (so a month in progress has daily files up to yesterday and no monthly file). Aurora
    segments hold the events that arrived before ``as_of``: arrival is a few seconds after
    the listen, for ``aurora_late_rate`` of events up to ``late_max_days`` (default
    ``Settings.late_event_grace_days``, else 2) later, and ``aurora_duplicate_rate`` of
    events are delivered twice. ``skip`` leaves out deliveries: provider -> days (daily
    providers, aurora by listen day) or months (any day in the month; dune, ember). The
    catalog holds the episodes published before ``as_of``.
    """
    settings = target if isinstance(target, Settings) else Settings(lakehouse_dir=str(target))
    late_days = settings.late_event_grace_days if late_max_days is None else late_max_days
    cfg = market.config
    as_of = min(as_of or cfg.end, cfg.end)
    skip = skip or {}
    providers = list(providers)
    if unknown := set(providers) - set(DROP_KINDS):
        raise ValueError(f"unknown drop kinds {sorted(unknown)}; expected some of {DROP_KINDS}")
    files: dict[str, int] = {}
    rows: dict[str, int] = {}
    listens: dict[str, int] = {}
    observed = market.observations.filter(pl.col("day") < as_of)
    for kind in providers:
        out = settings.landing(kind)
        out.mkdir(parents=True, exist_ok=True)
        skipped = set(skip.get(kind, ()))
        data = observed.filter(pl.col("provider") == kind).join(market.podcasts, on="podcast_guid", how="left")
        if kind == "aurora":
            written = _write_aurora(
                market, out, as_of, skipped, aurora_segment_hours, aurora_duplicate_rate, aurora_late_rate, late_days
            )
        elif kind in DAILY_PROVIDERS:
            days = [cfg.start + timedelta(days=i) for i in range((as_of - cfg.start).days)]
            days = [d for d in days if d not in skipped]
            writer = _write_boreal if kind == "boreal" else _write_cirrus
            written = writer(market, data, out, days, boreal_gzip_fraction)
        elif kind in MONTHLY_PROVIDERS:
            skipped_months = {d.replace(day=1) for d in skipped}
            months = [add_months(cfg.start.replace(day=1), i) for i in range(cfg.months)]
            months = [m for m in months if add_months(m, 1) <= as_of and m not in skipped_months]
            writer = _write_dune if kind == "dune" else _write_ember
            written = writer(market, data, out, months)
        else:
            written = _write_catalog(market, out, as_of)
        files[kind], rows[kind], listens[kind] = written
    return DropSummary(settings.root, as_of, files, rows, listens)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds it (an unchanged drop keeps its mtime)."""
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def _write_aurora(
    market: Market,
    out: Path,
    as_of: date,
    skipped: set[date],
    segment_hours: int,
    duplicate_rate: float,
    late_rate: float,
    late_days: float,
) -> tuple[int, int, int]:
    """Sealed NDJSON segments by arrival time, plus ``shows.csv``."""
    seed = _subseed(market.config.seed, "aurora")
    _show_directory(market, out, "aurora")
    # Events are made for the whole period, not only up to as_of, so ids do not depend on it.
    events = (
        market.observations.filter(pl.col("provider") == "aurora")
        .join(market.podcasts.select("podcast_guid", "aurora_show_id"), on="podcast_guid", maintain_order="left")
        .select("aurora_show_id", "episode_guid", "day", "t0", "t1", pl.int_ranges("listens").alias("n"))
        .explode("n")
    )
    n = events.height
    when, late, delay = (_uniform(n, _subseed(seed, tag)) for tag in ("when", "late", "delay"))
    offset_s = ((pl.col("t0") + when * (pl.col("t1") - pl.col("t0"))) * 86_400).floor().cast(pl.Int64)
    late_s = max(late_days * 86_400, 7_200)
    delay_ms = 1000 * (
        pl.when(late < late_rate)
        .then(3_600 + delay * (late_s - 3_600))  # an hour to late_days late
        .when(late < 0.03)
        .then(60 + delay * 600)  # minutes
        .otherwise(0.5 + delay * 30)  # seconds
    )
    events = events.with_columns(
        pl.format("ev-{}-{}", pl.lit(f"{market.config.seed:x}"), pl.int_range(pl.len()).cast(pl.String).str.zfill(9))
        .alias("event_id"),
        (_midnight(pl.col("day")) + pl.duration(seconds=offset_s)).alias("listened_ts"),
    ).with_columns((pl.col("listened_ts") + pl.duration(milliseconds=delay_ms.cast(pl.Int64))).alias("arrival"))
    # At-least-once delivery: some events arrive again, a second to a day and a half later.
    again = _uniform(n, _subseed(seed, "again")) < duplicate_rate
    retry_s = (_uniform(n, _subseed(seed, "retry")).filter(again) * 36 * 3_600).cast(pl.Int64) + 1
    duplicates = events.filter(again).with_columns(pl.col("arrival") + pl.duration(seconds=retry_s))
    events = (
        pl.concat([events, duplicates])
        .filter(pl.col("arrival") < datetime.combine(as_of, time(), UTC), ~pl.col("day").is_in(sorted(skipped)))
        .with_columns(
            pl.col("listened_ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("listened_at"),
            pl.col("arrival").dt.truncate(f"{segment_hours}h").alias("segment"),
        )
        .sort("arrival", "event_id")
    )
    target = out / "events"
    target.mkdir(exist_ok=True)
    segments = events.partition_by("segment", as_dict=True, maintain_order=True)
    for (segment,), part in segments.items():
        lines = part.select("event_id", pl.col("aurora_show_id").alias("show_id"), "episode_guid", "listened_at")
        _write(target / f"aurora-{segment:%Y%m%dT%H%M%SZ}.ndjson", lines.write_ndjson().encode())
    return len(segments), events.height, events["event_id"].n_unique()


def _show_directory(market: Market, out: Path, provider: str) -> None:
    """``shows.csv``: the provider's show ids and the feed URLs it knows them by."""
    shows = market.podcasts.select(
        pl.col(f"{provider}_show_id").alias("show_id"), pl.col(f"{provider}_feed_url").alias("feed_url")
    )
    _write(out / "shows.csv", shows.sort("show_id").write_csv().encode())


def _write_boreal(
    market: Market, data: pl.DataFrame, out: Path, days: list[date], gzip_fraction: float
) -> tuple[int, int, int]:
    """One CSV per day (some gzipped), episode grain, plus ``shows.csv``."""
    _show_directory(market, out, "boreal")
    titles = market.episodes.select("podcast_guid", "episode_guid", pl.col("title").alias("episode_title"))
    daily = (
        data.group_by("boreal_show_id", "podcast_guid", "episode_guid", "day")
        .agg(pl.col("listens").sum().alias("plays"))
        .join(titles, on=["podcast_guid", "episode_guid"], how="left")
    )
    by_day = daily.partition_by("day", as_dict=True)
    zipped = random.Random(_subseed(market.config.seed, "gzip"))
    n_rows = n_listens = 0
    for day in days:
        part = by_day.get((day,), daily.clear()).sort("boreal_show_id", "episode_guid")
        csv = part.select(
            pl.col("day").dt.strftime("%Y-%m-%d").alias("report_date"),
            pl.col("boreal_show_id").alias("show_id"),
            "episode_guid",
            "episode_title",
            "plays",
        ).write_csv().encode()
        name = f"boreal_plays_{day:%Y-%m-%d}.csv"
        if zipped.random() < gzip_fraction:
            _write(out / f"{name}.gz", gzip.compress(csv, mtime=0))
        else:
            _write(out / name, csv)
        n_rows, n_listens = n_rows + part.height, n_listens + int(part["plays"].sum())
    return len(days), n_rows, n_listens


def _write_cirrus(market: Market, data: pl.DataFrame, out: Path, days: list[date], _: float) -> tuple[int, int, int]:
    """One JSON document per day, podcast grain, identified by (a variant of) the feed URL."""
    daily = data.group_by("cirrus_feed_url", "day").agg(pl.col("listens").sum())
    by_day = daily.partition_by("day", as_dict=True)
    n_rows = n_listens = 0
    for day in days:
        part = by_day.get((day,), daily.clear()).sort("cirrus_feed_url")
        rows = [{"feed_url": u, "downloads": c} for u, c in part.select("cirrus_feed_url", "listens").iter_rows()]
        doc = json.dumps({"date": day.isoformat(), "rows": rows}, separators=(",", ":")) + "\n"
        _write(out / f"cirrus-{day:%Y-%m-%d}.json", doc.encode())
        n_rows, n_listens = n_rows + part.height, n_listens + int(part["listens"].sum())
    return len(days), n_rows, n_listens


def _write_dune(market: Market, data: pl.DataFrame, out: Path, months: list[date]) -> tuple[int, int, int]:
    """Excel-style monthly CSV: BOM, ';', CRLF, podcast grain by podcast_guid."""
    month = pl.col("day").dt.truncate("1mo").alias("month")
    monthly = data.group_by("podcast_guid", month).agg(pl.col("listens").sum())
    n_rows = n_listens = 0
    for first in months:
        part = monthly.filter(pl.col("month") == first).sort("podcast_guid")
        lines = [f"{first:%Y-%m};{g};{c}" for g, c in part.select("podcast_guid", "listens").iter_rows()]
        text = "\ufeff" + "\r\n".join(["Month;Podcast GUID;Listens", *lines]) + "\r\n"
        _write(out / f"dune_{first:%Y-%m}.csv", text.encode("utf-8"))
        n_rows, n_listens = n_rows + part.height, n_listens + int(part["listens"].sum())
    return len(months), n_rows, n_listens


def _write_ember(market: Market, data: pl.DataFrame, out: Path, months: list[date]) -> tuple[int, int, int]:
    """Monthly JSON lines, episode grain, identified by feed URL, with extra fields."""
    published = market.episodes.select("podcast_guid", "episode_guid", "published_at", "title")
    month = pl.col("day").dt.truncate("1mo").alias("month")
    monthly = (
        data.group_by("ember_feed_url", "podcast_guid", "episode_guid", month)
        .agg(pl.col("listens").sum())
        .join(published, on=["podcast_guid", "episode_guid"], how="left")
    )
    n_rows = n_listens = 0
    for first in months:
        part = monthly.filter(pl.col("month") == first).sort("ember_feed_url", "published_at", "episode_guid")
        records = (
            {
                "month": f"{first:%Y-%m}",
                "podcast": {"feed_url": r["ember_feed_url"]},
                "episode": {
                    "guid": r["episode_guid"],
                    "published": f"{r['published_at']:%Y-%m-%dT%H:%M:%SZ}",
                    "title": r["title"],  # extra fields, to be ignored
                },
                "listens": r["listens"],
                "export": {"format": "ember-listens", "version": 3},
            }
            for r in part.iter_rows(named=True)
        )
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        _write(out / f"ember_{first:%Y-%m}.jsonl", text.encode("utf-8"))
        n_rows, n_listens = n_rows + part.height, n_listens + int(part["listens"].sum())
    return len(months), n_rows, n_listens


def _write_catalog(market: Market, out: Path, as_of: date) -> tuple[int, int, int]:
    """One RSS feed per podcast with the episodes published before ``as_of``, newest first.
    Items with guests list hosts and guests; the others rely on the channel's hosts."""
    people = {c: (name, href) for c, name, href in market.creators.select("creator_id", "name", "href").iter_rows()}
    cutoff = datetime.combine(as_of, time(), UTC)
    episodes = market.episodes.filter(pl.col("published_at") < cutoff).sort("published_at", descending=True)
    by_show = episodes.partition_by("podcast_guid", as_dict=True)
    n_items = 0
    for show in market.podcasts.iter_rows(named=True):
        hosts = [(people[h][0], "host", people[h][1]) for h in show["hosts"]]
        items: list[FeedItem] = []
        for ep in by_show.get((show["podcast_guid"],), episodes.clear()).iter_rows(named=True):
            guests = [(people[g][0], "guest", people[g][1]) for g in ep["guest_ids"]]
            persons = hosts + guests if guests else []
            items.append(
                FeedItem(guid=ep["episode_guid"], title=ep["title"], published_at=ep["published_at"], persons=persons)
            )
        xml = rss_feed_xml(show["feed_url"], show["title"], items, show["feed_guid_tag"], channel_persons=hosts)
        _write(out / f"{show['slug']}.xml", xml.encode("utf-8"))
        n_items += len(items)
    return market.podcasts.height, n_items, 0


def _midnight(day: pl.Expr) -> pl.Expr:
    """A date column as its midnight UTC timestamp."""
    return day.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
