"""``estimate_first_30_days``: a hand-worked episode and properties."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.estimators import FIRST30_SCHEMA, ProviderInfo, estimate_first_30_days
from podcast_assets_tests.estimators.frames import FIVE, coverage, days, episodes, listens, shuffled, utc

MARCH = date(2025, 3, 1)
PROVIDERS = [
    ProviderInfo("A", "daily", "episode"),
    ProviderInfo("C", "daily", "podcast"),
    ProviderInfo("D", "monthly", "podcast"),
    ProviderInfo("E", "monthly", "episode"),
]
EPISODES = episodes(
    [
        ("P", "X", utc(2025, 3, 20, 12)),  # the episode: window [Mar 20 12:00, Apr 19 12:00)
        ("P", "Y", utc(2024, 6, 1)),  # P's back catalog
        ("W", "Z", utc(2024, 1, 1)),  # another show's back catalog
    ]
)


def _world(until: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily data up to the day before ``until``, monthly files for months ended by then.

    A (daily, episode): X gets 12 on its publication day and 6 every day after; Y gets 6
    a day; Z fills A's daily total up to 18, so A's week is flat and the weekday profile 1.
    C (daily, podcast): P gets 10 a day. D (monthly, podcast): P 100 in March, 90 in April.
    E (monthly, episode): X 40 in March, 60 in April.
    """
    rows, cov = [], []
    for d in days(MARCH, min(until - timedelta(days=1), date(2025, 5, 31))):
        x = 12 if d == date(2025, 3, 20) else 6 if d > date(2025, 3, 20) else 0
        rows += [("A", "P", "X", d, "day", x), ("A", "P", "Y", d, "day", 6), ("A", "W", "Z", d, "day", 18 - x - 6)]
        rows.append(("C", "P", None, d, "day", 10))
        cov += [("A", d, "day"), ("C", d, "day")]
    for month, dune, ember in ((MARCH, 100, 40), (date(2025, 4, 1), 90, 60)):
        if (month.replace(day=28) + timedelta(days=4)).replace(day=1) <= until:
            rows += [("D", "P", None, month, "month", dune), ("E", "P", "X", month, "month", ember)]
            cov += [("D", month, "month"), ("E", month, "month")]
    return listens(r for r in rows if r[-1] > 0), coverage(cov)


def test_hand_worked_window() -> None:
    rows, cov = _world(until=date(2025, 5, 1))
    out = estimate_first_30_days(rows, cov, PROVIDERS, EPISODES, MARCH, as_of=date(2025, 5, 1))
    assert out.schema == pl.Schema(FIRST30_SCHEMA)  # (what a gold table not written yet reads as)
    assert out["episode_guid"].to_list() == ["X"]  # only episodes published in March
    x = out.row(0, named=True)
    # Decay curve from A: X's listens halve from age 0 to 1 (12 -> 6), then stay: ratios
    # 0.5, 1, 1, ... so decay = 1, 0.5, 0.5, ... (Y and Z are older than 62 days: unused).
    # Window: ages 0..29 whole, age 30 (Apr 19) until 12:00, i.e. half of it.
    # A: 12 + 29 x 6 + 0.5 x 6 = 189.
    # Podcast-grain counts are shared out by what all episode-grain providers saw (A and
    # E). E's month totals are spread over the month's days by decay x weekday weight: in
    # March X (published Mar 20) has mass 1 + 11 x 0.5 = 6.5, so 40 / 6.5 on Mar 20 and
    # 40 x 0.5 / 6.5 on each later March day (the 40 all fall in the window); in April 60 / 30 = 2
    # a day, 18 x 2 + 0.5 x 2 = 37 of it in the window. E reports only X, so E's P is X.
    # C: P's 10 a day over the window, 30.5 x 10 = 305, times X's share of P at A and E
    #    over the same days: (189 + 77) / (189 + 30.5 x 6 + 77) = 266 / 449
    #    ->  305 x 266 / 449 = 180.6904.
    # E: March holds ages 0..11, all in the window: 40. April holds ages 12..41, decay mass
    #    30 x 0.5 = 15, of which the window has 18 x 0.5 + 0.5 x 0.5 = 9.25: 60 x 9.25 / 15 = 37.
    #    E = 77.
    # D: March: 100 x (X's window listens at A and E in March, 12 + 11 x 6 + 40 = 118) /
    #    (P's March at A and E, 78 + 31 x 6 + 40 = 304) = 38.8158; April: 90 x (X's window
    #    part, 18 x 6 + 0.5 x 6 + 37 = 148) / (30 x 6 + 30 x 6 + 60 = 420) = 31.7143.
    #    D = 70.5301.
    # (189 + 180.6904 + 77 + 70.5301) / (4 x 0.1) = 1293.051.
    expected = (189 + 305 * 266 / 449 + 77 + 100 * 118 / 304 + 90 * 148 / 420) / 0.4
    assert x["estimated_listens_30d"] == pytest.approx(expected)
    assert x["estimated_listens_30d"] == pytest.approx(1293.051, abs=1e-3)
    assert x["window_complete"] is True
    assert x["providers_in_estimate"] == 4
    assert x["coverage"] == pytest.approx(1.0)
    assert x["estimate_low"] <= x["estimated_listens_30d"] <= x["estimate_high"]
    assert x["published_at"] == utc(2025, 3, 20, 12)


