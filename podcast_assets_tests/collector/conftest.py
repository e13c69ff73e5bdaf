"""Fixtures for the collector tests: a real uvicorn server on 127.0.0.1, real files.

``running_collector`` serves :func:`create_app` from a thread of the test process on a free
port (the crash test uses a subprocess instead, see ``test_crash.py``). Helpers read back
what landed, open segments included, since a 200 means the lines are already on disk.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn

from podcast_assets.collector import create_app
from podcast_assets.settings import Settings

TOKEN = "test-token"
EVENTS = "/v1/providers/aurora/events"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    options: dict[str, Any] = {"lakehouse_dir": str(tmp_path / "lakehouse"), "collector_tokens": {"aurora": TOKEN}}
    return Settings(**{**options, **overrides})


def event(n: int | str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{n}",
        "show_id": "show-1",
        "episode_guid": "guid-1",
        "listened_at": "2026-01-02T03:04:05Z",
        **fields,
    }


def landing_dir(settings: Settings) -> Path:
    return settings.landing("aurora") / "events"


def quarantine_dir(settings: Settings) -> Path:
    return settings.quarantine / "aurora" / "events"


def read_lines(directory: Path, pattern: str = "*.ndjson*") -> list[dict[str, Any]]:
    """Every line of the matching segments, in segment-name order."""
    return [json.loads(line) for path in sorted(directory.glob(pattern)) for line in path.read_text().splitlines()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Collector:
    settings: Settings
    client: httpx.Client

    def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST ``body`` as JSON (ASCII-escaped, so even lone surrogates can be sent)."""
        headers = {**(AUTH if headers is None else headers), "Content-Type": "application/json"}
        return self.client.post(EVENTS, content=json.dumps(body).encode(), headers=headers)


@contextmanager
def running_collector(settings: Settings, **app_options: Any) -> Iterator[Collector]:
    """Serve the collector with uvicorn in a thread; on exit shut it down cleanly (sealing)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings, **app_options), lifespan="on", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("collector failed to start")
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Collector(settings, client)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def collector(settings: Settings) -> Iterator[Collector]:
    with running_collector(settings) as running:
        yield running
