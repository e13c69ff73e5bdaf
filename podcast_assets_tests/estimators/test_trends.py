"""``score_trends``: a hand-worked month and properties."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.estimators import TREND_MONTHS, TREND_SCHEMA, score_trends
from podcast_assets.estimators.trends import NOISE_PRIOR_DF, NOISE_PRIOR_SD, RISING_Z
from podcast_assets_tests.estimators.frames import shuffled

JUNE = date(2025, 6, 1)
MONTHS = [date(2025, m, 1) for m in range(1, 7)]


def _history(series: dict[str, list[float | None]], observed_fraction: float = 0.5) -> pl.DataFrame:
    """Monthly estimates ending in June; None = no row that month."""
    rows = [
        (month, guid, value, round(value * observed_fraction), 0.0)
        for guid, values in series.items()
        for month, value in zip(MONTHS[-len(values) :], values)
        if value is not None
    ]
    return pl.DataFrame(
        rows,
        schema={
            "month": pl.Date,
            "podcast_guid": pl.String,
            "estimated_listens": pl.Float64,
            "observed_listens": pl.Int64,
            "projection_sd": pl.Float64,
        },
        orient="row",
    )


def test_hand_worked_month() -> None:
    assert TREND_MONTHS == 6
    big = 1e8  # so big that Poisson noise (1 / observed ~ 2e-8) is negligible
    history = _history(
        {
            "A": [big * 1.2**i for i in range(6)],  # +20% a month
            "B": [big * 0.9**i for i in range(6)],  # -10% a month
            "C": [5 * big],  # new this month
        }
    )
    out = score_trends(history, JUNE)
    assert out.schema == pl.Schema(TREND_SCHEMA)  # (what a gold table not written yet reads as)
    got = {r["podcast_guid"]: r for r in out.iter_rows(named=True)}
    # A and B lie exactly on lines: residuals 0. Month-to-month noise pooled over them
    # (4 df each) with the prior (0.15^2, 10 df): (0 + 10 x 0.0225) / (8 + 10) = 0.0125.
    noise = NOISE_PRIOR_DF * NOISE_PRIOR_SD**2 / (8 + NOISE_PRIOR_DF)
    assert noise == pytest.approx(0.0125)
    # Equal weights 1 / 0.0125 = 80 on t = -5..0: Sxx = 80 x 17.5 = 1400, se = sqrt(1/1400) = 0.026726.
    se = math.sqrt(1 / 1400)
    assert got["A"]["growth_se"] == pytest.approx(se, rel=1e-6)
    # Slopes: ln 1.2 and ln 0.9, also after leaving any month out (robust = plain slope).
    # Shrinkage 0.1^2 / (0.1^2 + 1/1400) = 14/15: A scores 1.2^(14/15) - 1 = 0.18550,
    # B scores 0.9^(14/15) - 1 = -0.09359.
    assert got["A"]["trend_score"] == pytest.approx(1.2 ** (14 / 15) - 1, rel=1e-6)
    assert got["A"]["trend_score"] == pytest.approx(0.18550, abs=1e-5)
    assert got["B"]["trend_score"] == pytest.approx(0.9 ** (14 / 15) - 1, rel=1e-6)
    assert got["A"]["growth_raw"] == pytest.approx(0.2)
    # A is rising: 0.1855 >= 0.12 and ln 1.2 - 1.645 x 0.026726 = 0.1384 > 0. B is not.
    assert math.log(1.2) - RISING_Z * se == pytest.approx(0.1384, abs=1e-4)
    assert (got["A"]["is_rising"], got["B"]["is_rising"], got["C"]["is_rising"]) == (True, False, False)
    # C has one month: no growth to speak of, score 0. Ranks: A, B (-0.094), then C, which
    # has fewer than TREND_MIN_MONTHS months and so ranks after every longer history.
    assert (got["C"]["trend_score"], got["C"]["months_used"], got["C"]["growth_raw"]) == (0.0, 1, None)
    assert [got[g]["trend_rank"] for g in "ABC"] == [1, 2, 3]
    assert all(r["month"] == JUNE and r["estimated_listens"] > 0 for r in got.values())


def test_two_points_do_not_outrank_a_steady_riser() -> None:
    """J has January and June only (x100: the slope through two points says +151% a
    month); D doubles steadily every month. J's score is higher, but with fewer than
    TREND_MIN_MONTHS months it ranks after D, and is not rising."""
    history = _history({"J": [1e3, None, None, None, None, 1e5], "D": [1e4 * 2**i for i in range(6)]})
    got = {r["podcast_guid"]: r for r in score_trends(history, JUNE).iter_rows(named=True)}
    assert got["J"]["months_used"] == 2 and got["J"]["trend_score"] > got["D"]["trend_score"]
    assert (got["D"]["trend_rank"], got["J"]["trend_rank"]) == (1, 2)
    assert (got["D"]["is_rising"], got["J"]["is_rising"]) == (True, False)


def test_ranks_have_no_gaps_when_a_long_history_has_no_estimate_this_month() -> None:
    """N has five months but no June estimate yet (null: no score, no rank); the ranks of
    the scored ones run 1, 2 without a gap where N would have been."""
    history = _history({"D": [1e4 * 2**i for i in range(6)], "N": [1e4] * 5 + [None], "J": [1e3, None, None, None, None, 1e5]})
    history = pl.concat([history, _history({"N": [0.0]}).with_columns(pl.lit(None, pl.Float64).alias("estimated_listens"))])
    got = {r["podcast_guid"]: r for r in score_trends(history, JUNE).iter_rows(named=True)}
    assert (got["D"]["trend_rank"], got["J"]["trend_rank"], got["N"]["trend_rank"]) == (1, 2, None)
    assert got["N"]["trend_score"] is None and got["N"]["months_used"] == 5


def test_rising_needs_a_margin_above_ten_percent_a_month() -> None:
    # Two big shows exactly on their lines: noise 0.0125 and shrinkage 14/15 as above.
    # +11% a month scores 1.11^(14/15) - 1 = 0.1023: growing, but under RISING_MIN_GROWTH
    # (0.12); +14% scores 1.14^(14/15) - 1 = 0.1301 and its slope is clear
    # (ln 1.14 - 1.645 x 0.026726 = 0.0871 > 0): rising.
    big = 1e8
    history = _history({"S": [big * 1.11**i for i in range(6)], "F": [big * 1.14**i for i in range(6)]})
    got = {r["podcast_guid"]: r for r in score_trends(history, JUNE).iter_rows(named=True)}
    assert got["S"]["trend_score"] == pytest.approx(0.1023, abs=1e-4)
    assert got["F"]["trend_score"] == pytest.approx(0.1301, abs=1e-4)
    assert (got["S"]["is_rising"], got["F"]["is_rising"]) == (False, True)


def test_one_spike_does_not_make_a_riser() -> None:
    # Flat for five months, then one month three times as big (say a star guest): the plain
    # slope says ln 3 x 2.5 / 17.5 = 0.157 (+17% a month), but dropping that month leaves
    # no growth at all.
    history = _history({"S": [1e6] * 5 + [3e6], "A": [1e6 * 1.3**i for i in range(6)]})
    got = {r["podcast_guid"]: r for r in score_trends(history, JUNE).iter_rows(named=True)}
    assert got["S"]["growth_raw"] == pytest.approx(3 ** (2.5 / 17.5) - 1, rel=1e-4)  # weights differ by 1e-6
    assert got["S"]["trend_score"] == pytest.approx(0.0, abs=1e-9)
    assert (got["S"]["is_rising"], got["A"]["is_rising"]) == (False, True)


def test_months_outside_the_window_are_ignored() -> None:
    history = _history({"A": [1e6 * 1.3**i for i in range(6)]})
    older = history.with_columns(pl.col("month").dt.offset_by("-6mo"), pl.lit(1.0).alias("estimated_listens"))
    assert_frame_equal(score_trends(pl.concat([older, history]), JUNE), score_trends(history, JUNE))


# ---- properties ----------------------------------------------------------------------------

VALUE = st.floats(1.0, 1e7)


@st.composite
def histories(draw: st.DrawFn) -> tuple[pl.DataFrame, set[str]]:
    """Random shows; those named ``down*`` never go up from one month to the next."""
    series: dict[str, list[float | None]] = {}
    for i in range(draw(st.integers(1, 5))):
        steps = draw(st.lists(st.floats(0.3, 1.0), min_size=0, max_size=5))
        level = draw(VALUE)
        series[f"down{i}"] = [level * math.prod(steps[:j]) for j in range(len(steps) + 1)]
    for i in range(draw(st.integers(0, 5))):
        series[f"any{i}"] = draw(st.lists(st.one_of(st.none(), VALUE), min_size=1, max_size=6))
    history = _history(series, observed_fraction=draw(st.sampled_from([0.01, 0.3, 1.0])))
    return history, {g for g in series if g.startswith("down")}


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(histories())
def test_steady_or_declining_is_never_rising(data: tuple[pl.DataFrame, set[str]]) -> None:
    history, down = data
    out = score_trends(history, JUNE)
    flagged = set(out.filter(pl.col("is_rising"))["podcast_guid"])
    assert not flagged & down
    assert all(s is None or s <= 1e-9 for s in out.filter(pl.col("podcast_guid").is_in(list(down)))["trend_score"])


@PROPS
@given(histories(), st.integers(0, 2**16))
def test_row_order_changes_nothing(data: tuple[pl.DataFrame, set[str]], seed: int) -> None:
    history, _ = data
    expected = score_trends(history, JUNE)
    assert_frame_equal(score_trends(shuffled(history, seed), JUNE), expected, check_exact=False, rel_tol=1e-9)


def test_a_podcast_that_fell_to_zero_is_not_rising() -> None:
    """Z doubled for five months, then June's estimate is 0 (a landed provider's row of 0
    listens): nothing to grow from, so no score and no rank, and R, rising steadily,
    is first."""
    history = _history({"Z": [1e4 * 2**i for i in range(5)] + [0.0], "R": [1e4 * 1.5**i for i in range(6)]})
    got = {r["podcast_guid"]: r for r in score_trends(history, JUNE).iter_rows(named=True)}
    assert (got["Z"]["trend_score"], got["Z"]["trend_rank"], got["Z"]["is_rising"]) == (None, None, False)
    assert (got["R"]["trend_rank"], got["R"]["is_rising"]) == (1, True)


@pytest.mark.parametrize("observed_fraction", [0.01, 0.3, 1.0])
def test_twin_series_rank_alike_whatever_the_row_order(observed_fraction: float) -> None:
    """Two podcasts with the same history get scores equal to the last bit however the rows
    come (a sum taken in row order could differ in its last bit between the twins and swap
    their ranks; hypothesis found this history)."""
    twins = [8698005.100463558, 9611247.014751973, 8698005.100463558, 1.0]
    history = _history({"twin-a": twins, "twin-b": twins, "down0": [6120019.284232945], "down1": [2.0]},
                       observed_fraction=observed_fraction)
    expected = score_trends(history, JUNE)
    for seed in range(100):
        assert_frame_equal(score_trends(shuffled(history, seed), JUNE), expected)