def test_hand_worked_window_in_progress() -> None:
    # On April 10: daily data to April 9 (ages 0..20), March files only.
    rows, cov = _world(until=date(2025, 4, 10))
    x = estimate_first_30_days(rows, cov, PROVIDERS, EPISODES, MARCH, as_of=date(2025, 4, 10)).row(0, named=True)
    # Window decay mass: 1 + 29 x 0.5 + 0.5 x 0.5 = 15.75; landed days hold 1 + 20 x 0.5 = 11.
    # A: 12 + 20 x 6 = 132 over 11/15.75 of the mass -> 132 x 15.75 / 11 = 189 (the curve fits).
    # C: shared by A and E (E's March spread over its days: all 40 on Mar 20..31, nothing
    #    of April landed): 21 x 10 = 210 x (132 + 40) / (132 + 21 x 6 + 40) = 121.208,
    #    projected x 15.75 / 11 = 173.548.
    # E: March only, 40 over mass 6.5 of 15.75 -> 40 x 15.75 / 6.5 = 96.923.
    # D: March only, 100 x (78 + 40) / (264 + 40) = 38.816 -> x 15.75 / 6.5 = 94.054.
    expected = (189 + 210 * 172 / 298 * 15.75 / 11 + 40 * 15.75 / 6.5 + 100 * 118 / 304 * 15.75 / 6.5) / 0.4
    assert x["estimated_listens_30d"] == pytest.approx(expected)
    assert x["window_complete"] is False
    # Landed: (0.1 x 11 + 0.1 x 11 + 0.1 x 6.5 + 0.1 x 6.5) / 15.75 / 0.4
    assert x["coverage"] == pytest.approx(35 / 15.75 / 4)


def test_a_day_without_listens_does_not_end_the_decay_curve() -> None:
    """X (published Mar 10, 00:00) gets 10 listens a day at A, except none on Mar 13 (age
    3); Z, an old episode, fills A's day up to 10 so the week is flat. On Mar 22, A has
    landed Mar 10..19. Ratios: 1, 1, then 0 / 10 and 10 / 0 (no information: the ratio
    before repeats), then 1: the curve is flat. The window is 30 whole days (published at
    midnight), 10 of them landed holding 90 listens: 90 x 30 / 10 = 270, / 0.1 = 2700.
    A zero ratio would make every age from 3 on weigh nothing, and the estimate 900."""
    rows = [("A", "P", "X", d, "day", 0 if d == date(2025, 3, 13) else 10) for d in days(date(2025, 3, 10), date(2025, 3, 19))]
    rows += [("A", "W", "Z", date(2025, 3, 13), "day", 10)]
    cov = coverage([("A", d, "day") for d in days(date(2025, 3, 10), date(2025, 3, 19))])
    pub = episodes([("P", "X", utc(2025, 3, 10)), ("W", "Z", utc(2024, 1, 1))])
    out = estimate_first_30_days(listens(r for r in rows if r[-1] > 0), cov, PROVIDERS[:1], pub, MARCH,
                                 as_of=date(2025, 3, 22))
    assert out["estimated_listens_30d"].to_list() == pytest.approx([2700.0])


