"""One small spec per provider: how it delivers, what a row means, how it names shows.

Adding a sixth provider is a new ``ProviderSpec`` here (and a test), not new plumbing:
the reader, the bronze/silver assets and the sensors are all generated from these specs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Mapping

Cadence = Literal["instant", "daily", "monthly"]
Grain = Literal["episode", "podcast"]
Format = Literal["csv", "json", "ndjson"]
ShowKey = Literal["show_id", "feed_url", "podcast_guid"]

# Canonical bronze fields a spec can map. ``period`` is the date (``YYYY-MM-DD``) or month
# (``YYYY-MM``) a row counts for; instant providers give ``listened_at`` instead.
CANONICAL_FIELDS = (
    "event_id",
    "period",
    "listened_at",
    "show_id",
    "feed_url",
    "podcast_guid",
    "episode_guid",
    "episode_title",
    "episode_published",
    "listens",
)


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    cadence: Cadence
    grain: Grain
    format: Format
    # Regex for a delivered file name; group ``period`` is the file's own date or month.
    file_pattern: str
    # canonical field -> where it sits in a delivered record (``a.b`` for nested JSON).
    fields: Mapping[str, str]
    show_key: ShowKey
    # Folder under ``landing/<name>/`` that holds the drops ("" = the provider folder).
    subdir: str = ""
    csv_separator: str = ","
    # JSON documents: the key holding the row list, and document-level fields to broadcast.
    json_rows: str | None = None
    json_document_fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def period_grain(self) -> Literal["day", "month"]:
        return "month" if self.cadence == "monthly" else "day"

    @property
    def has_show_directory(self) -> bool:
        """Providers that name shows by their own id ship a ``shows.csv`` directory."""
        return self.show_key == "show_id"

    def match(self, file_name: str) -> re.Match[str] | None:
        return re.fullmatch(self.file_pattern, file_name)


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        name="aurora",
        cadence="instant",
        grain="episode",
        format="ndjson",
        file_pattern=r"(?P<name>.+)\.ndjson",
        subdir="events",
        fields={
            "event_id": "event_id",
            "show_id": "show_id",
            "episode_guid": "episode_guid",
            "listened_at": "listened_at",
        },
        show_key="show_id",
    ),
    ProviderSpec(
        name="boreal",
        cadence="daily",
        grain="episode",
        format="csv",
        file_pattern=r"boreal_plays_(?P<period>\d{4}-\d{2}-\d{2})\.csv(\.gz)?",
        fields={
            "period": "report_date",
            "show_id": "show_id",
            "episode_guid": "episode_guid",
            "episode_title": "episode_title",
            "listens": "plays",
        },
        show_key="show_id",
    ),
    ProviderSpec(
        name="cirrus",
        cadence="daily",
        grain="podcast",
        format="json",
        file_pattern=r"cirrus-(?P<period>\d{4}-\d{2}-\d{2})\.json",
        json_rows="rows",
        json_document_fields={"period": "date"},
        fields={"feed_url": "feed_url", "listens": "downloads"},
        show_key="feed_url",
    ),
    ProviderSpec(
        name="dune",
        cadence="monthly",
        grain="podcast",
        format="csv",
        file_pattern=r"dune_(?P<period>\d{4}-\d{2})\.csv",
        csv_separator=";",
        fields={"period": "Month", "podcast_guid": "Podcast GUID", "listens": "Listens"},
        show_key="podcast_guid",
    ),
    ProviderSpec(
        name="ember",
        cadence="monthly",
        grain="episode",
        format="ndjson",
        file_pattern=r"ember_(?P<period>\d{4}-\d{2})\.jsonl",
        fields={
            "period": "month",
            "feed_url": "podcast.feed_url",
            "episode_guid": "episode.guid",
            "episode_published": "episode.published",
            "listens": "listens",
        },
        show_key="feed_url",
    ),
)

_BY_NAME = {spec.name: spec for spec in PROVIDERS}


def provider(name: str) -> ProviderSpec:
    return _BY_NAME[name]
