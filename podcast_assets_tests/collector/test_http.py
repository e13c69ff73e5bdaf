"""The event endpoint over real HTTP: auth, limits, malformed bodies, mixed batches."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from podcast_assets.collector.app import MAX_EVENTS
from podcast_assets.settings import Settings
from podcast_assets_tests.collector.conftest import (
    AUTH,
    EVENTS,
    TOKEN,
    Collector,
    event,
    landing_dir,
    make_settings,
    quarantine_dir,
    read_lines,
    running_collector,
)


def nothing_written(collector: Collector) -> bool:
    settings = collector.settings
    return not read_lines(landing_dir(settings)) and not read_lines(quarantine_dir(settings))


def test_healthz_reports_ready(collector: Collector) -> None:
    response = collector.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["providers"]["aurora"]["landing"]["ready"] is True


@pytest.mark.parametrize(
    "headers, error",
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer wrong-token"}, "invalid_token"),
        ({"Authorization": f"Basic {TOKEN}"}, "invalid_token"),
        ({"Authorization": "Bearer"}, "invalid_token"),
    ],
)
def test_no_or_wrong_token_is_401_and_writes_nothing(collector: Collector, headers: dict, error: str) -> None:
    response = collector.post([event(1)], headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert nothing_written(collector)


def test_right_token_lands_exactly_the_contract_fields(collector: Collector) -> None:
    sent = [
        event(1, extra="dropped", nested={"a": 1}),
        event(2, listened_at="2026-01-02T05:04:05.123456789+02:00"),
        event("ü-3", show_id="show-ü"),
    ]
    response = collector.post(sent)
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "rejected": []}
    stored = read_lines(landing_dir(collector.settings))
    fields = ["event_id", "show_id", "episode_guid", "listened_at"]
    assert stored == [{field: e[field] for field in fields} for e in sent]
    assert [list(line) for line in stored] == [fields] * 3
    assert not read_lines(quarantine_dir(collector.settings))


def test_single_object_body_is_one_event(collector: Collector) -> None:
    response = collector.post(event(1))
    assert response.json() == {"accepted": 1, "rejected": []}
    assert [line["event_id"] for line in read_lines(landing_dir(collector.settings))] == ["ev-1"]


def test_body_over_the_size_limit_is_413(settings: Settings) -> None:
    with running_collector(settings, max_body_bytes=2_000) as collector:
        big = [event(i) for i in range(30)]
        response = collector.post(big)  # announced by Content-Length
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"

        chunks = (json.dumps(big)[i : i + 500].encode() for i in range(0, len(json.dumps(big)), 500))
        response = collector.client.post(EVENTS, content=chunks, headers=AUTH)  # chunked, no length
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"
        assert nothing_written(collector)


def test_more_than_max_events_is_413(collector: Collector) -> None:
    response = collector.post([event(i) for i in range(MAX_EVENTS + 1)])
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"
    assert str(MAX_EVENTS) in response.json()["detail"]
    assert nothing_written(collector)


def test_max_events_is_accepted(collector: Collector) -> None:
    response = collector.post([event(i) for i in range(MAX_EVENTS)])
    assert response.json() == {"accepted": MAX_EVENTS, "rejected": []}


@pytest.mark.parametrize(
    "body, error",
    [
        (b'[{"event_id": "a"', "malformed_json"),
        (b"", "malformed_json"),
        (b"NaN", "malformed_json"),
        (b'[{"event_id": "a", "x": 1e999}]', "malformed_json"),  # infinity: no JSON could keep it
        (b'[{"event_id": "\xff"}]', "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b'"just a string"', "bad_body"),
        (b"42", "bad_body"),
    ],
)
def test_malformed_body_is_400_and_kept_whole_in_quarantine(collector: Collector, body: bytes, error: str) -> None:
    response = collector.client.post(EVENTS, content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert not read_lines(landing_dir(collector.settings))
    (record,) = read_lines(quarantine_dir(collector.settings))
    kept = base64.b64decode(record["body_base64"]) if "body_base64" in record else record["body"].encode()
    assert (record["reason"], kept) == (error, body)  # the very bytes sent (base64 when not UTF-8)


def test_mixed_batch_accepts_valid_and_quarantines_the_rest(collector: Collector) -> None:
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    sent = [
        event(0),
        {"show_id": "s", "episode_guid": "g", "listened_at": "2026-01-02T03:04:05Z"},
        event(2, show_id=""),
        event(3, episode_guid=7),
        event(4, listened_at="2026-01-02T03:04:05"),  # no offset
        event(5, listened_at=future),
        "not an object",
        event(7, listened_at="2024-12-31T23:59:59Z"),  # before PODCAST_DATA_START
        event(8, event_id="\ud800"),  # lone surrogate: not UTF-8
        event(9, listened_at="2026-01-02T10:04:05+07:00"),
    ]
    response = collector.post(sent)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == [
        {"index": 1, "event_id": None, "reason": "missing:event_id"},
        {"index": 2, "event_id": "ev-2", "reason": "empty:show_id"},
        {"index": 3, "event_id": "ev-3", "reason": "not_a_string:episode_guid"},
        {"index": 4, "event_id": "ev-4", "reason": "bad_timestamp:listened_at"},
        {"index": 5, "event_id": "ev-5", "reason": "in_future:listened_at"},
        {"index": 6, "event_id": None, "reason": "not_an_object"},
        {"index": 7, "event_id": "ev-7", "reason": "before_data_start:listened_at"},
        {"index": 8, "event_id": "\ud800", "reason": "bad_unicode"},
    ]
    assert [line["event_id"] for line in read_lines(landing_dir(collector.settings))] == ["ev-0", "ev-9"]

    quarantined = read_lines(quarantine_dir(collector.settings))
    assert [q["reason"] for q in quarantined] == [r["reason"] for r in body["rejected"]]
    assert [q["event"] for q in quarantined] == [sent[r["index"]] for r in body["rejected"]]
    for record in quarantined:
        assert set(record) == {"received_at", "reason", "event"}
        assert datetime.fromisoformat(record["received_at"]).tzinfo is not None


def test_batch_with_nothing_valid_writes_nothing_to_landing(collector: Collector) -> None:
    response = collector.post([event(1, listened_at="yesterday"), {}])
    assert response.json()["accepted"] == 0
    assert not list(landing_dir(collector.settings).iterdir())
    assert len(read_lines(quarantine_dir(collector.settings))) == 2


def test_empty_array_is_fine_and_writes_nothing(collector: Collector) -> None:
    assert collector.post([]).json() == {"accepted": 0, "rejected": []}
    assert nothing_written(collector)


def test_only_instant_providers_with_a_token_are_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, collector_tokens={"aurora": TOKEN, "boreal": "b"})
    with running_collector(settings) as collector:
        response = collector.client.post("/v1/providers/boreal/events", json=[], headers={"Authorization": "Bearer b"})
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_provider"
        assert collector.client.get(EVENTS, headers=AUTH).status_code == 405
        assert collector.client.get("/nowhere").status_code == 404


def test_storage_failure_is_503_without_paths(tmp_path: Path) -> None:
    """Each append seals its segment (1-byte segments), so the next one must open a new
    file; with the folder gone that fails. The caller learns to retry, not where we keep data."""
    settings = make_settings(tmp_path, segment_max_bytes=1)
    with running_collector(settings) as collector:
        assert collector.post([event(1)]).status_code == 200
        landing_dir(settings).rename(tmp_path / "moved-away")
        response = collector.post([event(2)])
    assert response.status_code == 503
    assert response.json() == {"error": "storage_unavailable", "detail": "events cannot be stored right now; retry later"}
    assert str(tmp_path) not in response.text
