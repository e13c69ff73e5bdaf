"""Delta IO: predicate overwrites of one window (single, ranged, scoped by provider), reads
of a window across grains, one commit per write, tables other readers can read, and
writers in several processes racing into one new table. ``overwrite_periods`` (the feeds'
write: a Parquet file per period, committed as a transaction) against a model of what
any sequence of writes must leave.

These are the four ways the stock DeltaLakePolarsIOManager was wrong (issue 2): a ranged
overwrite covering only its first partition, a window read filtering ``col = start``, a
write silently replacing the whole table, and missing metadata (tested in test_ingest)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.storage import delta

D = date(2025, 3, 1)


def frame(rows: list[tuple[str, date, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"provider": pl.String, "period_start": pl.Date, "listens": pl.Int64}, orient="row")


def days(n: int, provider: str = "p", listens: int = 1, start: date = D) -> list[tuple[str, date, int]]:
    return [(provider, start + timedelta(days=i), listens) for i in range(n)]


def table(path: str) -> list[tuple]:
    return pl.read_delta(path).sort("provider", "period_start").rows()


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "delta" / "silver" / "t")


def test_missing_table_reads_empty_with_schema(path: str) -> None:
    assert not delta.exists(path) and delta.version(path) is None
    df = delta.read(path, schema={"a": pl.Int64, "b": pl.String})
    assert df.height == 0 and df.schema == pl.Schema({"a": pl.Int64, "b": pl.String})


def test_window_overwrite_replaces_only_its_window(path: str) -> None:
    # five days of 1 listen: 2025-03-01..05
    delta.overwrite_window(path, frame(days(5)), "period_start", D, D + timedelta(days=5))
    assert delta.version(path) == 1  # created empty (version 0), then written
    # rewrite only 2025-03-02 with 9 listens: one commit, the four other days untouched
    delta.overwrite_window(path, frame([("p", D + timedelta(days=1), 9)]), "period_start",
                           D + timedelta(days=1), D + timedelta(days=2))
    assert delta.version(path) == 2
    assert [r[2] for r in table(path)] == [1, 9, 1, 1, 1]


def test_ranged_overwrite_replaces_every_day_of_the_range(path: str) -> None:
    delta.overwrite_window(path, frame(days(6)), "period_start", D, D + timedelta(days=6))
    # a ranged run over 03-02..03-04 (end exclusive 03-05) writing 7s; and dropping 03-03
    new = frame([("p", D + timedelta(days=1), 7), ("p", D + timedelta(days=3), 7)])
    delta.overwrite_window(path, new, "period_start", D + timedelta(days=1), D + timedelta(days=4))
    assert [(r[1].day, r[2]) for r in table(path)] == [(1, 1), (2, 7), (4, 7), (5, 1), (6, 1)]
    assert delta.version(path) == 2  # one atomic commit for the range (after create + first write)


def test_where_scopes_the_overwrite_to_one_provider(path: str) -> None:
    delta.overwrite_window(path, frame(days(2, "a") + days(2, "b")), "period_start", D, D + timedelta(days=2))
    delta.overwrite_window(path, frame(days(2, "b", listens=5)), "period_start", D, D + timedelta(days=2), {"provider": "b"})
    assert table(path) == [("a", D, 1), ("a", D + timedelta(days=1), 1), ("b", D, 5), ("b", D + timedelta(days=1), 5)]


def test_quotes_in_values_are_escaped(path: str) -> None:
    delta.overwrite_window(path, frame(days(1, "o'brien") + days(1, "x")), "period_start", D, D + timedelta(days=1))
    delta.overwrite_window(path, frame(days(1, "o'brien", 3)), "period_start", D, D + timedelta(days=1), {"provider": "o'brien"})
    assert table(path) == [("o'brien", D, 3), ("x", D, 1)]


def test_overwrite_periods_leaves_gaps_alone(path: str) -> None:
    """A ranged run where one day was rejected writes the good days only (IN list)."""
    delta.overwrite_window(path, frame(days(3)), "period_start", D, D + timedelta(days=3))
    delta.overwrite_periods(path, frame([("p", D, 4), ("p", D + timedelta(days=2), 6)]), "period_start",
                            [D, D + timedelta(days=2)])
    assert [r[2] for r in table(path)] == [4, 1, 6]  # 03-02 (not in the list) kept its 1


def files(path: str) -> pl.DataFrame:
    return pl.DataFrame(DeltaTable(path).get_add_actions(flatten=True))


def day(n: int) -> date:
    return D + timedelta(days=n)


def test_overwrite_periods_writes_a_file_per_period_and_replaces_whole_files(path: str) -> None:
    """A restatement of one day removes that day's file and adds its own, in one commit;
    the other days' files stay as they were (no old file is read or rewritten)."""
    delta.overwrite_periods(path, frame(days(3)), "period_start", [day(0), day(1), day(2)])
    before = files(path)
    assert before.height == 3 and before.filter(pl.col("min.period_start") == pl.col("max.period_start")).height == 3
    version = delta.version(path)
    delta.overwrite_periods(path, frame([("p", day(1), 9)]), "period_start", [day(1)])
    after = files(path)
    assert delta.version(path) == version + 1
    assert [r[2] for r in table(path)] == [1, 9, 1]
    kept = set(before.get_column("path")) & set(after.get_column("path"))
    assert kept == set(before.filter(pl.col("min.period_start") != day(1)).get_column("path")) and after.height == 3
    # a period written with no rows ends up with none
    delta.overwrite_periods(path, frame([]), "period_start", [day(2)])
    assert [(r[1].day, r[2]) for r in table(path)] == [(1, 1), (2, 9)]


