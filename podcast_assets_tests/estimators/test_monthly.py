"""``estimate_monthly``: hand-worked examples and properties."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.estimators import MONTHLY_SCHEMA, ProviderInfo, estimate_monthly
from podcast_assets_tests.estimators.frames import FIVE, coverage, daily_coverage, days, listens, shuffled

MARCH = date(2025, 3, 1)
PROVIDERS = [
    ProviderInfo("day", "daily", "episode", 0.10),
    ProviderInfo("inst", "instant", "episode", 0.10),
    ProviderInfo("mon", "monthly", "podcast", 0.20),
    ProviderInfo("late", "monthly", "episode", 0.10),
]


def _march() -> tuple[pl.DataFrame, pl.DataFrame]:
    """March 2025 on 2025-03-16: ``day`` has every day, ``inst`` the first 14 (its 15th
    and 16th are within the grace period, not landed, though some listens are in),
    ``mon`` has delivered, ``late`` has not. Every provider's daily total is constant, so
    the weekday profile is flat."""
    rows = [("day", "P", "p1", d, "day", 2) for d in days(MARCH, date(2025, 3, 31))]
    rows += [("inst", "P", "p1", d, "day", 3) for d in days(MARCH, date(2025, 3, 14))]
    rows += [
        ("inst", "P", "p1", date(2025, 3, 15), "day", 5),  # not landed yet
        ("inst", "R", "r1", date(2025, 3, 16), "day", 4),  # not landed yet
        ("mon", "P", None, MARCH, "month", 150),
        ("mon", "Q", None, MARCH, "month", 20),
        ("mon", None, None, MARCH, "month", 7),  # unmapped: in no estimate
    ]
    cov = daily_coverage("day", MARCH, date(2025, 3, 31)) + daily_coverage("inst", MARCH, date(2025, 3, 14))
    cov.append(("mon", MARCH, "month"))
    return listens(rows), coverage(cov)


def test_hand_worked_month_in_progress() -> None:
    rows, cov = _march()
    out = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 3, 16))
    assert out.schema == pl.Schema(MONTHLY_SCHEMA)  # (what a gold table not written yet reads as)
    got = {r["podcast_guid"]: r for r in out.iter_rows(named=True)}
    # Reporting providers: day (whole month), inst (14 of 31 days, flat week: 14/31),
    # mon (delivered). late has not delivered: out of both sums. Shares 0.1 + 0.1 + 0.2 = 0.4.
    # P: day 31 x 2 = 62; inst 14 x 3 = 42 on landed days -> 42 / (14/31) = 93
    #    (>= the 47 it sent); mon 150.  (62 + 93 + 150) / 0.4 = 762.5.
    #    observed = 62 + (42 + 5) + 150 = 259.
    assert got["P"]["estimated_listens"] == pytest.approx(762.5)
    assert got["P"]["observed_listens"] == 259
    assert got["P"]["providers_reporting"] == 3
    # Q: only mon saw it; day and inst landed and counted 0: (0 + 0 + 20) / 0.4 = 50.
    assert got["Q"]["estimated_listens"] == pytest.approx(50.0)
    assert (got["Q"]["observed_listens"], got["Q"]["providers_reporting"]) == (20, 1)
    # R: inst's 4 listens are on a day not landed: projection from landed days is 0, but
    # inst sent 4, so its count is max(0, 4) = 4: 4 / 0.4 = 10.
    assert got["R"]["estimated_listens"] == pytest.approx(10.0)
    assert got["R"]["observed_listens"] == 4
    for r in got.values():
        assert r["providers_in_estimate"] == 3
        assert r["status"] == "preliminary"
        # (0.1 x 1 + 0.1 x 14/31 + 0.2 x 1) / (0.1 + 0.1 + 0.2 + 0.1)
        assert r["coverage"] == pytest.approx((0.3 + 0.1 * 14 / 31) / 0.5)
        assert r["estimate_low"] <= r["estimated_listens"] <= r["estimate_high"]
        assert r["estimate_low"] >= r["observed_listens"]
        assert r["month"] == MARCH


def test_weekday_aware_projection() -> None:
    # February 2026 is exactly four weeks (Sun 1st .. Sat 28th). ``day`` has them all:
    # 10 listens on weekdays, 5 on weekends (20 x 10 + 8 x 5 = 240). ``inst`` has only
    # Mon 2nd .. Fri 6th, 2 listens each (10).
    feb = date(2026, 2, 1)
    rows = [("day", "P", "e", d, "day", 5 if d.isoweekday() >= 6 else 10) for d in days(feb, date(2026, 2, 28))]
    rows += [("inst", "P", "e", d, "day", 2) for d in days(date(2026, 2, 2), date(2026, 2, 6))]
    cov = daily_coverage("day", feb, date(2026, 2, 28)) + daily_coverage("inst", date(2026, 2, 2), date(2026, 2, 6))
    providers = PROVIDERS[:2]
    out = estimate_monthly(listens(rows), coverage(cov), providers, feb, as_of=date(2026, 2, 7))
    # Weekday fit: weekdays are 2x weekends for both providers; mean 1 gives 7/6 and 7/12.
    # Shrunk toward 1 with 4 dates each plus 1 prior day: (4 x 7/6 + 1) / 5 = 17/15 and
    # (4 x 7/12 + 1) / 5 = 2/3 (still mean 1). The month weighs 4 x 7 = 28, inst's five
    # weekdays 5 x 17/15 = 17/3, so inst's landed fraction is (17/3) / 28 = 17/84 and its
    # projection 10 / (17/84) = 840/17 = 49.41 (a plain day count would say 10 x 28/5 = 56;
    # the true pattern gives 4 weeks x 12 = 48).  (240 + 840/17) / 0.2 = 24600/17.
    assert out["estimated_listens"][0] == pytest.approx(24600 / 17)
    assert out["observed_listens"][0] == 250


def _march_landed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """``_march`` with every provider's March landed, and mon's unmapped listens mapped
    away (dropped)."""
    rows, cov = _march()
    cov = pl.concat(
        [cov, coverage(daily_coverage("inst", date(2025, 3, 15), date(2025, 3, 31)) + [("late", MARCH, "month")])]
    )
    return rows.filter(pl.col("podcast_guid").is_not_null()), cov


def test_final_only_when_everything_landed_and_month_over() -> None:
    rows, cov = _march_landed()
    final = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 4, 1))
    assert final["status"].unique().to_list() == ["final"]
    last_day = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 3, 31))
    assert last_day["status"].unique().to_list() == ["preliminary"]
    assert final["coverage"].to_list() == pytest.approx([1.0] * final.height)
    assert final["projection_sd"].to_list() == pytest.approx([0.0] * final.height)


def test_listens_waiting_for_a_show_mapping_keep_a_month_preliminary() -> None:
    """Everything landed and the month is over, but 7 of mon's listens belong to a show
    its directory does not map yet: once mapped they raise some podcast's estimate, so
    the month is not final. The estimates themselves are those of the mapped rows."""
    rows, cov = _march_landed()
    waiting = pl.concat([rows, listens([("mon", None, None, MARCH, "month", 7)])])
    out = estimate_monthly(waiting, cov, PROVIDERS, MARCH, as_of=date(2025, 4, 1))
    assert out["status"].unique().to_list() == ["preliminary"]
    final = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 4, 1))
    assert_frame_equal(out.drop("status"), final.drop("status"))


def test_one_missing_day_keeps_a_month_preliminary() -> None:
    """Everything landed for March but one day of ``inst``: the month stays preliminary
    after it ends, and inst's projection covers the gap."""
    rows, cov = _march()
    cov = pl.concat(
        [cov, coverage(daily_coverage("inst", date(2025, 3, 16), date(2025, 3, 31)) + [("late", MARCH, "month")])]
    )  # inst has every day but the 15th
    out = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 4, 10))
    assert out["status"].unique().to_list() == ["preliminary"]
    # about (0.4 + 0.1 x 30/31) / 0.5 = 0.9935 (the day weighs by the fitted weekday profile)
    assert all(0.993 < c < 0.994 for c in out["coverage"])


