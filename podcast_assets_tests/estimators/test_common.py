"""The shared step: scaling provider counts to the market with a calibrated interval."""

from __future__ import annotations

import math

import polars as pl
import pytest

from podcast_assets.estimators.common import PROJECTION_CV, SHARE_PRIOR_DF, SHARE_SD_PRIOR, Z90, combine_providers

Z = Z90


def _units(rows: list[tuple[str, float, float, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "unit": pl.String,
            "count": pl.Float64,
            "share": pl.Float64,
            "observed_fraction": pl.Float64,
            "sampled": pl.Boolean,
        },
        orient="row",
    )


def _poisson_half_widths(n: float) -> tuple[float, float]:
    """Log distances from n to the ends of its 90% Poisson score interval."""
    half = Z * math.sqrt(n + Z * Z / 4)
    lo, hi = n + Z * Z / 2 - half, n + Z * Z / 2 + half
    return math.log(n / lo), math.log(hi / n)


def test_hand_worked_interval() -> None:
    # One podcast, two providers with share 0.1 each, whole period landed: counts 100, 300.
    rows = [("A", 100, 0.1, 1.0, True), ("A", 300, 0.1, 1.0, True)]
    out = combine_providers(_units(rows), ["unit"]).row(0, named=True)
    # T = 400 / 0.2 = 2000. Scaled estimates E = 1000 and 3000.
    assert out["estimated_listens"] == pytest.approx(2000.0)
    # Share spread, method of moments: Q = 0.1 (1000 - 2000)^2 + 0.1 (3000 - 2000)^2 = 200000;
    # Q / T^2 = 0.05; Poisson part sum (1 - 0.5) / 1 / T = 1 / 2000 = 0.0005;
    # S - sum s^2 / S = 0.2 - 0.1 = 0.1, so raw sigma^2 = (0.05 - 0.0005) / 0.1 = 0.495.
    # Its weight: (k - 1) (0.0625 / (0.0625 + k / (T S)))^2 = (0.0625 / 0.0675)^2 = 0.85734.
    # Pooled with the prior (0.25^2, 20 df): (0.495 x 0.85734 + 20 x 0.0625) / 20.85734 = 0.080278.
    prior = SHARE_SD_PRIOR**2
    df = (prior / (prior + 2 / 400)) ** 2
    share_var = (0.495 * df + SHARE_PRIOR_DF * prior) / (df + SHARE_PRIOR_DF)
    assert share_var == pytest.approx(0.080278, abs=1e-6)
    assert out["share_sd"] == pytest.approx(math.sqrt(share_var))
    # Relative variance from shares: sigma^2 sum s^2 / S^2 = 0.080278 x 0.5; in log units
    # times z: 1.6449 x sqrt(0.040139) = 0.32954. Poisson on N = T x S = 400 listens:
    # score interval [368.43, 434.28] (symmetric in logs: 368.43 x 434.28 = 400^2), log
    # half-width 0.08222.
    other = Z * math.sqrt(share_var * 0.5)
    down, up = _poisson_half_widths(400.0)
    assert (down, up) == pytest.approx((0.08222, 0.08222), abs=1e-5)
    # Combined in quadrature: 2000 exp(-+sqrt(0.08222^2 + 0.32954^2)) = 1424.0 and 2808.9.
    assert out["estimate_low"] == pytest.approx(2000 * math.exp(-math.hypot(down, other)))
    assert out["estimate_high"] == pytest.approx(2000 * math.exp(math.hypot(up, other)))
    assert (round(out["estimate_low"], 1), round(out["estimate_high"], 1)) == (1424.0, 2808.9)
    assert out["effective_share"] == pytest.approx(0.2)
    assert out["projection_sd"] == 0.0


def test_zero_count_has_a_poisson_upper_bound() -> None:
    # Nothing counted by providers holding 0.5 of the market: the market count is 0 but
    # could be up to z^2 / 0.5 = 5.41 by Poisson alone, widened by the share spread
    # (the prior alone here: no unit has a spread to learn from).
    rows = [("A", 0.0, 0.1, 1.0, True)] * 5
    out = combine_providers(_units(rows), ["unit"]).row(0, named=True)
    other = Z * math.sqrt(SHARE_SD_PRIOR**2 * 0.2)
    assert (out["estimated_listens"], out["estimate_low"]) == (0.0, 0.0)
    assert out["estimate_high"] == pytest.approx(Z * Z / 0.5 * math.exp(other))


def test_projection_and_shared_out_counts() -> None:
    # Two providers, one with half its period landed and projected (count 200 from 100),
    # one a podcast total shared out by the other's proportions (not a sample of its own).
    rows = [("A", 200, 0.1, 0.5, True), ("A", 200, 0.1, 1.0, False)]
    out = combine_providers(_units(rows), ["unit"]).row(0, named=True)
    assert out["estimated_listens"] == pytest.approx(2000.0)
    # Projection: PROJECTION_CV x (0.1 sqrt(0.5 / 0.5) + 0.1 x 0) / 0.2 = PROJECTION_CV / 2.
    assert out["projection_sd"] == pytest.approx(PROJECTION_CV / 2)
    # Poisson rests on the sampled provider only: N = T x 0.1^2 / (0.1 / 0.5) = 2000 x 0.05 = 100,
    # the 100 listens it actually counted.
    down, up = _poisson_half_widths(100.0)
    other = Z * math.sqrt(out["share_sd"] ** 2 * 0.5 + (PROJECTION_CV / 2) ** 2)
    assert out["estimate_high"] == pytest.approx(2000 * math.exp(math.hypot(up, other)))
    assert out["effective_share"] == pytest.approx(0.15)
