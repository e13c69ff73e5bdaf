"""Configuration from environment variables: the one place that reads ``os.environ``.

Every knob has a default, so nothing needs to be set to run the demo. Paths are derived
from one root, ``PODCAST_LAKEHOUSE_DIR`` (see ``CONTRACT.md`` section 2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Mapping

PROVIDERS = ("aurora", "boreal", "cirrus", "dune", "ember")
DEFAULT_MARKET_SHARE = 0.10


def _pairs(text: str, name: str) -> dict[str, str]:
    """Parse ``a=1,b=2`` into a dict; blank text gives an empty dict."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name}: expected comma-separated key=value pairs, got {item!r}")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Settings:
    lakehouse_dir: str = "./lakehouse"
    # Where the CLI keeps Dagster's run history (Dagster's own variable, same default
    # place for `podcast-assets refresh` and `dagster dev`; see README).
    dagster_home: str = "./dagster_home"
    data_start: date = date(2025, 1, 1)
    market_shares: Mapping[str, float] = field(
        default_factory=lambda: {p: DEFAULT_MARKET_SHARE for p in PROVIDERS}
    )
    collector_tokens: Mapping[str, str] = field(default_factory=dict)
    # Collector segments are sealed when they reach this size or age.
    segment_max_bytes: int = 64 * 1024 * 1024
    segment_max_seconds: float = 60.0
    # Instant events may arrive late: a day counts as landed this many days after it ends.
    late_event_grace_days: int = 2
    # API requests a key (or an anonymous client address) may make per minute.
    api_rate_limit_per_minute: int = 600
    # The day gold statuses are computed for (what has landed "by now"); None = today, UTC.
    # Set it to replay the pipeline as of a past day.
    as_of: date | None = None

    def __post_init__(self) -> None:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", self.lakehouse_dir):
            # the contract allows one for several machines; every path here is a local one
            raise ValueError(f"PODCAST_LAKEHOUSE_DIR: object-store roots such as {self.lakehouse_dir!r} are not "
                             "supported yet; use a local directory (or a mounted bucket)")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        shares = {p: DEFAULT_MARKET_SHARE for p in PROVIDERS}
        for provider, value in _pairs(env.get("PODCAST_MARKET_SHARES", ""), "PODCAST_MARKET_SHARES").items():
            share = float(value)
            if not 0 < share <= 1:
                raise ValueError(f"PODCAST_MARKET_SHARES: share of {provider} must be in (0, 1], got {share}")
            shares[provider] = share
        defaults = cls()
        data_start = date.fromisoformat(env.get("PODCAST_DATA_START", defaults.data_start.isoformat()))
        if data_start.day != 1:  # the monthly partitions (and gold) would begin a month later
            raise ValueError(f"PODCAST_DATA_START must be the first day of a month, got {data_start}")
        return cls(
            lakehouse_dir=env.get("PODCAST_LAKEHOUSE_DIR", defaults.lakehouse_dir),
            dagster_home=env.get("DAGSTER_HOME", defaults.dagster_home),
            data_start=data_start,
            market_shares=shares,
            collector_tokens=_pairs(env.get("PODCAST_COLLECTOR_TOKENS", ""), "PODCAST_COLLECTOR_TOKENS"),
            segment_max_bytes=int(env.get("PODCAST_COLLECTOR_SEGMENT_BYTES", defaults.segment_max_bytes)),
            segment_max_seconds=float(env.get("PODCAST_COLLECTOR_SEGMENT_SECONDS", defaults.segment_max_seconds)),
            late_event_grace_days=int(env.get("PODCAST_LATE_EVENT_GRACE_DAYS", defaults.late_event_grace_days)),
            api_rate_limit_per_minute=int(env.get("PODCAST_API_RATE_LIMIT", defaults.api_rate_limit_per_minute)),
            as_of=date.fromisoformat(env["PODCAST_AS_OF"]) if env.get("PODCAST_AS_OF") else None,
        )

    def today(self) -> date:
        """``as_of``, or today's UTC date."""
        return self.as_of or datetime.now(timezone.utc).date()

    # ---- paths (CONTRACT.md section 2) -------------------------------------------------
    @cached_property
    def root(self) -> Path:
        return Path(self.lakehouse_dir).absolute()

    def landing(self, provider: str) -> Path:
        return self.root / "landing" / provider

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def delta(self, layer: str, table: str) -> str:
        return str(self.root / "delta" / layer / table)

    @property
    def serving_dir(self) -> Path:
        """DuckDB serving store and API keys (not a contract path; ours)."""
        return self.root / "serving"

    @property
    def locks(self) -> Path:
        """Lock files of the feed steps (not a contract path; ours)."""
        return self.root / "locks"


def get_settings() -> Settings:
    return Settings.from_env()