def test_overwrite_periods_of_one_provider_leave_the_others_files(path: str) -> None:
    for provider in ("a", "b"):
        delta.overwrite_periods(path, frame(days(2, provider)), "period_start", [day(0), day(1)], {"provider": provider})
    a_files = set(files(path).filter(pl.col("min.provider") == "a").get_column("path"))
    delta.overwrite_periods(path, frame(days(2, "b", 5)), "period_start", [day(0), day(1)], {"provider": "b"})
    assert set(files(path).filter(pl.col("min.provider") == "a").get_column("path")) == a_files
    assert table(path) == [("a", day(0), 1), ("a", day(1), 1), ("b", day(0), 5), ("b", day(1), 5)]


def test_both_ways_of_writing_periods_name_their_slice(path: str) -> None:
    """A write that falls back to the predicate (a file of two days holds one of its
    periods) and one that does not both name the provider's slice in their commit, so
    writers of one slice conflict whichever way each of them writes."""
    delta.overwrite_window(path, frame(days(2)), "period_start", D, day(2), {"provider": "p"})
    delta.overwrite_periods(path, frame([("p", D, 3)]), "period_start", [D], {"provider": "p"})  # the predicate way
    delta.overwrite_periods(path, frame([("p", day(2), 4)]), "period_start", [day(2)], {"provider": "p"})
    assert DeltaTable(path).transaction_version('overwrite_periods {"provider": "p"}') == 2
    assert table(path) == [("p", D, 3), ("p", day(1), 1), ("p", day(2), 4)]


def test_overwrite_periods_refuses_rows_outside_its_periods_or_slice(path: str) -> None:
    """Nothing is written: the table and its folder stay as they were."""
    delta.overwrite_periods(path, frame(days(1)), "period_start", [day(0)], {"provider": "p"})
    version, parquet = delta.version(path), sorted(Path(path).glob("*.parquet"))
    with pytest.raises(ValueError, match="rows outside"):
        delta.overwrite_periods(path, frame(days(1, "q")), "period_start", [day(0)], {"provider": "p"})
    with pytest.raises(ValueError, match="not one of the periods"):
        delta.overwrite_periods(path, frame(days(2)), "period_start", [day(0)], {"provider": "p"})
    with pytest.raises(ValueError, match="not one of the periods"):  # a row of no period at all
        delta.overwrite_periods(path, frame([*days(1), ("p", None, 1)]), "period_start", [day(0)], {"provider": "p"})
    assert delta.version(path) == version and sorted(Path(path).glob("*.parquet")) == parquet
    assert table(path) == [("p", D, 1)]