def test_nothing_landed_gives_null_estimates() -> None:
    rows = listens([("inst", "P", "p1", MARCH, "day", 3)])
    out = estimate_monthly(rows, coverage([]), PROVIDERS, MARCH, as_of=MARCH)
    assert out.select("observed_listens", "providers_reporting", "providers_in_estimate").row(0) == (3, 0, 0)
    assert out.select("estimated_listens", "estimate_low", "estimate_high").row(0) == (None, None, None)


def test_listens_only_from_providers_not_landed_give_null_estimates_beside_landed_ones() -> None:
    """The first days of a month: S's listens all come from ``late``, which has not
    delivered; ``day``, ``inst`` and ``mon`` have landed and saw none of S. Their zeros
    would make the estimate 0, raised to the observed 9: a 10% sample shown as the market."""
    rows, cov = _march()
    rows = pl.concat([rows, listens([("late", "S", "s1", MARCH, "month", 9)])])
    out = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 3, 16))
    s = out.filter(pl.col("podcast_guid") == "S")
    assert s.select("observed_listens", "providers_reporting", "providers_in_estimate").row(0) == (9, 0, 3)
    assert s.select("estimated_listens", "estimate_low", "estimate_high").row(0) == (None, None, None)
    # the others are as in the hand-worked month
    assert out.filter(pl.col("podcast_guid") == "Q")["estimated_listens"][0] == pytest.approx(50.0)


