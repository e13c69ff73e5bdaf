"""Every route over a real server: content, rounding, pagination, validation, tiers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from podcast_assets.api.models import two_significant
from podcast_assets.serving import publish_serving_store, store_path

from .conftest import (
    UNKNOWN,
    A,
    B,
    C,
    D,
    E,
    F,
    MAR,
    RunningApi,
    gold_tables,
    lakehouse,
    publish,
    running_api,
)


@pytest.mark.parametrize(
    ("exact", "shown"),
    [(12_345.0, 12_000), (13_560.0, 14_000), (995.0, 1_000), (149.5, 150), (12_500.0, 13_000),
     (987_654.0, 990_000), (1_049.99, 1_000), (3.46, 3), (0.4, 0), (0.0, 0), (99.0, 99)],
)
def test_two_significant_figures(exact: float, shown: int) -> None:
    assert two_significant(exact) == shown


# ---- public -------------------------------------------------------------------------


def test_podcast_estimates_are_rounded_newest_first(api: RunningApi) -> None:
    response = api.get(f"/v1/podcasts/{A}/estimates")
    assert response.status_code == 200
    assert response.json() == {
        "podcast_guid": A, "title": "Podnews", "limit": 12, "offset": 0, "total": 3,
        "items": [
            {"month": "2025-03", "listens": 990_000, "status": "preliminary"},
            {"month": "2025-02", "listens": 14_000, "status": "final"},
            {"month": "2025-01", "listens": 12_000, "status": "final"},
        ],
    }


def test_a_catalogued_podcast_without_estimates_has_an_empty_history(api: RunningApi) -> None:
    body = api.get(f"/v1/podcasts/{E}/estimates").json()
    assert (body["title"], body["total"], body["items"]) == ("Eee", 0, [])


def test_top_chart_defaults_to_the_latest_month(api: RunningApi) -> None:
    body = api.get("/v1/charts/top").json()
    assert body["month"] == "2025-03"
    assert [(e["rank"], e["podcast_guid"], e["title"], e["listens"], e["status"]) for e in body["items"]] == [
        (1, A, "Podnews", 990_000, "preliminary"),
        (2, B, "Bee Show", 13_000, "preliminary"),
        (3, D, None, 1_000, "preliminary"),
        (4, C, 'Sea, Shells & "Quotes"', 0, "preliminary"),
    ]


def test_a_month_without_an_estimate_yet_is_null_and_off_the_chart(api: RunningApi) -> None:
    """Gold leaves an estimate null while none of the data it scales from has landed (the
    first days of a month): the podcast's pages say so, and the chart ranks only estimates."""
    public = api.get(f"/v1/podcasts/{F}/estimates")
    assert public.status_code == 200
    assert public.json()["items"] == [{"month": "2025-03", "listens": None, "status": "preliminary"}]
    (exact,) = api.get(f"/v1/pro/podcasts/{F}/estimates", key=api.keys["pro"]).json()["items"]
    assert (exact["observed_listens"], exact["estimated_listens"], exact["estimate_low"]) == (3, None, None)
    (trend,) = api.get(f"/v1/pro/podcasts/{F}/trends", key=api.keys["pro"]).json()["items"]
    assert (trend["estimated_listens"], trend["trend_rank"], trend["is_rising"]) == (None, None, False)
    (episode,) = api.get(f"/v1/pro/podcasts/{F}/episodes", key=api.keys["pro"]).json()["items"]
    assert (episode["estimated_listens_30d"], episode["window_complete"]) == (None, False)
    assert F not in [e["podcast_guid"] for e in api.get("/v1/charts/top", limit=100).json()["items"]]


def test_top_chart_of_a_given_month(api: RunningApi) -> None:
    body = api.get("/v1/charts/top", month="2025-01").json()
    assert [(e["podcast_guid"], e["listens"], e["status"]) for e in body["items"]] == [
        (A, 12_000, "final"), (B, 1_000, "final"), (C, 150, "final"),
    ]
    empty = api.get("/v1/charts/top", month="2024-12").json()
    assert (empty["month"], empty["total"], empty["items"]) == ("2024-12", 0, [])


def test_rising_chart(api: RunningApi) -> None:
    latest = api.get("/v1/charts/rising").json()
    assert latest["month"] == "2025-03"
    assert [(e["rank"], e["podcast_guid"], e["title"], e["listens"]) for e in latest["items"]] == [
        (1, B, "Bee Show", 13_000), (2, D, None, 1_000),
    ]
    february = api.get("/v1/charts/rising", month="2025-02").json()
    assert [(e["rank"], e["podcast_guid"]) for e in february["items"]] == [(1, B), (2, A)]


@pytest.mark.parametrize("route", ["/v1/charts/top", "/v1/charts/rising"])
def test_pages_cover_the_list_exactly_once(api: RunningApi, route: str) -> None:
    whole = api.get(route, limit=100).json()
    pages = [api.get(route, limit=1, offset=i).json() for i in range(whole["total"] + 1)]
    assert [p["total"] for p in pages] == [whole["total"]] * len(pages)
    assert [item for p in pages for item in p["items"]] == whole["items"]
    assert pages[-1]["items"] == []
    assert (pages[1]["limit"], pages[1]["offset"]) == (1, 1)


