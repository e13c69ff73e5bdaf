"""The serving store file: what it holds, its views, and how it is swapped in."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from podcast_assets.serving import open_store_readonly, publish_serving_store

from .conftest import MAR, A, B, C, D, gold_tables


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "serving" / "serving.duckdb"
    publish_serving_store(gold_tables(), path)
    return path


def test_publish_returns_row_counts_and_leaves_only_the_store(tmp_path: Path) -> None:
    path = tmp_path / "serving.duckdb"
    counts = publish_serving_store(gold_tables(), path)
    assert counts == {
        "podcast_monthly_estimates": 10, "episode_first_30_days": 5, "podcast_trends": 7,
        "creator_popularity": 4, "podcasts": 4,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb"]


def test_analyst_views_open_directly_in_duckdb(store: Path) -> None:
    with duckdb.connect(str(store), read_only=True) as conn:
        top = conn.execute(
            "SELECT month, chart_rank, podcast_guid, title FROM latest_month_top_podcasts ORDER BY chart_rank"
        ).fetchall()
        rising = conn.execute(
            "SELECT trend_rank, podcast_guid, title FROM latest_month_rising_podcasts ORDER BY trend_rank"
        ).fetchall()
        indexed = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_indexes()").fetchall()}
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'episode_first_30_days'"
        ).fetchall())
    assert top == [
        (MAR, 1, A, "Podnews"), (MAR, 2, B, "Bee Show"), (MAR, 3, D, None), (MAR, 4, C, 'Sea, Shells & "Quotes"'),
    ]
    assert rising == [(1, B, "Bee Show"), (2, D, None)]
    assert {"podcast_monthly_estimates", "episode_first_30_days", "podcast_trends", "creator_popularity"} <= indexed
    assert types["published_at"] == "TIMESTAMP WITH TIME ZONE"


def test_bad_input_is_refused_and_the_published_store_kept(store: Path) -> None:
    tables = gold_tables()
    tables["podcast_trends"] = tables["podcast_trends"].drop("trend_rank")
    del tables["creator_popularity"]
    expected = r"podcast_trends lacks columns \['trend_rank'\]; table creator_popularity is missing"
    with pytest.raises(ValueError, match=expected):
        publish_serving_store(tables, store)
    with duckdb.connect(str(store), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM podcast_trends").fetchone() == (7,)
    assert [p.name for p in store.parent.iterdir()] == ["serving.duckdb"]


def test_a_failed_build_leaves_no_temporary_file(store: Path) -> None:
    tables = gold_tables()
    tables["podcast_trends"] = tables["podcast_trends"].with_columns(month=tables["podcast_trends"]["podcast_guid"])
    with pytest.raises(duckdb.ConversionException):  # a guid is no month
        publish_serving_store(tables, store)
    assert [p.name for p in store.parent.iterdir()] == ["serving.duckdb"]


def test_an_open_reader_keeps_its_snapshot_and_a_new_one_sees_the_swap(store: Path) -> None:
    before = open_store_readonly(store)
    publish_serving_store(gold_tables(extra_podcast="1" * 8 + "-1111-5111-8111-" + "1" * 12), store)
    after = open_store_readonly(store)
    count = "SELECT count(*) FROM store.podcast_monthly_estimates"
    assert before.execute(count).fetchone() == (10,)
    assert after.execute(count).fetchone() == (11,)


def test_readers_cannot_reach_other_files(store: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("a\n1\n")
    conn = open_store_readonly(store)
    with pytest.raises(duckdb.PermissionException):
        conn.execute(f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")
    with pytest.raises(duckdb.Error):
        conn.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.Error):
        conn.execute("DELETE FROM store.podcasts")


def test_an_unpublished_store_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_store_readonly(tmp_path / "serving.duckdb")
