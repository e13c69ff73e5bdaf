"""The collector's ASGI app and its uvicorn runner.

A raw ASGI app rather than a framework: two endpoints, and the request path is the hot
loop of the throughput targets (50,000 events/s in batches, 2,000 single-event requests/s).

``POST /v1/providers/{provider}/events``, for instant providers that have a token:
  404 unknown provider, 405 other methods, 401 missing or wrong bearer token (constant-time
  comparison, checked before the body is read), 413 body over ``max_body_bytes`` or more
  than ``max_events`` events, 400 malformed JSON or a body that is neither an object nor an
  array, 503 when storage fails. Otherwise 200 ``{"accepted": n, "rejected": [{"index",
  "event_id", "reason"}]}``, sent only after the accepted events are fsynced to the landing
  segment and the rejected ones to the quarantine segment. Errors are
  ``{"error": code, "detail": text}``; only a 400's body is written (to quarantine, whole),
  so what an authenticated provider sent is never lost: if it cannot be, the answer is 503
  (retry), not 400.

``GET /healthz``: 200 ``{"status": "ready", ...}`` while every writer works, else 503.

The lifespan recovers segments left by a crash before the server accepts connections, and
seals the open segments on clean shutdown.
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import json
import logging
import math
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, MutableMapping, NoReturn

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from podcast_assets.collector.events import check_events, quarantine_body, quarantine_lines
from podcast_assets.collector.segments import SegmentWriter, WriterUnavailable
from podcast_assets.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

INSTANT_PROVIDERS = ("aurora",)
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_EVENTS = 10_000

_EVENTS_PATH = re.compile(r"/v1/providers/([^/]+)/events/?")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class _Disconnected(Exception):
    """The client went away before sending its whole body: nothing to answer."""


class _HTTPError(Exception):
    def __init__(self, status: int, error: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or []


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """A JSON number too big for a float (1e999) would become infinity, which the
    quarantine's JSON could not hold: refused like NaN."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


class _Provider:
    """One provider's token and its landing and quarantine writers."""

    def __init__(self, name: str, token: str, settings: Settings) -> None:
        self.name = name
        self.token = token.encode()
        limits = {"max_bytes": settings.segment_max_bytes, "max_seconds": settings.segment_max_seconds}
        self.landing = SegmentWriter(settings.landing(name) / "events", **limits)
        self.quarantine = SegmentWriter(settings.quarantine / name / "events", **limits)

    async def start(self) -> None:
        """Start both writers (recovering their segments); quarantine torn landing tails."""
        recovered = await self.landing.start()
        await self.quarantine.start()
        for segment in recovered:
            if segment.dropped:
                # Never acknowledged, so the sender retries; kept for inspection only.
                record = {
                    "received_at": _utc_stamp(datetime.now(timezone.utc)),
                    "reason": "torn_segment_tail",
                    "segment": segment.open_path.name,
                    "raw": segment.dropped.decode("utf-8", "backslashreplace"),
                }
                await self.quarantine.append(json.dumps(record).encode() + b"\n")

    async def close(self) -> None:
        await asyncio.gather(self.landing.close(), self.quarantine.close())

    def status(self) -> dict[str, Any]:
        return {
            name: {
                "ready": w.ready,
                "open_segment": w.open_segment,
                "appends": w.appends,
                "commits": w.commits,
                "bytes": w.bytes_written,
                "sealed": w.sealed,
            }
            for name, w in (("landing", self.landing), ("quarantine", self.quarantine))
        }