def test_an_explicit_zero_from_a_landed_provider_is_an_estimate_of_zero() -> None:
    """``mon`` delivered a row of 0 listens for Z: it saw the podcast and counted nothing,
    so Z's estimate is 0 (with an interval), not unknown."""
    rows, cov = _march()
    rows = pl.concat([rows, listens([("mon", "Z", None, MARCH, "month", 0)])])
    z = estimate_monthly(rows, cov, PROVIDERS, MARCH, as_of=date(2025, 3, 16)).filter(pl.col("podcast_guid") == "Z")
    assert z.select("observed_listens", "providers_reporting", "estimated_listens").row(0) == (0, 0, 0.0)
    assert z["estimate_low"][0] == 0.0 and z["estimate_high"][0] > 0


def test_unknown_provider_is_refused() -> None:
    rows = listens([("zephyr", "P", None, MARCH, "month", 3)])
    with pytest.raises(ValueError, match="zephyr"):
        estimate_monthly(rows, coverage([]), PROVIDERS, MARCH, as_of=MARCH)


# ---- properties ----------------------------------------------------------------------------

FEB = date(2025, 2, 1)
FEB_DAYS = days(FEB, date(2025, 2, 28))
PODCASTS = ["P", "Q", "R"]


@st.composite
def february(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Random listens and coverage of the five providers for February 2025."""
    rows: list[tuple[str, str | None, str | None, date, str, int]] = []
    cov: list[tuple[str, date, str]] = []
    for p in FIVE:
        if p.cadence == "monthly":
            if draw(st.booleans()):
                cov.append((p.name, FEB, "month"))
                for podcast in draw(st.sets(st.sampled_from(PODCASTS))):
                    episode = None if p.grain == "podcast" else f"{podcast}-1"
                    rows.append((p.name, podcast, episode, FEB, "month", draw(st.integers(0, 500))))
            continue
        landed = draw(st.sets(st.sampled_from(FEB_DAYS), max_size=28))
        cov += [(p.name, d, "day") for d in landed]
        cell = st.tuples(st.sampled_from(PODCASTS), st.sampled_from(FEB_DAYS), st.integers(0, 40))
        cells = draw(st.lists(cell, max_size=25))
        seen = set()
        for podcast, d, n in cells:
            episode = None if p.grain == "podcast" else f"{podcast}-{d.day % 2}"
            if (podcast, episode, d) not in seen:  # silver has one row per key
                seen.add((podcast, episode, d))
                rows.append((p.name, podcast, episode, d, "day", n))
    return listens(rows), coverage(cov)


AS_OF = st.sampled_from([date(2025, 2, 15), date(2025, 3, 1), date(2025, 3, 5)])
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(february(), AS_OF, st.integers(0, 2**16))
def test_row_order_changes_nothing(data: tuple[pl.DataFrame, pl.DataFrame], as_of: date, seed: int) -> None:
    rows, cov = data
    expected = estimate_monthly(rows, cov, FIVE, FEB, as_of)
    got = estimate_monthly(shuffled(rows, seed), shuffled(cov, seed + 1), list(reversed(FIVE)), FEB, as_of)
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9)


@PROPS
@given(february(), AS_OF)
def test_interval_contains_estimate_and_estimate_covers_observed(
    data: tuple[pl.DataFrame, pl.DataFrame], as_of: date
) -> None:
    out = estimate_monthly(*data, FIVE, FEB, as_of).filter(pl.col("estimated_listens").is_not_null())
    for r in out.iter_rows(named=True):
        assert r["estimate_low"] <= r["estimated_listens"] <= r["estimate_high"]
        assert r["estimated_listens"] >= r["observed_listens"]
        assert r["estimate_low"] >= r["observed_listens"]


@PROPS
@given(february(), AS_OF, st.integers(2, 9))
def test_scaling_listens_scales_estimates(data: tuple[pl.DataFrame, pl.DataFrame], as_of: date, k: int) -> None:
    rows, cov = data
    base = estimate_monthly(rows, cov, FIVE, FEB, as_of)
    scaled = estimate_monthly(rows.with_columns(pl.col("listens") * k), cov, FIVE, FEB, as_of)
    assert scaled["observed_listens"].to_list() == [k * v for v in base["observed_listens"]]
    for a, b in zip(base["estimated_listens"], scaled["estimated_listens"]):
        assert (a is None and b is None) or b == pytest.approx(k * a, rel=1e-9)