def test_a_rising_last_ratio_is_not_repeated_beyond_the_data() -> None:
    """X (published Mar 10, 00:00) gets 10, 10, 10, 20 listens at A on ages 0..3, the last
    landed day (Z fills A's days up to 20: a flat week). Ratios 1, 1, 2; ages after 3 have
    no data and repeat the last ratio at most 1, so decay = 1, 1, 1, 2, 2, ... The 30-day
    window holds mass 3 + 27 x 2 = 57, the landed days 5 with 50 listens: 50 x 57 / 5 =
    570, / 0.1 = 5700. Repeating the 2 would double every later age: an estimate in the
    billions."""
    seen = dict(zip(days(date(2025, 3, 10), date(2025, 3, 13)), (10, 10, 10, 20)))
    rows = [("A", "P", "X", d, "day", n) for d, n in seen.items()]
    rows += [("A", "W", "Z", d, "day", 20 - n) for d, n in seen.items()]
    cov = coverage([("A", d, "day") for d in seen])
    pub = episodes([("P", "X", utc(2025, 3, 10)), ("W", "Z", utc(2024, 1, 1))])
    out = estimate_first_30_days(listens(r for r in rows if r[-1] > 0), cov, PROVIDERS[:1], pub, MARCH,
                                 as_of=date(2025, 3, 14))
    assert out["estimated_listens_30d"].to_list() == pytest.approx([5700.0])


def test_no_estimate_when_only_podcast_grain_providers_saw_the_podcast() -> None:
    """C counts 10 a day for P, but A (episode grain) saw none of P's episodes (its show
    is not mapped there, say): nothing to share C's count out by. A's zero for X is no
    evidence that X had no listens, so X has no estimate rather than 0 with a tight
    interval. V, of a show A does see, keeps its estimate: A counts 20 in the window and C
    none of Q (so a 0 it can share out), (20 + 0) / (0.1 + 0.1) = 100."""
    april = date(2025, 4, 30)
    rows = [("C", "P", None, d, "day", 10) for d in days(MARCH, april)]
    rows += [("A", "Q", "V", date(2025, 3, 10), "day", 20)]
    cov = coverage([(p, d, "day") for p in ("A", "C") for d in days(MARCH, april)])
    pub = episodes([("P", "X", utc(2025, 3, 10)), ("Q", "V", utc(2025, 3, 10))])
    out = estimate_first_30_days(listens(rows), cov, PROVIDERS[:2], pub, MARCH, as_of=date(2025, 5, 1))
    x, v = out.row(0, named=True), out.row(1, named=True)
    assert (x["episode_guid"], x["estimated_listens_30d"], x["estimate_low"], x["estimate_high"]) == ("X", None, None, None)
    assert x["window_complete"] is True  # its data has landed; it just cannot be attributed
    assert v["episode_guid"] == "V" and v["estimated_listens_30d"] == pytest.approx(100.0)


def test_window_not_complete_until_ended_and_landed() -> None:
    rows, cov = _world(until=date(2025, 5, 1))
    # Everything has landed, but on April 19 the window (to 12:00) has not ended.
    def complete(landed: pl.DataFrame, as_of: date) -> bool:
        return estimate_first_30_days(rows, landed, PROVIDERS, EPISODES, MARCH, as_of)["window_complete"][0]

    assert not complete(cov, date(2025, 4, 19))
    # Ended, but one day of C inside the window is missing.
    gap = cov.filter(~((pl.col("provider") == "C") & (pl.col("period_start") == date(2025, 4, 2))))
    assert not complete(gap, date(2025, 5, 1))
    # A missing day after the window does not matter.
    late = cov.filter(~((pl.col("provider") == "C") & (pl.col("period_start") == date(2025, 4, 20))))
    assert complete(late, date(2025, 5, 1))


def test_a_window_ends_exactly_30_days_after_publication() -> None:
    """Published at midnight: the window is [Mar 20 00:00, Apr 19 00:00), so it has ended
    as of Apr 19 (midnight) and not as of Apr 18, with everything landed either way."""
    rows, cov = _world(until=date(2025, 5, 1))
    at_midnight = episodes([("P", "X", utc(2025, 3, 20))])

    def complete(as_of: date) -> bool:
        return estimate_first_30_days(rows, cov, PROVIDERS, at_midnight, MARCH, as_of)["window_complete"][0]

    assert (complete(date(2025, 4, 18)), complete(date(2025, 4, 19))) == (False, True)


