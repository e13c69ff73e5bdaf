"""Validation of aurora listen events and their NDJSON encodings (CONTRACT.md section 3).

An accepted event is stored as exactly the four contract fields, in a fixed order, with
``listened_at`` as received; extra fields are dropped. A rejected event is stored in
quarantine as ``{"received_at", "reason", "event"}`` with the raw event; a request body
that holds no events at all (not JSON, or not an object or a list) as
``{"received_at", "reason", "body"}`` with its text, or ``"body_base64"`` when it is not
UTF-8 (so its bytes come back exactly).

Reasons are machine-readable: a code, then ``:field`` when one field is at fault:
``not_an_object``, ``missing:<field>``, ``not_a_string:<field>``, ``empty:<field>`` (or only blanks),
``bad_timestamp:listened_at`` (not RFC 3339 with an offset), ``in_future:listened_at``
(beyond :data:`MAX_FUTURE_SKEW`), ``before_data_start:listened_at`` (before the first
partition of the lakehouse), ``bad_unicode`` (a lone surrogate that UTF-8 cannot carry).

``listened_at`` must match ``YYYY-MM-DDTHH:MM:SS[.fraction]`` with an offset ``Z`` or
``±HH:MM``, upper-case ``T`` and ``Z``, at most 9 fraction digits, no leap second: the
strict subset of RFC 3339 that every downstream parser reads the same way.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

FIELDS = ("event_id", "show_id", "episode_guid", "listened_at")
ID_FIELDS = FIELDS[:3]
MAX_FUTURE_SKEW = timedelta(minutes=5)

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})")
_encode_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str | None
    reason: str
    event: Any


@dataclass(frozen=True)
class CheckedBatch:
    """Accepted events as ready-to-append NDJSON bytes, and what was rejected."""

    lines: bytes
    accepted: int
    rejected: list[Rejection]


def _problem(event: Any, earliest: datetime, latest: datetime) -> str | None:
    """The reason an event is invalid, or None."""
    if type(event) is not dict:
        return "not_an_object"
    for field in FIELDS:
        value = event.get(field)
        if type(value) is not str:
            return f"missing:{field}" if value is None else f"not_a_string:{field}"
        if not value.strip():  # (ingest strips ids: a blank one would fail the whole segment there)
            return f"empty:{field}"
    stamp = event["listened_at"]
    if not _RFC3339.fullmatch(stamp):
        return "bad_timestamp:listened_at"
    try:
        listened_at = datetime.fromisoformat(stamp)
    except ValueError:  # e.g. month 13, second 60, offset +25:00
        return "bad_timestamp:listened_at"
    if listened_at > latest:
        return "in_future:listened_at"
    if listened_at < earliest:
        return "before_data_start:listened_at"
    return None


def check_events(events: list[Any], *, now: datetime, data_start: date) -> CheckedBatch:
    """Validate a batch; accepted events come back encoded, one line each."""
    earliest = datetime.combine(data_start, time(), timezone.utc)
    latest = now + MAX_FUTURE_SKEW
    lines: list[bytes] = []
    rejected: list[Rejection] = []
    for index, event in enumerate(events):
        reason = _problem(event, earliest, latest)
        if reason is None:
            line = _encode_line({field: event[field] for field in FIELDS})
            try:
                lines.append(line.encode() + b"\n")
                continue
            except UnicodeEncodeError:
                reason = "bad_unicode"
        event_id = event.get("event_id") if type(event) is dict else None
        rejected.append(Rejection(index, event_id if type(event_id) is str else None, reason, event))
    return CheckedBatch(b"".join(lines), len(lines), rejected)


def _stamp(received_at: datetime) -> str:
    return received_at.isoformat().replace("+00:00", "Z")


def quarantine_lines(rejected: list[Rejection], received_at: datetime) -> bytes:
    """NDJSON quarantine records; ASCII-escaped, so any raw event can be written."""
    return b"".join(
        _encode_ascii({"received_at": _stamp(received_at), "reason": r.reason, "event": r.event}).encode() + b"\n"
        for r in rejected
    )


def quarantine_body(body: bytes, reason: str, received_at: datetime) -> bytes:
    """One quarantine record holding a whole request body that is no event or list of
    events: its text, or its bytes in base64 when they are not UTF-8."""
    record: dict[str, Any] = {"received_at": _stamp(received_at), "reason": reason}
    try:
        record["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        record["body_base64"] = base64.b64encode(body).decode("ascii")
    return _encode_line(record).encode() + b"\n"  # valid UTF-8 text: written as it is
