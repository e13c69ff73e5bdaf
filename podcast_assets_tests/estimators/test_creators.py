"""``creator_popularity``: a hand-worked month and properties."""

from __future__ import annotations

import math
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from podcast_assets.estimators import CREATOR_MONTHS, CREATOR_SCHEMA, creator_popularity
from podcast_assets.estimators.creators import LIFT_PRIOR_APPEARANCES
from podcast_assets_tests.estimators.frames import shuffled, utc

JUNE = date(2025, 6, 1)
WINDOW = [date(2025, m, 1) for m in range(1, 7)]


def _first30(rows: list[tuple[str, str, datetime, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "podcast_guid": pl.String,
            "episode_guid": pl.String,
            "published_at": pl.Datetime("us", "UTC"),
            "estimated_listens_30d": pl.Float64,
        },
        orient="row",
    )


def _credits(rows: list[tuple[str, str, str, str, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(p, e, c, n, "guest" if g else "host", g) for p, e, c, n, g in rows],
        schema={
            "podcast_guid": pl.String,
            "episode_guid": pl.String,
            "creator_id": pl.String,
            "creator_name": pl.String,
            "role": pl.String,
            "is_guest": pl.Boolean,
        },
        orient="row",
    )


def _monthly(levels: dict[str, list[float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(m, p, v) for p, values in levels.items() for m, v in zip(WINDOW, values)],
        schema={"month": pl.Date, "podcast_guid": pl.String, "estimated_listens": pl.Float64},
        orient="row",
    )


def test_hand_worked_month() -> None:
    assert (CREATOR_MONTHS, LIFT_PRIOR_APPEARANCES) == (6, 2.0)
    # Show P, steady (flat monthly estimates: no growth to take out), three June episodes:
    # e1 with guest Cleo: 400 listens; e2, e3 without: 100 each. Host Hal is on all three.
    first30 = _first30(
        [
            ("P", "e1", utc(2025, 6, 3, 9), 400.0),
            ("P", "e2", utc(2025, 6, 10, 9), 100.0),
            ("P", "e3", utc(2025, 6, 17, 9), 100.0),
        ]
    )
    credits = _credits(
        [("P", e, "hal", "Hal", False) for e in ("e1", "e2", "e3")] + [("P", "e1", "cleo", "Cleo", True)]
    )
    out = creator_popularity(first30, credits, _monthly({"P": [1000.0] * 6}), JUNE)
    assert out.schema == pl.Schema(CREATOR_SCHEMA)  # (what a gold table not written yet reads as)
    got = {r["creator_id"]: r for r in out.iter_rows(named=True)}
    # Hal is on every episode: no episode of P without him, so no lift (null) and he is
    # part of P's level. Model: y = ln(listens) = show + ln(lift_cleo) on e1. The fit's fixed
    # point: show = (y1 - b + y2 + y3) / 3 and b = (y1 - show) / (1 + 2), so
    # b = (2 y1 - y2 - y3) / (2 + 3 x 2) = 2 ln 4 / 8 = ln 4 / 4: lift = 4^(1/4) = 1.414.
    # (Unshrunk she is 4x the show's other episodes; one appearance is weak evidence.)
    assert got["cleo"]["lift"] == pytest.approx(math.sqrt(2))
    assert got["cleo"]["lift_appearances"] == 1
    assert got["hal"]["lift"] is None
    assert got["hal"]["lift_appearances"] == 0
    counts = ("appearances", "guest_appearances", "estimated_listens")
    assert tuple(got["hal"][c] for c in counts) == (3, 0, 600.0)
    assert tuple(got["cleo"][c] for c in counts) == (1, 1, 400.0)
    # Scores: Hal 600 x 1 (no lift) = 600; Cleo 400 x 1.414 = 565.7. Hal ranks first.
    assert got["cleo"]["popularity_score"] == pytest.approx(400 * math.sqrt(2))
    assert (got["hal"]["popularity_rank"], got["cleo"]["popularity_rank"]) == (1, 2)
    assert (got["hal"]["creator_name"], got["cleo"]["month"]) == ("Hal", JUNE)


def test_lift_needs_two_episodes_of_the_show_without_the_creator() -> None:
    """Q has one episode with Gus and one without: one episode is too thin a baseline
    (BASELINE_MIN_EPISODES = 2), so Gus has no lift; with a second one he has."""
    credits = _credits([("Q", "e1", "gus", "Gus", True)])
    one = _first30([("Q", "e1", utc(2025, 6, 3, 9), 400.0), ("Q", "e2", utc(2025, 6, 10, 9), 100.0)])
    two = pl.concat([one, _first30([("Q", "e3", utc(2025, 6, 17, 9), 100.0)])])
    lift = lambda first30: creator_popularity(first30, credits, _monthly({"Q": [1000.0] * 6}), JUNE)["lift"][0]  # noqa: E731
    assert lift(one) is None
    assert lift(two) == pytest.approx(math.sqrt(2))  # as Cleo's in the hand-worked month


def test_appearances_without_an_estimate_yet_are_counted_apart() -> None:
    """e2 came out on June 29 and none of its window has landed: it is one of Hal's
    appearances, but adds nothing to his listens, and appearances_estimated says so."""
    first30 = _first30([("P", "e1", utc(2025, 6, 3, 9), 400.0), ("P", "e2", utc(2025, 6, 29, 9), None)])
    credits = _credits([("P", e, "hal", "Hal", False) for e in ("e1", "e2")])
    (hal,) = creator_popularity(first30, credits, _monthly({"P": [1000.0] * 6}), JUNE).iter_rows(named=True)
    assert (hal["appearances"], hal["appearances_estimated"], hal["estimated_listens"]) == (2, 1, 400.0)


def test_growth_of_the_show_is_not_lift() -> None:
    # Show G doubles every month; its episodes follow exactly. Gus guests on the latest,
    # biggest episode, which is only as big as the show's growth makes it: lift 1.
    growth = math.log(2)
    start = utc(2025, 1, 1)
    published = [utc(2025, m, 5) for m in range(1, 7)]
    months_since = [(at - start).total_seconds() / (86_400 * 30.4375) for at in published]
    rows = [("G", f"g{i}", at, 100 * math.exp(growth * t)) for i, (at, t) in enumerate(zip(published, months_since))]
    first30 = _first30(rows)
    credits = _credits([("G", "g5", "gus", "Gus", True)])
    out = creator_popularity(first30, credits, _monthly({"G": [1000.0 * 2**i for i in range(6)]}), JUNE)
    assert out["lift"][0] == pytest.approx(1.0)


def test_episodes_outside_the_window_are_ignored() -> None:
    first30 = _first30([("P", f"e{d}", utc(2025, 6, d), 100.0 + 300 * (d == 3)) for d in (3, 10, 17)])
    credits = _credits([("P", "e3", "cleo", "Cleo", True)])
    monthly = _monthly({"P": [1000.0] * 6})
    old = _first30([("P", "x1", utc(2024, 11, 3), 1e6), ("P", "x2", utc(2025, 7, 3), 1e6)])
    with_old = creator_popularity(pl.concat([first30, old]), credits, monthly, JUNE)
    assert_frame_equal(with_old, creator_popularity(first30, credits, monthly, JUNE))


# ---- properties ----------------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Random shows with a host on every episode and random guests, over six months."""
    episodes, credits = [], []
    guests = [f"guest{i}" for i in range(draw(st.integers(1, 6)))]
    for show in ("P", "Q", "R")[: draw(st.integers(1, 3))]:
        for i in range(draw(st.integers(1, 8))):
            episode = f"{show}{i}"
            at = utc(2025, draw(st.integers(1, 6)), draw(st.integers(1, 28)), draw(st.integers(0, 23)))
            episodes.append((show, episode, at, draw(st.one_of(st.none(), st.floats(0.0, 1e5)))))
            credits.append((show, episode, f"host-{show}", f"Host {show}", False))
            credits += [(show, episode, g, g.title(), True) for g in draw(st.sets(st.sampled_from(guests), max_size=2))]
    monthly = _monthly({s: [draw(st.floats(1.0, 1e6)) for _ in WINDOW] for s in ("P", "Q", "R")})
    return _first30(episodes), _credits(credits), monthly


PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(worlds(), st.integers(0, 2**16))
def test_row_order_changes_nothing(data: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], seed: int) -> None:
    first30, credits, monthly = data
    expected = creator_popularity(first30, credits, monthly, JUNE)
    got = creator_popularity(shuffled(first30, seed), shuffled(credits, seed + 1), shuffled(monthly, seed + 2), JUNE)
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@PROPS
@given(worlds())
def test_hosts_on_every_episode_have_no_lift(data: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    out = creator_popularity(*data, JUNE)
    hosts = out.filter(pl.col("creator_id").str.starts_with("host-"))
    assert hosts["lift"].null_count() == hosts.height
    assert sorted(out["popularity_rank"]) == list(range(1, out.height + 1))
    assert (out["appearances"] >= out["guest_appearances"]).all()
    assert (out.drop_nulls("lift")["lift"] > 0).all()