def test_episode_with_nothing_landed_has_null_estimate() -> None:
    rows, cov = _world(until=date(2025, 5, 1))
    fresh = pl.concat([EPISODES, episodes([("P", "N", utc(2025, 3, 31, 23))])])
    # On March 31 no monthly file is in and daily data stops at March 30: nothing of N's
    # window (from March 31 23:00) has landed.
    landed = cov.filter(pl.col("period_grain") == "day", pl.col("period_start") < date(2025, 3, 31))
    out = estimate_first_30_days(rows, landed, PROVIDERS, fresh, MARCH, date(2025, 3, 31))
    n = out.filter(pl.col("episode_guid") == "N").row(0, named=True)
    assert (n["estimated_listens_30d"], n["providers_in_estimate"], n["window_complete"]) == (None, 0, False)


# ---- properties ----------------------------------------------------------------------------

FEB = date(2025, 2, 1)
DATA_DAYS = days(FEB, date(2025, 4, 30))
MONTHS = [FEB, date(2025, 3, 1), date(2025, 4, 1)]
World = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]  # listens, coverage, episodes


@st.composite
def world(draw: st.DrawFn) -> World:
    """Random episodes of two shows published in February (plus a January one each), and
    random listens and coverage of the five providers for February to April 2025."""
    eps = [("P", "P0", utc(2025, 1, 15, 8)), ("Q", "Q0", utc(2025, 1, 20, 18))]
    for show in ("P", "Q"):
        for i in range(draw(st.integers(1, 3))):
            at = utc(2025, 2, draw(st.integers(1, 28)), draw(st.integers(0, 23)), draw(st.integers(0, 59)))
            eps.append((show, f"{show}{i + 1}", at))
    episode_ids = [(p, e) for p, e, _ in eps]
    rows: list[tuple[str, str | None, str | None, date, str, int]] = []
    cov: list[tuple[str, date, str]] = []
    for p in FIVE:
        periods = MONTHS if p.cadence == "monthly" else DATA_DAYS
        grain = "month" if p.cadence == "monthly" else "day"
        landed = draw(st.sets(st.sampled_from(periods)))
        cov += [(p.name, d, grain) for d in landed]
        keys = episode_ids if p.grain == "episode" else [("P", None), ("Q", None)]
        cell = st.tuples(st.sampled_from(keys), st.sampled_from(periods), st.integers(0, 60))
        cells = draw(st.lists(cell, max_size=40))
        seen = set()
        for (show, episode), period, n in cells:
            if (show, episode, period) not in seen:
                seen.add((show, episode, period))
                rows.append((p.name, show, episode, period, grain, n))
    return listens(rows), coverage(cov), episodes(eps)


AS_OF = st.sampled_from([date(2025, 2, 20), date(2025, 3, 15), date(2025, 5, 1)])
PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(world(), AS_OF, st.integers(0, 2**16))
def test_row_order_changes_nothing(data: World, as_of: date, seed: int) -> None:
    rows, cov, eps = data
    expected = estimate_first_30_days(rows, cov, FIVE, eps, FEB, as_of)
    providers = list(reversed(FIVE))
    rows, cov, eps = shuffled(rows, seed), shuffled(cov, seed + 1), shuffled(eps, seed + 2)
    got = estimate_first_30_days(rows, cov, providers, eps, FEB, as_of)
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9)


@PROPS
@given(world(), AS_OF)
def test_interval_contains_estimate(data: World, as_of: date) -> None:
    rows, cov, eps = data
    out = estimate_first_30_days(rows, cov, FIVE, eps, FEB, as_of)
    assert out.height == eps.filter(pl.col("published_at") >= utc(2025, 2, 1)).height
    for r in out.filter(pl.col("estimated_listens_30d").is_not_null()).iter_rows(named=True):
        assert 0 <= r["estimate_low"] <= r["estimated_listens_30d"] <= r["estimate_high"]


@PROPS
@given(world(), AS_OF, st.integers(2, 9))
def test_scaling_listens_scales_estimates(data: World, as_of: date, k: int) -> None:
    rows, cov, eps = data
    base = estimate_first_30_days(rows, cov, FIVE, eps, FEB, as_of)
    scaled = estimate_first_30_days(rows.with_columns(pl.col("listens") * k), cov, FIVE, eps, FEB, as_of)
    for a, b in zip(base["estimated_listens_30d"], scaled["estimated_listens_30d"]):
        assert (a is None and b is None) or b == pytest.approx(k * a, rel=1e-9, abs=1e-9)
