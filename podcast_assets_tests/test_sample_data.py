"""The synthetic market: deterministic, internally consistent, and written in the
contract's formats (CONTRACT.md section 3), read back with plain polars/json."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from podcast_assets import catalog, identity
from podcast_assets.sample_data import DropSummary, Market, generate_market, preset, write_drops

AS_OF = date(2025, 2, 10)  # February in progress: daily files up to Feb 9, no February monthly file
GRACE = 2


@pytest.fixture(scope="module")
def market() -> Market:
    return generate_market("tiny")


@pytest.fixture(scope="module")
def drops(market: Market, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DropSummary]:
    root = tmp_path_factory.mktemp("lakehouse")
    return root / "landing", write_drops(market, root, as_of=AS_OF, late_max_days=GRACE)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _observed(market: Market, provider: str) -> pl.DataFrame:
    return market.provider_daily().filter(pl.col("provider") == provider)


def _boreal(landing: Path) -> pl.DataFrame:
    frames = []
    for path in sorted((landing / "boreal").glob("boreal_plays_*")):
        data = path.read_bytes()
        frames.append(pl.read_csv(io.BytesIO(gzip.decompress(data) if path.name.endswith(".gz") else data)))
    return pl.concat(frames, how="vertical_relaxed")


def _aurora(landing: Path) -> pl.DataFrame:
    return pl.concat(
        pl.read_ndjson(p).with_columns(pl.lit(p.name).alias("segment"))
        for p in sorted((landing / "aurora" / "events").glob("*.ndjson"))
    )


def test_same_seed_gives_byte_identical_files(market: Market, tmp_path: Path) -> None:
    write_drops(market, tmp_path / "a", as_of=AS_OF)
    write_drops(generate_market("tiny"), tmp_path / "b", as_of=AS_OF)
    write_drops(generate_market("tiny", seed=8), tmp_path / "c", as_of=AS_OF)
    a, b, c = (_tree(tmp_path / x) for x in "abc")
    assert a == b and len(a) > 100
    assert a != c


def test_truth_is_consistent(market: Market) -> None:
    truth = market.truth
    daily = truth.episode_daily.group_by("podcast_guid", pl.col("day").dt.truncate("1mo").alias("month")).agg(
        pl.col("listens").sum()
    )
    monthly = truth.podcast_monthly.join(daily, on=["podcast_guid", "month"], how="left").fill_null(0)
    assert (monthly["listens"] == monthly["listens_right"]).all()
    assert monthly.height == market.config.n_podcasts * market.config.months
    # Providers saw a part of the truth, about their configured share.
    seen = market.provider_daily().group_by("podcast_guid", "episode_guid", "day").agg(pl.col("listens").sum())
    both = seen.join(truth.episode_daily, on=["podcast_guid", "episode_guid", "day"], how="left")
    assert (both["listens"] <= both["listens_right"]).all()
    assert 0.35 < seen["listens"].sum() / truth.episode_daily["listens"].sum() < 0.65
    # 30-day windows: known only inside the market period, and at most the lifetime listens.
    windows = truth.episodes.filter(pl.col("listens_30d").is_not_null())
    assert windows.height > 0
    assert windows["published_at"].min().date() >= market.config.start
    lifetime = truth.episode_daily.group_by("podcast_guid", "episode_guid").agg(pl.col("listens").sum())
    check = windows.join(lifetime, on=["podcast_guid", "episode_guid"])
    assert (check["listens_30d"] <= check["listens"]).all()
    assert set(truth.podcasts.columns) >= {"podcast_guid", "monthly_growth", "true_riser"}
    assert truth.creators["effect"].min() > 0 and truth.creators["creator_id"].is_unique().all()


def test_as_of_is_respected(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, summary = drops
    assert sorted(p.name for p in (landing / "dune").iterdir()) == ["dune_2025-01.csv"]
    assert sorted(p.name for p in (landing / "ember").iterdir()) == ["ember_2025-01.jsonl"]
    cirrus = sorted(p.name for p in (landing / "cirrus").iterdir())
    assert len(cirrus) == summary.files["cirrus"] == 40 and cirrus[-1] == "cirrus-2025-02-09.json"
    assert summary.files["boreal"] == 40
    assert _aurora(landing)["listened_at"].max() < "2025-02-10"
    feeds = catalog.build_catalog(sorted((landing / "catalog").glob("*.xml")))
    assert not feeds.failures
    assert feeds.episodes["published_at"].max().date() < AS_OF


def test_boreal_csv_is_rfc4180_and_matches_truth(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, summary = drops
    assert any(p.name.endswith(".csv.gz") for p in (landing / "boreal").iterdir())
    rows = _boreal(landing)
    assert rows.columns == ["report_date", "show_id", "episode_guid", "episode_title", "plays"]
    titles = rows["episode_title"]
    assert titles.str.contains("\n").any() and titles.str.contains('"').any() and titles.str.contains(",").any()
    assert rows.height == summary.rows["boreal"] and rows["plays"].sum() == summary.listens["boreal"]
    shows = pl.read_csv(landing / "boreal" / "shows.csv").join(
        market.podcasts.select("boreal_show_id", "podcast_guid"), left_on="show_id", right_on="boreal_show_id"
    )
    got = rows.join(shows, on="show_id").select(
        "podcast_guid",
        "episode_guid",
        pl.col("report_date").str.to_date().alias("day"),
        pl.col("plays").alias("listens"),
    )
    want = _observed(market, "boreal").filter(pl.col("day") < AS_OF).drop("provider")
    assert got.sort(want.columns).equals(want.sort(want.columns))


def test_aurora_ndjson_duplicates_and_late_events(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, summary = drops
    events = _aurora(landing)
    assert events.columns[:4] == ["event_id", "show_id", "episode_guid", "listened_at"]
    assert events["listened_at"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    assert events.height == summary.rows["aurora"] > events["event_id"].n_unique() == summary.listens["aurora"]
    dup = events.filter(pl.col("event_id").is_duplicated())
    assert dup.group_by("event_id").agg(pl.col("segment").n_unique())["segment"].max() > 1  # across segments
    # Late: a segment holding events of an earlier day than the one before it.
    segment_day = pl.col("segment").str.slice(7, 8).str.to_date("%Y%m%d")
    listened = pl.col("listened_at").str.slice(0, 10).str.to_date()
    assert events.filter(listened < segment_day - pl.duration(days=1)).height > 0
    # Distinct events per day equal what aurora counted, for days whose late events all landed.
    unique = events.unique("event_id").join(
        pl.read_csv(landing / "aurora" / "shows.csv").join(
            market.podcasts.select("aurora_show_id", "podcast_guid"), left_on="show_id", right_on="aurora_show_id"
        ),
        on="show_id",
    )
    complete = date(2025, 2, 10 - 1 - GRACE)
    got = (
        unique.with_columns(listened.alias("day"))
        .filter(pl.col("day") <= complete)
        .group_by("podcast_guid", "episode_guid", "day")
        .agg(pl.len().cast(pl.Int64).alias("listens"))
    )
    want = _observed(market, "aurora").filter(pl.col("day") <= complete).drop("provider")
    assert got.sort(want.columns).equals(want.sort(want.columns))
    # Events on an episode's publication day come after its publication time.
    pub = market.episodes.select("episode_guid", "published_at")
    on_day = unique.join(pub, on="episode_guid").with_columns(
        pl.col("listened_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    )
    assert (on_day["listened_at"] >= on_day["published_at"]).all()


def test_cirrus_json_uses_feed_url_variants(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, summary = drops
    total, urls = 0, set()
    for path in sorted((landing / "cirrus").glob("cirrus-*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert path.name == f"cirrus-{doc['date']}.json"
        total += sum(row["downloads"] for row in doc["rows"])
        urls |= {row["feed_url"] for row in doc["rows"]}
    want = _observed(market, "cirrus").filter(pl.col("day") < AS_OF)["listens"].sum()
    assert total == summary.listens["cirrus"] == want
    canonical = set(market.podcasts["feed_url"])
    assert urls - canonical  # some variants...
    assert {identity.normalize_feed_url(u) for u in urls} <= {identity.normalize_feed_url(u) for u in canonical}


def test_dune_is_an_excel_export(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, _ = drops
    path = landing / "dune" / "dune_2025-01.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfMonth;Podcast GUID;Listens\r\n")
    rows = pl.read_csv(path, separator=";")
    assert rows.columns == ["Month", "Podcast GUID", "Listens"]
    assert (rows["Month"] == "2025-01").all()
    want = _observed(market, "dune").filter(pl.col("day").dt.month() == 1)
    assert rows["Listens"].sum() == want["listens"].sum()
    assert set(rows["Podcast GUID"]) <= set(market.truth.podcasts["podcast_guid"])


def test_ember_jsonl_episode_grain(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, summary = drops
    lines = (landing / "ember" / "ember_2025-01.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == summary.rows["ember"]
    assert all(r["month"] == "2025-01" and r["listens"] > 0 for r in records)
    assert all(set(r) > {"month", "podcast", "episode", "listens"} for r in records)  # an extra field
    frame = pl.read_ndjson(landing / "ember" / "ember_2025-01.jsonl")
    assert frame.select(pl.col("episode").struct.field("published").str.ends_with("Z").all()).item()
    want = _observed(market, "ember").filter(pl.col("day").dt.month() == 1)
    assert frame["listens"].sum() == want["listens"].sum()


def test_every_provider_identifier_resolves_to_the_true_guid(market: Market, drops: tuple[Path, DropSummary]) -> None:
    landing, _ = drops
    feeds = catalog.build_catalog(sorted((landing / "catalog").glob("*.xml")))
    assert feeds.podcasts.height == market.config.n_podcasts
    assert set(feeds.podcasts["podcast_guid"]) == set(market.truth.podcasts["podcast_guid"])
    for column in ("aurora_feed_url", "boreal_feed_url", "cirrus_feed_url", "ember_feed_url"):
        resolved = identity.resolve_feed_urls(market.podcasts[column], feeds.feed_urls)
        assert resolved.to_list() == market.podcasts["podcast_guid"].to_list(), column
    # Credits: item-level persons on guest episodes, channel hosts elsewhere.
    assert set(feeds.episode_credits["credit_level"]) == {"item", "channel"}


def test_skip_and_provider_subset(market: Market, tmp_path: Path) -> None:
    summary = write_drops(
        market, tmp_path, providers=["boreal", "dune"], skip={"boreal": [date(2025, 1, 3)], "dune": [date(2025, 2, 1)]}
    )
    landing = tmp_path / "landing"
    assert sorted(p.name for p in landing.iterdir()) == ["boreal", "dune"]
    assert not list((landing / "boreal").glob("boreal_plays_2025-01-03*"))
    assert summary.files == {"boreal": 58, "dune": 1} and summary.as_of == date(2025, 3, 1)


def test_presets_are_sized_as_documented() -> None:
    assert preset("demo").n_podcasts >= 30 and preset("accuracy").n_podcasts >= 200
    assert preset("tiny", seed=3).seed == 3