def test_overwrite_periods_refuses_a_frame_of_another_schema(path: str) -> None:
    delta.overwrite_periods(path, frame(days(1)), "period_start", [day(0)])
    with pytest.raises(Exception, match="(?i)schema"):
        delta.overwrite_periods(path, frame(days(1)).with_columns(extra=pl.lit(1)), "period_start", [day(0)])
    assert table(path) == [("p", D, 1)]


WRITES = st.lists(
    st.tuples(
        st.sampled_from(["periods", "periods of every provider", "window"]),
        st.sampled_from(["a", "b"]),
        st.sets(st.integers(0, 4), min_size=1),
        st.integers(0, 9),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=WRITES)
def test_any_sequence_of_writes_leaves_what_a_model_says(tmp_path_factory: pytest.TempPathFactory, writes: list) -> None:
    """Feed writes (a file per period), writes of every provider at once, and window
    writes (one file over several days, which a later feed write must not take whole)
    in any order: the table holds exactly what a dict of (provider, day) -> listens says.
    Some days are written with no rows, which must empty them."""
    path = str(tmp_path_factory.mktemp("model") / "t")
    model: dict[tuple[str, date], int] = {}
    for kind, provider, offsets, listens in writes:
        periods = sorted(day(n) for n in offsets)
        if kind == "window":
            periods = [day(n) for n in range(min(offsets), max(offsets) + 1)]
        providers = ["a", "b"] if kind == "periods of every provider" else [provider]
        rows = [(p, d, listens) for p in providers for d in periods if (d.day + listens + len(p)) % 4]
        for p in providers:
            for d in periods:
                model.pop((p, d), None)
        model.update({(p, d): n for p, d, n in rows})
        if kind == "window":
            delta.overwrite_window(path, frame(rows), "period_start", periods[0], periods[-1] + timedelta(days=1),
                                   {"provider": provider})
        else:
            delta.overwrite_periods(path, frame(rows), "period_start", periods,
                                    None if len(providers) > 1 else {"provider": provider})
        assert table(path) == sorted((p, d, n) for (p, d), n in model.items())


def test_cross_grain_read_gets_the_whole_month(path: str) -> None:
    """Daily rows read with a monthly window: all 31 March days, none of Feb 28 or Apr 1."""
    rows = days(33, start=date(2025, 2, 28))  # 02-28, 03-01..03-31, 04-01
    delta.overwrite_window(path, frame(rows), "period_start", date(2025, 2, 28), date(2025, 4, 2))
    march = delta.read(path, delta.in_window("period_start", date(2025, 3, 1), date(2025, 4, 1)))
    assert march.height == 31
    assert march.get_column("period_start").min() == date(2025, 3, 1)
    assert march.get_column("period_start").max() == date(2025, 3, 31)


def test_replace_and_append(path: str) -> None:
    delta.replace(path, frame(days(3)))
    delta.replace(path, frame(days(1, "q")))
    assert table(path) == [("q", D, 1)]
    delta.append(path, frame(days(1, "r")))
    assert table(path) == [("q", D, 1), ("r", D, 1)]
    assert delta.version(path) == 3  # create, and one commit per write


def test_tables_are_plain_delta_for_other_readers(path: str) -> None:
    """Whether written by delta-rs (a window) or by polars and a transaction (a feed's
    periods): other readers read it, and filter it by the files' statistics."""
    delta.overwrite_window(path, frame(days(2, listens=2)), "period_start", D, D + timedelta(days=2))
    delta.overwrite_periods(path, frame([("p", day(2), 2)]), "period_start", [day(2)])
    DeltaTable(path).create_checkpoint()  # statistics go through a checkpoint as well
    delta.overwrite_periods(path, frame([("p", day(3), 5)]), "period_start", [day(3)])
    assert delta.read(path, pl.col("period_start") == day(3)).rows() == [("p", day(3), 5)]
    assert pl.scan_delta(path).filter(pl.col("period_start") >= day(2)).select(pl.len()).collect().item() == 2
    delta.overwrite_periods(path, frame([]), "period_start", [day(3)])
    dt = DeltaTable(path)
    # delta-rs defaults: no partition columns, protocol readable by any reader
    assert dt.metadata().partition_columns == []
    assert dt.protocol().min_reader_version == 1
    assert_frame_equal(pl.from_arrow(dt.to_pyarrow_table()).sort("period_start"), pl.read_delta(path).sort("period_start"))
    dataset = dt.to_pyarrow_dataset()  # noqa: F841 (read by DuckDB below)
    assert duckdb.sql("select sum(listens) from dataset").fetchall() == [(6,)]  # 3 days x 2


# ---- concurrent writers (real processes: Dagster runs one process per run) ------------
WRITERS = 4


def _write_when_all_ready(barrier: Any, write: str, path: str, df: pl.DataFrame, where: dict[str, str]) -> None:
    barrier.wait()
    if write == "overwrite_window":
        delta.overwrite_window(path, df, "period_start", D, D + timedelta(days=1), where)
    else:
        delta.overwrite_periods(path, df, "period_start", [D], where)


@pytest.fixture(scope="module")
def writers() -> Iterator[tuple[Any, ProcessPoolExecutor]]:
    ctx = multiprocessing.get_context("spawn")  # delta-rs's runtime does not survive a fork
    with ctx.Manager() as manager, ProcessPoolExecutor(WRITERS, mp_context=ctx) as pool:
        yield manager, pool


def _race(writers: tuple[Any, ProcessPoolExecutor], write: str, path: str,
          jobs: list[tuple[pl.DataFrame, dict[str, str]]]) -> None:
    """Start every write at the same moment (a barrier) and wait for all of them."""
    manager, pool = writers
    barrier = manager.Barrier(len(jobs), timeout=60)
    for future in [pool.submit(_write_when_all_ready, barrier, write, path, df, where) for df, where in jobs]:
        future.result()


RACING_WRITES = ["overwrite_window", "overwrite_periods"]


@pytest.mark.parametrize("write", RACING_WRITES)
@pytest.mark.parametrize("trial", range(6))
def test_racing_deliveries_of_one_day_into_a_new_table_leave_one_of_them(
    writers: tuple[Any, ProcessPoolExecutor], tmp_path: Path, trial: int, write: str
) -> None:
    """Four runs writing the same day of a table nobody has created yet (a redelivery
    while the first delivery is still being ingested): the day ends up holding exactly
    one delivery's rows, never two of them added together. (Creating the table with the
    first rows kept every racer's rows in about half of such races; the feeds' write
    without its slice's transaction id kept two deliveries in one race of twelve.)"""
    path = str(tmp_path / "t")
    _race(writers, write, path, [(frame([("p", D, n)] * 100), {"provider": "p"}) for n in range(1, WRITERS + 1)])
    rows = pl.read_delta(path)
    assert rows.height == 100 and rows.get_column("listens").n_unique() == 1


@pytest.mark.parametrize("write", RACING_WRITES)
@pytest.mark.parametrize("trial", range(3))
def test_racing_providers_into_a_new_table_all_land(
    writers: tuple[Any, ProcessPoolExecutor], tmp_path: Path, trial: int, write: str
) -> None:
    """Four providers' runs writing their slice of one new shared table at once: each slice
    lands, once (a commit conflict is retried, not lost)."""
    path = str(tmp_path / "t")
    _race(writers, write, path, [(frame(days(1, f"p{n}", n) * 10), {"provider": f"p{n}"}) for n in range(WRITERS)])
    assert pl.read_delta(path).group_by("provider").agg(pl.col("listens").sum()).sort("provider").rows() == [
        (f"p{n}", 10 * n) for n in range(WRITERS)
    ]