def test_podcast_history_pages(api: RunningApi) -> None:
    body = api.get(f"/v1/podcasts/{A}/estimates", limit=2, offset=1).json()
    assert [i["month"] for i in body["items"]] == ["2025-02", "2025-01"]
    assert (body["limit"], body["offset"], body["total"]) == (2, 1, 3)


# ---- pro ----------------------------------------------------------------------------


def test_exact_estimates_with_intervals(api: RunningApi) -> None:
    body = api.get(f"/v1/pro/podcasts/{B}/estimates", key=api.keys["pro"]).json()
    assert body["title"] == "Bee Show"
    assert body["items"][0] == {
        "month": "2025-03", "observed_listens": 6_250, "estimated_listens": 12_500.0, "estimate_low": 10_000.0,
        "estimate_high": 15_000.0, "providers_reporting": 3, "status": "preliminary",
    }
    assert [i["month"] for i in body["items"]] == ["2025-03", "2025-02", "2025-01"]


def test_first_30_days_per_episode(api: RunningApi) -> None:
    body = api.get(f"/v1/pro/podcasts/{A}/episodes", key=api.keys["pro"], limit=2).json()
    assert body["total"] == 3
    assert body["items"] == [
        {"episode_guid": "a-3", "published_at": "2025-03-21T06:00:00Z", "estimated_listens_30d": 9_000.0,
         "estimate_low": 7_000.0, "estimate_high": 14_000.0, "window_complete": False},
        {"episode_guid": "a-2", "published_at": "2025-02-07T06:00:00Z", "estimated_listens_30d": 42_000.0,
         "estimate_low": 36_000.0, "estimate_high": 47_000.0, "window_complete": True},
    ]
    assert api.get(f"/v1/pro/podcasts/{D}/episodes", key=api.keys["pro"]).json()["items"] == []


def test_trend_history(api: RunningApi) -> None:
    body = api.get(f"/v1/pro/podcasts/{C}/trends", key=api.keys["pro"]).json()
    assert body["items"] == [
        {"month": "2025-03", "estimated_listens": 0.4, "trend_score": None, "trend_rank": 4, "is_rising": False},
    ]
    a = api.get(f"/v1/pro/podcasts/{A}/trends", key=api.keys["pro"]).json()
    history = [(i["month"], i["trend_rank"], i["is_rising"]) for i in a["items"]]
    assert history == [("2025-03", 3, False), ("2025-02", 2, True)]


def test_creator_popularity(api: RunningApi) -> None:
    body = api.get("/v1/pro/creators", key=api.keys["pro"]).json()
    assert body["month"] == "2025-03"
    assert [(c["popularity_rank"], c["creator_id"], c["lift"]) for c in body["items"]] == [
        (1, "https://example.com/ann", 1.05), (2, "bob-guest", 1.8), (3, "cy", None),
    ]
    assert body["items"][1] == {
        "creator_id": "bob-guest", "creator_name": "Bob Guest", "appearances": 1, "guest_appearances": 1,
        "estimated_listens": 12_500.0, "lift": 1.8, "popularity_rank": 2,
    }
    february = api.get("/v1/pro/creators", key=api.keys["pro"], month="2025-02").json()
    assert [c["creator_name"] for c in february["items"]] == ["Ann Host"]


def test_internal_store_status(api: RunningApi) -> None:
    body = api.get("/v1/internal/store", key=api.keys["internal"]).json()
    assert body["tables"]["podcast_monthly_estimates"] == 10
    assert body["published_at"].endswith("Z")


# ---- tiers --------------------------------------------------------------------------

PRO_ROUTES = [f"/v1/pro/podcasts/{A}/estimates", f"/v1/pro/podcasts/{A}/episodes",
              f"/v1/pro/podcasts/{A}/trends", "/v1/pro/creators"]


@pytest.mark.parametrize("route", PRO_ROUTES)
def test_pro_routes_by_tier(api: RunningApi, route: str) -> None:
    anonymous = api.get(route)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert api.get(route, key=api.keys["public"]).status_code == 403
    assert api.get(route, key=api.keys["pro"]).status_code == 200
    assert api.get(route, key=api.keys["internal"]).status_code == 200


def test_internal_route_needs_an_internal_key(api: RunningApi) -> None:
    assert api.get("/v1/internal/store").status_code == 401
    assert api.get("/v1/internal/store", key=api.keys["pro"]).status_code == 403


@pytest.mark.parametrize("tier", ["public", "pro", "internal"])
def test_public_routes_accept_any_valid_key(api: RunningApi, tier: str) -> None:
    keyed, anonymous = api.get("/v1/charts/top", key=api.keys[tier]), api.get("/v1/charts/top")
    assert (keyed.status_code, anonymous.status_code) == (200, 200)
    assert keyed.json() == anonymous.json() and keyed.json()["total"] == 4


