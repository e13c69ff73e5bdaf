"""Bronze rows -> silver rows (``to_silver``) and the silver schema's key check, on
hand-made frames: sums where a key repeats, the rows as they are where none does, never
two rows of one key whatever the delivery repeats, and the schema (the asset check's)
refusing a repeated key, naming its rows."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from podcast_assets.providers.reader import DropError
from podcast_assets.providers.specs import provider
from podcast_assets.schemas import SILVER_KEY, key_hashes_differ, silver_listens_schema, validate
from podcast_assets.silver import Identity, to_silver
from podcast_assets_tests.conftest import PODNEWS, PODNEWS_GUID, derived

DAY = date(2025, 3, 3)
FEEDS_SHOW = derived("feeds.example.com/show")
NO_CATALOG = pl.DataFrame(schema={"feed_url_normalized": pl.String, "podcast_guid": pl.String})
DIRECTORY = pl.DataFrame({"provider": ["boreal"] * 3, "show_id": ["s1", "s2", "s3"],
                          "feed_url": [PODNEWS, "https://feeds.example.com/show", "http://PODNEWS.net/rss/"]})
IDENTITY = Identity.resolve(provider("boreal"), DIRECTORY, NO_CATALOG)


def boreal_rows(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame({"show_id": [r[0] for r in rows], "episode_guid": [r[1] for r in rows],
                         "period_start": [DAY] * len(rows), "listens": [r[2] for r in rows]},
                        schema={"show_id": pl.String, "episode_guid": pl.String, "period_start": pl.Date,
                                "listens": pl.Int64})


def test_rows_with_distinct_keys_pass_through_in_their_order() -> None:
    out = to_silver(provider("boreal"), boreal_rows([("s2", "e1", 4), ("s1", "e1", 5), ("s9", "e1", 1)]), IDENTITY)
    assert out.rows() == [
        ("boreal", FEEDS_SHOW, "e1", DAY, "day", 4, None),
        ("boreal", PODNEWS_GUID, "e1", DAY, "day", 5, None),
        ("boreal", None, "e1", DAY, "day", 1, "s9"),  # not in the directory yet: kept, unmapped
    ]


def test_repeated_keys_are_summed_where_they_first_appear() -> None:
    """s1 and s3 are two ids of one feed (URL variants): their e1 rows are one key, and
    a row listed twice is one key too: 5 + 2 + 3 = 10, 4 + 6 = 10."""
    rows = [("s1", "e1", 5), ("s2", "e1", 4), ("s3", "e1", 2), ("s2", "e1", 6), ("s1", "e1", 3), ("s1", "e2", 7)]
    out = to_silver(provider("boreal"), boreal_rows(rows), IDENTITY)
    assert out.select("podcast_guid", "episode_guid", "listens").rows() == [
        (PODNEWS_GUID, "e1", 10), (FEEDS_SHOW, "e1", 10), (PODNEWS_GUID, "e2", 7)
    ]
    assert out.schema == to_silver(provider("boreal"), boreal_rows(rows[:2]), IDENTITY).schema


def test_the_silver_schema_refuses_a_repeated_key_naming_its_rows() -> None:
    """Two unmapped rows of one show and episode (null podcast_guid: nulls are equal)."""
    row = {"provider": "boreal", "podcast_guid": None, "episode_guid": "e1", "period_start": DAY,
           "period_grain": "day", "listens": 1, "unmapped_show": "s9"}
    frame = pl.DataFrame([row, {**row, "episode_guid": "e2"}, row],
                         schema_overrides={"podcast_guid": pl.String, "listens": pl.Int64})
    schema = silver_listens_schema((DAY, date(2025, 3, 4)))
    assert validate(schema, frame[:2], "silver boreal").height == 2
    with pytest.raises(DropError) as caught:
        validate(schema, frame, "silver boreal")
    assert caught.value.row == 0 and caught.value.rule == f"silver_listens: ({', '.join(SILVER_KEY)}) must be unique"


keys = st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from(["x", None]), st.integers(0, 2)),
                max_size=12)


@hsettings(max_examples=200, deadline=None)
@given(rows=keys)
def test_property_distinct_hashes_mean_distinct_keys(rows: list[tuple]) -> None:
    """key_hashes_differ never vouches for a frame that repeats a key; on these tiny
    frames (no collisions) it vouches for every frame that does not."""
    frame = pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String, "c": pl.Int64}, orient="row")
    repeats = frame.is_duplicated().any()
    assert key_hashes_differ(frame, ["a", "b", "c"]) is not repeats


bronze_rows = st.lists(st.tuples(st.sampled_from(["s1", "s2", "s3", "s9"]), st.sampled_from(["e1", "e2"]),
                                 st.integers(0, 50)), max_size=16)


@hsettings(max_examples=200, deadline=None)
@given(rows=bronze_rows)
def test_property_silver_rows_never_share_a_key_and_keep_every_listen(rows: list[tuple[str, str, int]]) -> None:
    """What lets ``silver_rows`` skip a second proof of the key: whatever repeats in the
    delivery (a row twice, two ids of one feed, unmapped shows), no two silver rows share
    ``SILVER_KEY``, and the listens add up to the delivery's."""
    out = to_silver(provider("boreal"), boreal_rows(rows), IDENTITY)
    assert not out.select(SILVER_KEY).is_duplicated().any()
    assert out.get_column("listens").sum() == sum(r[2] for r in rows)
