"""Validation rules of single events (no server needed)."""

from __future__ import annotations

import logging
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podcast_assets.collector.events import check_events
from podcast_assets.ingest import register_segments
from podcast_assets.providers.specs import provider
from podcast_assets.settings import Settings

NOW = datetime(2026, 10, 3, 12, 0, tzinfo=timezone.utc)


def reason(listened_at: str) -> str | None:
    event = {"event_id": "e", "show_id": "s", "episode_guid": "g", "listened_at": listened_at}
    batch = check_events([event], now=NOW, data_start=date(2025, 1, 1))
    return batch.rejected[0].reason if batch.rejected else None


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-10-03T11:34:56Z",
        "2026-10-03T12:04:59Z",  # within the 5-minute skew
        "2026-10-03T14:04:00+02:00",  # 12:04 UTC
        "2026-10-03T06:34:56-05:30",
        "2026-10-03T12:00:00.5Z",
        "2026-10-03T12:00:00.123456789-00:00",
        "2025-01-01T00:00:00Z",
    ],
)
def test_rfc3339_with_offset_is_accepted(stamp: str) -> None:
    assert reason(stamp) is None


@pytest.mark.parametrize(
    "stamp, expected",
    [
        ("2026-10-03T12:34:56", "bad_timestamp:listened_at"),  # no offset
        ("2026-10-03", "bad_timestamp:listened_at"),
        ("2026-10-03 12:34:56Z", "bad_timestamp:listened_at"),
        ("2026-10-03t12:34:56z", "bad_timestamp:listened_at"),
        ("20261003T123456Z", "bad_timestamp:listened_at"),
        ("2026-13-03T12:34:56Z", "bad_timestamp:listened_at"),
        ("2026-02-30T12:34:56Z", "bad_timestamp:listened_at"),
        ("2026-10-03T12:34:60Z", "bad_timestamp:listened_at"),
        ("2026-10-03T12:34:56+0200", "bad_timestamp:listened_at"),
        ("2026-10-03T12:34:56.1234567891Z", "bad_timestamp:listened_at"),
        ("2026-10-03T12:05:01Z", "in_future:listened_at"),
        ("2026-10-03T14:05:01+02:00", "in_future:listened_at"),
        ("2024-12-31T23:59:59Z", "before_data_start:listened_at"),
        ("2025-01-01T00:30:00+01:00", "before_data_start:listened_at"),
    ],
)
def test_bad_or_out_of_range_timestamps_are_rejected(stamp: str, expected: str) -> None:
    assert reason(stamp) == expected


def test_accepted_lines_keep_order_and_fields() -> None:
    events = [
        {"event_id": "a", "show_id": "s", "episode_guid": "g", "listened_at": "2026-10-03T12:00:00Z", "x": 1},
        {"event_id": "b"},
        {"listened_at": "2026-10-03T12:00:00Z", "episode_guid": "h", "show_id": "t", "event_id": "c"},
    ]
    batch = check_events(events, now=NOW, data_start=date(2025, 1, 1))
    assert batch.accepted == 2
    assert batch.lines == (
        b'{"event_id":"a","show_id":"s","episode_guid":"g","listened_at":"2026-10-03T12:00:00Z"}\n'
        b'{"event_id":"c","show_id":"t","episode_guid":"h","listened_at":"2026-10-03T12:00:00Z"}\n'
    )
    assert [(r.index, r.reason) for r in batch.rejected] == [(1, "missing:show_id")]


@pytest.mark.parametrize("blank", ["", " ", "\t", "\u00a0", "\u3000 "])
@pytest.mark.parametrize("field", ["event_id", "show_id", "episode_guid"])
def test_blank_ids_are_rejected(field: str, blank: str) -> None:
    """Ingest strips ids: a blank one would break the bronze schema there and quarantine
    the whole segment, acknowledged neighbours and all."""
    event = {"event_id": "e", "show_id": "s", "episode_guid": "g", "listened_at": "2026-10-03T12:00:00Z", field: blank}
    batch = check_events([event], now=NOW, data_start=date(2025, 1, 1))
    assert [r.reason for r in batch.rejected] == [f"empty:{field}"]


_ids = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(["a", " a ", "\u00a0", "\x1c", "\u2028b"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.fixed_dictionaries({"event_id": _ids, "show_id": _ids, "episode_guid": _ids}), min_size=1, max_size=4))
def test_property_every_acknowledged_event_is_taken_by_ingest(tmp_path: Path, events: list[dict[str, str]]) -> None:
    """What the collector accepts (and so acknowledges), ingest registers: a segment of
    accepted events is never quarantined for what its events hold."""
    events = [e | {"listened_at": "2026-10-03T12:00:00Z"} for e in events]
    batch = check_events(events, now=NOW, data_start=date(2025, 1, 1))
    with tempfile.TemporaryDirectory(dir=tmp_path) as root:
        settings_ = Settings(lakehouse_dir=root)
        segments = settings_.landing("aurora") / "events"
        segments.mkdir(parents=True)
        (segments / "seg-000001.ndjson").write_bytes(batch.lines)
        out = register_segments(settings_, provider("aurora"), logging.getLogger(__name__))
    assert out.failures == []
    assert sum(out.rows.get_column("rows")) == batch.accepted == len(events) - len(batch.rejected)
