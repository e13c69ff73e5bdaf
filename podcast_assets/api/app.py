"""The read API: curated figures for the website, structured ones for pro users.

Every route reads only the serving store (``podcast_assets.serving``), through one cached
read-only snapshot (``store.ServingReader``). Responses are rendered once per snapshot and
parameter set, so the busy public routes are served from memory until the next publish.

Tiers (``keys.TIERS``): ``public`` routes need no key; ``/v1/pro`` routes need a key of
tier ``pro`` or above; ``/v1/internal`` routes need an ``internal`` key.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from podcast_assets.api import models as m
from podcast_assets.api.keys import KeyStore, tier_rank
from podcast_assets.api.ratelimit import RateLimiter
from podcast_assets.api.store import ServingReader, Snapshot, StoreUnavailable
from podcast_assets.serving import store_path
from podcast_assets.settings import Settings

log = logging.getLogger(__name__)

MAX_LIMIT = 100
MAX_OFFSET = 1_000_000

# ---- access -------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `podcast-assets keys create --tier pro`.",
)


@dataclass(frozen=True)
class Services:
    reader: ServingReader
    keys: KeyStore
    limiter: RateLimiter


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _throttle(services: Services, identity: str) -> None:
    wait = services.limiter.hit(identity)
    if wait is not None:
        raise HTTPException(429, "Too many requests.", headers={"Retry-After": str(math.ceil(wait))})


def _access(min_tier: str) -> Callable[..., Any]:
    """Dependency admitting callers of ``min_tier`` or above, within their rate limit.

    Anonymous callers are limited by client address, key holders by key. Refuses with 401
    (no key where one is needed, or a bad key anywhere), 403 (tier too low) or 429."""

    async def admit(
        request: Request,
        # Declares the bearer scheme in OpenAPI; the header is parsed below, so that a
        # malformed Authorization header is refused rather than treated as anonymous.
        _scheme: Annotated[object, Security(_bearer)],
    ) -> None:
        services: Services = request.app.state.services
        address = f"addr:{request.client.host if request.client else 'unknown'}"
        header = request.headers.get("authorization")
        if header is None:
            _throttle(services, address)
            if min_tier != "public":
                raise _unauthorized("This route needs an API key.")
            return
        scheme, _, token = header.partition(" ")
        key = services.keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            _throttle(services, address)  # bad keys count against the address
            raise _unauthorized("Invalid or revoked API key.")
        _throttle(services, f"key:{key.key_id}")
        if tier_rank(key.tier) < tier_rank(min_tier):
            raise HTTPException(403, f"This route needs a key of tier {min_tier}.")

    return admit


# Error statuses the routes may answer: description and response headers (type, meaning).
_ERRORS: dict[int, tuple[str, dict[str, tuple[str, str]]]] = {
    401: ("Missing, invalid or revoked API key.", {"WWW-Authenticate": ("string", "`Bearer`.")}),
    403: ("The key's tier is too low for this route.", {}),
    404: ("Unknown podcast.", {}),
    429: ("Rate limit exceeded.", {"Retry-After": ("integer", "Seconds to wait before retrying.")}),
    503: ("Nothing has been published to the serving store yet.", {}),
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``codes``."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted(codes):
        description, headers = _ERRORS[code]
        out[code] = {"model": m.Error, "description": description}
        if headers:
            out[code]["headers"] = {
                name: {"description": text, "schema": {"type": kind}} for name, (kind, text) in headers.items()
            }
    return out


def _route(tier: str, *codes: int) -> dict[str, Any]:
    """Route options for a tier: its access dependency, tag and documented error statuses."""
    options: dict[str, Any] = {
        "dependencies": [Depends(_access(tier))],
        "tags": [tier],
        "responses": _errors(*codes, 401, 429, 503, *(() if tier == "public" else (403,))),
    }
    if tier == "public":
        # The key is optional here: an empty requirement means "no auth" is acceptable too.
        options["openapi_extra"] = {"security": [{}]}
    return options


# ---- parameters ---------------------------------------------------------------------

Guid = Annotated[UUID, Path(description="The podcast's `podcast:guid`.")]
Month = Annotated[
    str | None,
    Query(pattern=m.MONTH_PATTERN, description="YYYY-MM; the latest published month when omitted."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]


def _month_date(month: str | None) -> date | None:
    """``"2025-03"`` -> ``date(2025, 3, 1)``."""
    return None if month is None else date(int(month[:4]), int(month[5:]), 1)


def _month_text(month: date | None) -> str | None:
    return None if month is None else m.month_text(month)


# ---- queries ------------------------------------------------------------------------


def _page(
    snap: Snapshot, sql: str, params: list[Any], order: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``sql`` (a constant query over the store) and the size of the whole list."""
    (total,) = snap.rows(f"SELECT count(*) AS n FROM ({sql})", params)[0].values()
    rows = snap.rows(f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
    return rows, total


def _title_or_404(snap: Snapshot, guid: str) -> str | None:
    """The podcast's title (None when untitled); 404 when the store has never heard of it."""
    rows = snap.rows(
        """SELECT (SELECT title FROM store.podcast_titles WHERE podcast_guid = $1) AS title,
                  EXISTS (SELECT 1 FROM store.podcasts WHERE podcast_guid = $1)
                  OR EXISTS (SELECT 1 FROM store.podcast_monthly_estimates WHERE podcast_guid = $1) AS known""",
        [guid],
    )
    if not rows[0]["known"]:
        raise HTTPException(404, "Unknown podcast.")
    return rows[0]["title"]


def _chart_month(snap: Snapshot, table: str, month: str | None) -> date | None:
    """The requested month, or the latest one in ``table`` (a constant name). The charts of
    podcasts default to the latest month with an estimate (``monthly_top_podcasts`` holds
    only those): on the first days of a month nothing is estimated yet."""
    if month is not None:
        return _month_date(month)
    return snap.rows(f"SELECT max(month) AS month FROM store.{table}")[0]["month"]


async def _respond(request: Request, key: Hashable, build: Callable[[Snapshot], BaseModel]) -> Response:
    """The JSON of ``build(snapshot)``, rendered once per snapshot and ``key``."""
    services: Services = request.app.state.services
    snap = services.reader.snapshot()
    body = snap.cached(key)
    if body is None:
        body = await run_in_threadpool(lambda: build(snap).model_dump_json().encode())
        snap.remember(key, body)
    return Response(body, media_type="application/json")


# ---- application --------------------------------------------------------------------


def create_app(settings: Settings) -> FastAPI:
    """The API over the serving store of ``settings``, with its keys and rate limit."""
    app = FastAPI(
        title="Podcast listens API",
        version="1",
        description=(
            "Market-wide listen estimates. Public routes need no key and show rounded figures; "
            "`/v1/pro` routes need a `pro` key (`Authorization: Bearer <key>`)."
        ),
    )
    # Browsers on the website call the API directly: any origin may read, no cookies involved.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["Authorization"])
    app.state.services = Services(
        reader=ServingReader(store_path(settings.serving_dir)),
        keys=KeyStore.in_dir(settings.serving_dir),
        limiter=RateLimiter(settings.api_rate_limit_per_minute),
    )

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_request: Request, _exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": "The serving store has not been published yet; try again later."}, 503)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error serving %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal server error."}, 500)

    # ---- public -----------------------------------------------------------------------

    @app.get("/v1/podcasts/{podcast_guid}/estimates", response_model=m.PodcastEstimates,
             **_route("public", 404))
    async def podcast_estimates(
        request: Request, podcast_guid: Guid, limit: Limit = 12, offset: Offset = 0
    ) -> Response:
        """A podcast's recent monthly estimates, rounded for display, newest first."""
        guid = str(podcast_guid)

        def build(snap: Snapshot) -> m.PodcastEstimates:
            title = _title_or_404(snap, guid)
            rows, total = _page(
                snap,
                "SELECT month, estimated_listens, status FROM store.podcast_monthly_estimates WHERE podcast_guid = ?",
                [guid], "month DESC", limit, offset,
            )
            items = [
                m.DisplayEstimate(month=m.month_text(r["month"]), listens=m.two_significant(r["estimated_listens"]),
                                  status=r["status"])
                for r in rows
            ]
            return m.PodcastEstimates(podcast_guid=guid, title=title, items=items,
                                      limit=limit, offset=offset, total=total)

        return await _respond(request, ("estimates", guid, limit, offset), build)

    @app.get("/v1/charts/top", response_model=m.TopChart, **_route("public"))
    async def top_chart(
        request: Request, month: Month = None, limit: Limit = 20, offset: Offset = 0
    ) -> Response:
        """The month's most listened podcasts, rounded for display."""

        def build(snap: Snapshot) -> m.TopChart:
            chart_month = _chart_month(snap, "monthly_top_podcasts", month)
            rows, total = _page(
                snap,
                "SELECT chart_rank, podcast_guid, title, estimated_listens, status "
                "FROM store.monthly_top_podcasts WHERE month = ?",
                [chart_month], "chart_rank", limit, offset,
            )
            items = [
                m.ChartEntry(rank=r["chart_rank"], podcast_guid=r["podcast_guid"], title=r["title"],
                             listens=m.two_significant(r["estimated_listens"]), status=r["status"])
                for r in rows
            ]
            return m.TopChart(month=_month_text(chart_month), items=items,
                              limit=limit, offset=offset, total=total)

        return await _respond(request, ("top", month, limit, offset), build)

    @app.get("/v1/charts/rising", response_model=m.RisingChart, **_route("public"))
    async def rising_chart(
        request: Request, month: Month = None, limit: Limit = 20, offset: Offset = 0
    ) -> Response:
        """The month's fastest-rising podcasts, rounded for display."""

        def build(snap: Snapshot) -> m.RisingChart:
            chart_month = _chart_month(snap, "monthly_top_podcasts", month)  # a month with estimates
            rows, total = _page(
                snap,
                "SELECT trend_rank, podcast_guid, title, estimated_listens FROM store.rising_podcasts WHERE month = ?",
                [chart_month], "trend_rank, podcast_guid", limit, offset,
            )
            items = [
                m.RisingEntry(rank=r["trend_rank"], podcast_guid=r["podcast_guid"], title=r["title"],
                              listens=m.two_significant(r["estimated_listens"]))
                for r in rows
            ]
            return m.RisingChart(month=_month_text(chart_month), items=items,
                                 limit=limit, offset=offset, total=total)

        return await _respond(request, ("rising", month, limit, offset), build)

    # ---- pro --------------------------------------------------------------------------

    @app.get("/v1/pro/podcasts/{podcast_guid}/estimates", response_model=m.ExactEstimates,
             **_route("pro", 404))
    async def exact_estimates(
        request: Request, podcast_guid: Guid, limit: Limit = 24, offset: Offset = 0
    ) -> Response:
        """A podcast's monthly estimates with their 90% intervals, newest first."""
        guid = str(podcast_guid)

        def build(snap: Snapshot) -> m.ExactEstimates:
            title = _title_or_404(snap, guid)
            rows, total = _page(
                snap,
                "SELECT month, observed_listens, estimated_listens, estimate_low, estimate_high, "
                "providers_reporting, status FROM store.podcast_monthly_estimates WHERE podcast_guid = ?",
                [guid], "month DESC", limit, offset,
            )
            items = [m.Estimate(**{**r, "month": m.month_text(r["month"])}) for r in rows]
            return m.ExactEstimates(podcast_guid=guid, title=title, items=items,
                                    limit=limit, offset=offset, total=total)

        return await _respond(request, ("pro-estimates", guid, limit, offset), build)

    @app.get("/v1/pro/podcasts/{podcast_guid}/episodes", response_model=m.Episodes,
             **_route("pro", 404))
    async def episodes(
        request: Request, podcast_guid: Guid, limit: Limit = 20, offset: Offset = 0
    ) -> Response:
        """Each episode's estimated listens in its first 30 days, newest episode first."""
        guid = str(podcast_guid)

        def build(snap: Snapshot) -> m.Episodes:
            _title_or_404(snap, guid)
            rows, total = _page(
                snap,
                "SELECT episode_guid, published_at, estimated_listens_30d, estimate_low, estimate_high, "
                "window_complete FROM store.episode_first_30_days WHERE podcast_guid = ?",
                [guid], "published_at DESC NULLS LAST, episode_guid", limit, offset,
            )
            return m.Episodes(podcast_guid=guid, items=[m.EpisodeFirst30Days(**r) for r in rows],
                              limit=limit, offset=offset, total=total)

        return await _respond(request, ("episodes", guid, limit, offset), build)

    @app.get("/v1/pro/podcasts/{podcast_guid}/trends", response_model=m.Trends,
             **_route("pro", 404))
    async def trends(
        request: Request, podcast_guid: Guid, limit: Limit = 24, offset: Offset = 0
    ) -> Response:
        """A podcast's trend history: score, rank and whether it was rising, newest first."""
        guid = str(podcast_guid)

        def build(snap: Snapshot) -> m.Trends:
            _title_or_404(snap, guid)
            rows, total = _page(
                snap,
                "SELECT month, estimated_listens, trend_score, trend_rank, is_rising "
                "FROM store.podcast_trends WHERE podcast_guid = ?",
                [guid], "month DESC", limit, offset,
            )
            items = [m.TrendPoint(**{**r, "month": m.month_text(r["month"])}) for r in rows]
            return m.Trends(podcast_guid=guid, items=items, limit=limit, offset=offset, total=total)

        return await _respond(request, ("trends", guid, limit, offset), build)

    @app.get("/v1/pro/creators", response_model=m.Creators, **_route("pro"))
    async def creators(
        request: Request, month: Month = None, limit: Limit = 20, offset: Offset = 0
    ) -> Response:
        """Creator popularity for a month, most popular first."""

        def build(snap: Snapshot) -> m.Creators:
            chart_month = _chart_month(snap, "creator_popularity", month)
            rows, total = _page(
                snap,
                "SELECT creator_id, creator_name, appearances, guest_appearances, estimated_listens, lift, "
                "popularity_rank FROM store.creator_popularity WHERE month = ?",
                [chart_month], "popularity_rank, creator_id", limit, offset,
            )
            return m.Creators(month=_month_text(chart_month),
                              items=[m.CreatorEntry(**r) for r in rows], limit=limit, offset=offset, total=total)

        return await _respond(request, ("creators", month, limit, offset), build)

    # ---- internal ---------------------------------------------------------------------

    @app.get("/v1/internal/store", response_model=m.StoreStatus, **_route("internal"))
    async def store_status(request: Request) -> Response:
        """When the serving store was published and how many rows each table holds."""

        def build(snap: Snapshot) -> m.StoreStatus:
            rows = snap.rows("SELECT published_at, table_name, row_count FROM store.serving_metadata")
            return m.StoreStatus(published_at=rows[0]["published_at"],
                                 tables={r["table_name"]: r["row_count"] for r in rows})

        return await _respond(request, ("store",), build)

    return app


def server_config(settings: Settings, host: str = "127.0.0.1", port: int = 8788, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration of the API. Callers are told apart by the address of their
    connection: uvicorn would otherwise take the address from an ``X-Forwarded-For``
    header sent over loopback, and a client could claim a fresh rate-limit budget with
    each request. (Behind a proxy, every caller then shares the proxy's budget.)"""
    return uvicorn.Config(create_app(settings), host=host, port=port, proxy_headers=False, **options)


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8788) -> None:
    """Run the API with uvicorn until interrupted (one process: the rate limit is in memory)."""
    uvicorn.Server(server_config(settings, host, port, log_level="info")).run()