def _utc_stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class CollectorApp:
    """ASGI app for the event endpoint, health check and lifespan (see module docstring)."""

    def __init__(self, settings: Settings, *, max_body_bytes: int = MAX_BODY_BYTES, max_events: int = MAX_EVENTS):
        self.settings = settings
        self.max_body_bytes = max_body_bytes
        self.max_events = max_events
        self.providers: dict[str, _Provider] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            try:
                status, body = await self._route(scope, receive)
                await _send_json(send, status, body)
            except _HTTPError as exc:
                await _send_json(send, exc.status, {"error": exc.error, "detail": exc.detail}, exc.headers)
            except _Disconnected:
                pass

    # ---- lifespan --------------------------------------------------------------------
    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as exc:
                    # A configuration error (RuntimeError) needs no traceback; anything else does.
                    log.error("collector failed to start: %s", exc, exc_info=not isinstance(exc, RuntimeError))
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.gather(*(p.close() for p in self.providers.values()))
                log.info("collector stopped; open segments sealed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        tokens = self.settings.collector_tokens
        names = [name for name in INSTANT_PROVIDERS if tokens.get(name)]
        if not names:
            raise RuntimeError(
                "no collector token for any instant provider "
                f"({', '.join(INSTANT_PROVIDERS)}): set PODCAST_COLLECTOR_TOKENS=aurora=<token>"
            )
        for name in names:
            provider = _Provider(name, tokens[name], self.settings)
            await provider.start()
            self.providers[name] = provider
            log.info(
                "collecting %s events into %s (seal at %d bytes or %.0f s)",
                name,
                provider.landing.directory,
                self.settings.segment_max_bytes,
                self.settings.segment_max_seconds,
            )

    # ---- requests --------------------------------------------------------------------
    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            if method not in ("GET", "HEAD"):
                raise _HTTPError(405, "method_not_allowed", "use GET", [(b"allow", b"GET, HEAD")])
            return self._health()
        match = _EVENTS_PATH.fullmatch(path)
        if match is None:
            raise _HTTPError(404, "not_found", f"no endpoint at {path}")
        if method != "POST":
            raise _HTTPError(405, "method_not_allowed", "use POST", [(b"allow", b"POST")])
        provider = self.providers.get(match.group(1))
        if provider is None:
            raise _HTTPError(404, "unknown_provider", f"{match.group(1)!r} does not send instant events here")
        headers = dict(scope["headers"])
        self._authorize(provider, headers.get(b"authorization"))
        body = await self._read_body(headers.get(b"content-length"), receive)
        return 200, await self._ingest(provider, body)

    def _health(self) -> tuple[int, dict[str, Any]]:
        providers = {name: p.status() for name, p in self.providers.items()}
        ready = bool(providers) and all(w["ready"] for p in providers.values() for w in p.values())
        return (200 if ready else 503), {"status": "ready" if ready else "unavailable", "providers": providers}

    @staticmethod
    def _authorize(provider: _Provider, header: bytes | None) -> None:
        scheme, _, token = (header or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), provider.token):
            error = "missing_token" if header is None else "invalid_token"
            raise _HTTPError(
                401, error, "send Authorization: Bearer <token>", [(b"www-authenticate", b'Bearer realm="collector"')]
            )

    async def _read_body(self, content_length: bytes | None, receive: Receive) -> bytes:
        too_large = _HTTPError(413, "body_too_large", f"the body may hold at most {self.max_body_bytes} bytes")
        if content_length is not None and content_length.isdigit() and int(content_length) > self.max_body_bytes:
            raise too_large
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    @staticmethod
    async def _store(*writes: Awaitable[None]) -> None:
        """Wait for the appends to be on disk; a writer that fails answers 503."""
        try:
            await asyncio.gather(*writes)
        except WriterUnavailable as exc:
            log.error("could not store events: %s", exc)  # the cause (and its paths) stays in the log
            raise _HTTPError(503, "storage_unavailable", "events cannot be stored right now; retry later") from None

    async def _refuse(self, provider: _Provider, body: bytes, error: str, detail: str) -> NoReturn:
        """400, once the whole body is in quarantine: what a provider sent is never lost."""
        await self._store(provider.quarantine.append(quarantine_body(body, error, datetime.now(timezone.utc))))
        raise _HTTPError(400, error, detail)

    async def _ingest(self, provider: _Provider, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            await self._refuse(provider, body, "malformed_json", f"the body is not valid JSON: {exc}")
        if type(payload) is dict:
            payload = [payload]
        elif type(payload) is not list:
            await self._refuse(provider, body, "bad_body", "the body must be one JSON object or an array of objects")
        if len(payload) > self.max_events:
            raise _HTTPError(
                413, "too_many_events", f"an array may hold at most {self.max_events} events, got {len(payload)}"
            )
        now = datetime.now(timezone.utc)
        batch = check_events(payload, now=now, data_start=self.settings.data_start)
        writes = []
        if batch.accepted:
            writes.append(provider.landing.append(batch.lines))
        if batch.rejected:
            writes.append(provider.quarantine.append(quarantine_lines(batch.rejected, now)))
        await self._store(*writes)
        return {
            "accepted": batch.accepted,
            "rejected": [{"index": r.index, "event_id": r.event_id, "reason": r.reason} for r in batch.rejected],
        }


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON_HEADERS, (b"content-length", str(len(data)).encode()), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": data})


def create_app(settings: Settings, *, max_body_bytes: int = MAX_BODY_BYTES, max_events: int = MAX_EVENTS) -> CollectorApp:
    """The collector as an ASGI app; its lifespan opens (and recovers) the segment writers."""
    return CollectorApp(settings, max_body_bytes=max_body_bytes, max_events=max_events)


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup, extended to this package's loggers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["podcast_assets"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run the collector with uvicorn until SIGINT/SIGTERM (then seal and exit).

    One worker process: the segment writers and their group commit live in it. uvloop and
    httptools are used when installed (``uvicorn[standard]``).
    """
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        loop="auto",
        http="auto",
        lifespan="on",
        access_log=False,
        log_config=log_config(),
        timeout_graceful_shutdown=30,
    )