@pytest.mark.parametrize(
    "authorization",
    ["Bearer pa_0123456789abcdef_nope", "Bearer", "Basic dXNlcjpwdw==", "Bearer not-a-key"],
)
def test_bad_credentials_are_refused_even_on_public_routes(api: RunningApi, authorization: str) -> None:
    response = api.client.get("/v1/charts/top", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}


# ---- validation ---------------------------------------------------------------------


@pytest.mark.parametrize("route", [f"/v1/podcasts/{UNKNOWN}/estimates", f"/v1/pro/podcasts/{UNKNOWN}/estimates",
                                   f"/v1/pro/podcasts/{UNKNOWN}/episodes", f"/v1/pro/podcasts/{UNKNOWN}/trends"])
def test_unknown_podcast_is_404(api: RunningApi, route: str) -> None:
    response = api.get(route, key=api.keys["pro"])
    assert (response.status_code, response.json()) == (404, {"detail": "Unknown podcast."})


@pytest.mark.parametrize(
    ("route", "params"),
    [("/v1/charts/top", {"month": "2025-13"}), ("/v1/charts/top", {"month": "2025-1"}),
     ("/v1/charts/rising", {"month": "March"}), ("/v1/pro/creators", {"month": "2025-03-01"}),
     ("/v1/charts/top", {"limit": 0}), ("/v1/charts/top", {"limit": 101}), ("/v1/charts/top", {"offset": -1}),
     ("/v1/charts/top", {"limit": "ten"}), ("/v1/podcasts/not-a-guid/estimates", {})],
)
def test_bad_parameters_are_422(api: RunningApi, route: str, params: dict[str, object]) -> None:
    assert api.get(route, key=api.keys["pro"], **params).status_code == 422


def test_guid_case_does_not_matter(api: RunningApi) -> None:
    assert api.get(f"/v1/podcasts/{A.upper()}/estimates").json()["podcast_guid"] == A


def test_openapi_document(api: RunningApi) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/v1/podcasts/{podcast_guid}/estimates", "/v1/charts/top", "/v1/charts/rising",
        "/v1/pro/podcasts/{podcast_guid}/estimates", "/v1/pro/podcasts/{podcast_guid}/episodes",
        "/v1/pro/podcasts/{podcast_guid}/trends", "/v1/pro/creators", "/v1/internal/store",
    }
    assert paths["/v1/charts/top"]["get"]["security"] == [{"ApiKey": []}, {}]
    assert paths["/v1/pro/creators"]["get"]["security"] == [{"ApiKey": []}]


# ---- store states -------------------------------------------------------------------


def test_no_store_yet_is_503_with_a_clear_message(tmp_path: Path) -> None:
    with running_api(lakehouse(tmp_path)) as empty:
        response = empty.get("/v1/charts/top")
        assert response.status_code == 503
        assert response.json() == {"detail": "The serving store has not been published yet; try again later."}
        assert empty.get("/openapi.json").status_code == 200


def test_a_broken_store_is_a_bare_500(tmp_path: Path) -> None:
    settings = lakehouse(tmp_path)
    path = store_path(settings.serving_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a duckdb database" * 100)
    with running_api(settings) as broken:
        response = broken.get("/v1/charts/top")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}


def test_a_republished_store_is_served_at_once(tmp_path: Path) -> None:
    settings = lakehouse(tmp_path)
    publish(settings)
    with running_api(settings) as live:
        assert live.get("/v1/charts/top").json()["total"] == 4
        publish(settings, extra_podcast=UNKNOWN)
        assert live.get("/v1/charts/top").json()["total"] == 5
        assert live.get(f"/v1/podcasts/{UNKNOWN}/estimates").status_code == 200


def test_charts_default_to_the_latest_month_with_estimates(tmp_path: Path) -> None:
    """April has begun: F has a few listens, but nothing to scale them by has landed, so
    April has no estimate yet. The charts (and their analyst views) stay on March."""
    settings = lakehouse(tmp_path)
    tables = gold_tables()
    april = dt.date(2025, 4, 1)
    for name, row in (("podcast_monthly_estimates", (april, F, 2, None, None, None, 0, "preliminary")),
                      ("podcast_trends", (april, F, None, None, None, False))):
        tables[name] = pl.concat([tables[name], pl.DataFrame([row], schema=tables[name].schema, orient="row")])
    publish_serving_store(tables, store_path(settings.serving_dir))
    with running_api(settings) as live:
        top, rising = live.get("/v1/charts/top").json(), live.get("/v1/charts/rising").json()
    assert (top["month"], top["total"], rising["month"], rising["total"]) == ("2025-03", 4, "2025-03", 2)
    with duckdb.connect(str(store_path(settings.serving_dir)), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT month FROM latest_month_top_podcasts").fetchall() == [(MAR,)]
        assert conn.execute("SELECT DISTINCT month FROM latest_month_rising_podcasts").fetchall() == [(MAR,)]


def test_browsers_on_other_origins_may_read(api: RunningApi) -> None:
    response = api.client.get("/v1/charts/top", headers={"Origin": "https://www.example.com"})
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = api.client.options("/v1/pro/creators", headers={
        "Origin": "https://www.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    })
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
